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
        """Raise the reader's ``error`` with ``message``.

        Parameters
        ----------
        message : str
            The whole message.

        Raises
        ------
        TaskgroupError
            Always: of the class ``error``.
        """
        raise self.error(message)

    def path(self, key: Any) -> str:
        """The path of field ``key`` of this mapping inside the document, for messages.

        Parameters
        ----------
        key : object
            The field's key (taken as its ``str``).

        Returns
        -------
        str
            ``where.key`` for an identifier, ``where['key']`` otherwise (``networks[3].name``).
        """
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
        """Whether the mapping has the field ``key``.

        Parameters
        ----------
        key : str

        Returns
        -------
        bool
        """
        return key in self.data

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        """The field's value as it is, unchecked.

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.

        Returns
        -------
        object

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given.
        """
        return self._get(key, default)

    def string(self, key: str, default: Any = _MISSING) -> str:
        """The field's value, which must be a string.

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.

        Returns
        -------
        str

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given, or its value
            is not a string.
        """
        value = self._get(key, default)
        if value is not default and not isinstance(value, str):
            self.fail(f"{self._name(self.path(key))} must be a string; got {_describe(value)}.")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        """The field's value, which must be a JSON boolean (not ``"false"``, not 0).

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.

        Returns
        -------
        bool

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given, or its value
            is not a boolean.
        """
        value = self._get(key, default)
        if value is not default and not isinstance(value, bool):
            self.fail(f"{self._name(self.path(key))} must be true or false (a JSON boolean); got {_describe(value)}.")
        return value

    def integer(self, key: str, default: Any = _MISSING) -> int:
        """The field's value, which must be an integer (a boolean is not one).

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.

        Returns
        -------
        int

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given, or its value
            is not an integer.
        """
        value = self._get(key, default)
        if value is not default and (isinstance(value, bool) or not isinstance(value, int)):
            self.fail(f"{self._name(self.path(key))} must be an integer; got {_describe(value)}.")
        return value

    def number(self, key: str, default: Any = _MISSING, *, finite: bool = True, allow_null: bool = False) -> Any:
        """The field's value as a float, which must be a JSON number (see :meth:`as_number`).

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.
        finite : bool, default True
            Refuse NaN and infinities.
        allow_null : bool, default False
            Accept ``null`` (returned as None).

        Returns
        -------
        float or None

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given, or its value
            is not a (finite) number.
        """
        value = self._get(key, default)
        if value is default or (allow_null and value is None):
            return value
        return self.as_number(value, self.path(key), finite=finite)

    def as_number(self, value: Any, path: str, *, finite: bool = True) -> float:
        """``value`` as a float, if it is a JSON number (not a string, not a boolean).

        Parameters
        ----------
        value : object
            The value read.
        path : str
            Its path in the document, for the message.
        finite : bool, default True
            Refuse NaN and infinities.

        Returns
        -------
        float

        Raises
        ------
        TaskgroupError
            Of the class ``error``: not a number, or (with ``finite``) not finite.
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"{self._name(path)} must be a number; got {_describe(value)}.")
        value = float(value)
        if finite and not math.isfinite(value):
            self.fail(f"{self._name(path)} must be a finite number; got {value!r}.")
        return value

    def mapping(self, key: str, default: Any = _MISSING) -> Mapping[str, Any]:
        """The field's value, which must be a JSON object.

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.

        Returns
        -------
        Mapping

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given, or its value
            is not a mapping.
        """
        value = self._get(key, default)
        if value is not default and not isinstance(value, Mapping):
            self.fail(f"{self._name(self.path(key))} must be a JSON object (mapping); got {_describe(value)}.")
        return value

    def sequence(self, key: str, default: Any = _MISSING) -> list[Any]:
        """The field's value, which must be a JSON array (a list; its items are not checked).

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.

        Returns
        -------
        list

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given, or its value
            is not a list.
        """
        value = self._get(key, default)
        if value is not default and not isinstance(value, list):
            self.fail(f"{self._name(self.path(key))} must be a JSON array (list); got {_describe(value)}.")
        return value

    def strings(self, key: str, default: Any = _MISSING) -> list[str]:
        """The field's value, which must be a list of strings.

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.

        Returns
        -------
        list of str
            A copy.

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given, its value is
            not a list, or an item is not a string.
        """
        values = self.sequence(key, default)
        if values is default:
            return values
        for i, v in enumerate(values):
            if not isinstance(v, str):
                self.fail(f"{self._name(self.path(key))}[{i}] must be a string; got {_describe(v)}.")
        return list(values)

    def number_map(self, key: str, default: Any = _MISSING, *, finite: bool = True) -> dict[str, float]:
        """A mapping name -> number, every value checked.

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.
        finite : bool, default True
            Refuse NaN and infinities.

        Returns
        -------
        dict of str to float

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given, its value is
            not a mapping, or a value is not a (finite) number.
        """
        values = self.mapping(key, default)
        if values is default:
            return values
        return {str(k): self.as_number(v, f"{self.path(key)}[{k!r}]", finite=finite) for k, v in values.items()}

    def string_map(self, key: str, default: Any = _MISSING) -> dict[str, str]:
        """A mapping name -> string, every value checked.

        Parameters
        ----------
        key : str
            The field's name.
        default : object, optional
            Returned as it is when the field is absent (it is not checked); without it an absent field is an
            error.

        Returns
        -------
        dict of str to str
            A copy.

        Raises
        ------
        TaskgroupError
            Of the class ``error``, naming the field's path: the field is absent and no default is given, its value is
            not a mapping, or a value is not a string.
        """
        values = self.mapping(key, default)
        if values is default:
            return values
        for k, v in values.items():
            if not isinstance(v, str):
                self.fail(f"{self._name(self.path(key))}[{k!r}] must be a string; got {_describe(v)}.")
        return dict(values)

    def child(self, key: str, allowed: Any = None) -> Fields:
        """A reader of the nested mapping in field ``key`` (messages name its path).

        Parameters
        ----------
        key : str
            The field's name; it must be present.
        allowed : collection of str, optional
            The nested mapping's accepted keys.

        Returns
        -------
        Fields

        Raises
        ------
        TaskgroupError
            Of the class ``error``: the field is absent, not a mapping, or has a key not in ``allowed``.
        """
        return Fields(self._get(key, _MISSING), self.document, self.error, allowed, self.path(key))

    def item(self, key: str, index: int, allowed: Any = None) -> Fields:
        """A reader of item ``index`` of the list in field ``key``, which must be a mapping.

        Parameters
        ----------
        key : str
            The list field's name; it must be present.
        index : int
            The item's position (the caller keeps it in range).
        allowed : collection of str, optional
            The item's accepted keys.

        Returns
        -------
        Fields

        Raises
        ------
        TaskgroupError
            Of the class ``error``: the field is absent or not a list, or the item is not a mapping or has a key
            not in ``allowed``.
        """
        return Fields(self.sequence(key)[index], self.document, self.error, allowed, f"{self.path(key)}[{index}]")
