"""Typed reading of the JSON/dict forms (problem, plan, manifest): every field is checked, none is guessed.

JSON has types; a field of the wrong type is an error that names the field, the value and what is accepted,
never a silent conversion (``"false"`` is not ``False``, ``3`` is not ``{"weight": 3}``). One reader serves
every format so that the messages read the same everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from taskgroup.errors import TaskgroupError

__all__ = ["Fields"]

_MISSING = object()


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


class Fields:
    """Read the fields of one mapping, raising ``error`` with the field's path on any mismatch.

    Parameters
    ----------
    data : Any
        The value that should be a mapping.
    document : str
        What is being read, for messages ("problem", "plan", "manifest").
    error : type
        The taskgroup exception class to raise.
    allowed : collection of str, optional
        The accepted keys; any other key is an error (a typo such as ``higher_is_beter`` must not pass).
    where : str
        The mapping's path inside the document (``"networks[3]"``); empty for the document itself.
    """

    def __init__(self, data: Any, document: str, error: type[TaskgroupError], allowed: Any = None, where: str = ""):
        self.document = document
        self.where = where
        self.error = error
        if not isinstance(data, Mapping):
            self.fail(f"{self._name()} must be a JSON object (mapping); got {_describe(data)}.")
        self.data = data
        if allowed is not None:
            unknown = [k for k in data if k not in allowed]
            if unknown:
                self.fail(f"{self._name()} has unknown field(s) {unknown}; accepted fields: {sorted(allowed)}.")

    def _name(self, path: str | None = None) -> str:
        path = self.where if path is None else path
        return f"In the {self.document}, {path}" if path else f"The {self.document}"

    def fail(self, message: str) -> None:
        raise self.error(message)

    def path(self, key: Any) -> str:
        key = str(key)
        step = f".{key}" if key.isidentifier() else f"[{key!r}]"
        return (self.where + step).lstrip(".")

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            self.fail(f"{self._name()} has no field {key!r}; fields present: {sorted(map(str, self.data))}.")
        return default

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        return self._get(key, default)

    def string(self, key: str, default: Any = _MISSING) -> str:
        value = self._get(key, default)
        if value is not default and not isinstance(value, str):
            self.fail(f"{self._name(self.path(key))} must be a string; got {_describe(value)}.")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if value is not default and not isinstance(value, bool):
            self.fail(f"{self._name(self.path(key))} must be true or false (a JSON boolean); got {_describe(value)}.")
        return value

    def integer(self, key: str, default: Any = _MISSING) -> int:
        value = self._get(key, default)
        if value is not default and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(f"{self._name(self.path(key))} must be an integer; got {_describe(value)}.")
        return value

    def number(self, key: str, default: Any = _MISSING, *, finite: bool = True, allow_null: bool = False) -> Any:
        value = self._get(key, default)
        if value is default or (allow_null and value is None):
            return value
        return self.as_number(value, self.path(key), finite=finite)

    def as_number(self, value: Any, path: str, *, finite: bool = True) -> float:
        """``value`` as a float, if it is a JSON number (not a string, not a boolean)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"{self._name(path)} must be a number; got {_describe(value)}.")
        value = float(value)
        if finite and not math.isfinite(value):
            self.fail(f"{self._name(path)} must be a finite number; got {value!r}.")
        return value

    def mapping(self, key: str, default: Any = _MISSING) -> Mapping[str, Any]:
        value = self._get(key, default)
        if value is not default and not isinstance(value, Mapping):
            self.fail(f"{self._name(self.path(key))} must be a JSON object (mapping); got {_describe(value)}.")
        return value

    def sequence(self, key: str, default: Any = _MISSING) -> list[Any]:
        value = self._get(key, default)
        if value is not default and not isinstance(value, list):
            self.fail(f"{self._name(self.path(key))} must be a JSON array (list); got {_describe(value)}.")
        return value

    def strings(self, key: str, default: Any = _MISSING) -> list[str]:
        values = self.sequence(key, default)
        if values is default:
            return values
        for i, v in enumerate(values):
            if not isinstance(v, str):
                self.fail(f"{self._name(self.path(key))}[{i}] must be a string; got {_describe(v)}.")
        return list(values)

    def number_map(self, key: str, default: Any = _MISSING, *, finite: bool = True) -> dict[str, float]:
        """A mapping name -> number, every value checked."""
        values = self.mapping(key, default)
        if values is default:
            return values
        return {str(k): self.as_number(v, f"{self.path(key)}[{k!r}]", finite=finite) for k, v in values.items()}

    def string_map(self, key: str, default: Any = _MISSING) -> dict[str, str]:
        values = self.mapping(key, default)
        if values is default:
            return values
        for k, v in values.items():
            if not isinstance(v, str):
                self.fail(f"{self._name(self.path(key))}[{k!r}] must be a string; got {_describe(v)}.")
        return dict(values)

    def child(self, key: str, allowed: Any = None) -> Fields:
        return Fields(self._get(key, _MISSING), self.document, self.error, allowed, self.path(key))

    def item(self, key: str, index: int, allowed: Any = None) -> Fields:
        return Fields(self.sequence(key)[index], self.document, self.error, allowed, f"{self.path(key)}[{index}]")
