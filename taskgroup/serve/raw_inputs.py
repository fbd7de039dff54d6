"""Reading raw inputs for a manifest's networks: a CSV table, a .npy array, a DataFrame or an array.

Nothing is filled, dropped or reordered silently: a table must have exactly the manifest's feature columns (any
order; they are put in the manifest's order), numbers in every cell and no missing value (a suite never has
missing inputs); a categorical column ``c`` that the suite one-hot encoded as ``c=value`` columns may be given
as itself (its values must be categories the suite had). An array must have the shape ``(n, *input_shape)``.
Anything else is one :class:`~taskgroup.errors.InvalidArgument` naming the column, the row or the shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument
from taskgroup.files import input_file, read_csv_table
from taskgroup.manifest import required_fields

__all__ = ["INPUT_SUFFIXES", "read_raw_inputs", "frame_inputs", "array_inputs"]

INPUT_SUFFIXES: tuple[str, ...] = (".csv", ".npy")


def read_raw_inputs(source: Any, manifest: Mapping[str, Any]) -> np.ndarray:
    """Raw inputs (before preprocessing) from a file path, a DataFrame or an array, checked against the manifest.

    Parameters
    ----------
    source : path (.csv or .npy), pandas.DataFrame or array-like
    manifest : dict
        From :func:`taskgroup.train.read_manifest`.

    Returns
    -------
    numpy array of shape (n, *input_shape)

    Raises
    ------
    InvalidArgument
        An unknown file type, missing or extra columns, a non-numeric or missing value, a wrong shape or dtype.
    """
    if isinstance(source, (str, PathLike)):
        path = input_file(source, "input file")
        suffix = Path(path).suffix.lower()
        if suffix == ".csv":
            return frame_inputs(read_csv_table(path, "input table", error=InvalidArgument), manifest, "input table")
        if suffix == ".npy":
            try:
                array = np.load(path, allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise InvalidArgument(f"Could not read {str(source)!r} as a .npy array: {exc}") from None
            return array_inputs(array, manifest)
        raise InvalidArgument(f"Input file {str(source)!r} has suffix {suffix!r}; accepted: {list(INPUT_SUFFIXES)}.")
    if isinstance(source, pd.DataFrame):
        return frame_inputs(source, manifest)
    return array_inputs(np.asarray(source), manifest)


def frame_inputs(frame: pd.DataFrame, manifest: Mapping[str, Any], what: str = "input table") -> np.ndarray:
    """A table's feature columns as a float array in the manifest's column order, every cell checked.

    A raw categorical column ``c`` may stand in for the suite's one-hot ``c=value`` columns; it is encoded the
    same way.

    Parameters
    ----------
    frame : pandas.DataFrame
        The raw input table.
    manifest : mapping
        The manifest (its ``feature_names``, or its ``input_shape`` for the message when it has none).
    what : str, default "input table"
        What the table is, for messages.

    Returns
    -------
    numpy.ndarray
        Shape (n, n_features), float, raw (before the manifest's preprocessing).

    Raises
    ------
    InvalidArgument
        The networks do not take a table; a missing or extra column; no rows; a value that is not a number, or
        missing or infinite; a category the suite never had.
    """
    columns = list(manifest.get("feature_names", []))
    if not columns:
        shape = ", ".join(map(str, required_fields(manifest, "input_shape")[0]))
        raise InvalidArgument(
            f"These networks take inputs of shape (n, {shape}), not a table of named columns; pass "
            f"an array (a .npy file) of that shape."
        )
    frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
    frame = _one_hot(frame, columns, what)
    present = list(frame.columns)
    missing = [c for c in columns if c not in present]
    if missing:
        raise InvalidArgument(
            f"The {what} has no column(s) {missing}; the networks take exactly the columns {columns}"
            f"{_categorical_hint(columns)}."
        )
    extra = [c for c in present if c not in columns]
    if extra:
        raise InvalidArgument(
            f"The {what} has column(s) {extra} the networks do not take; they take exactly the "
            f"columns {columns}{_categorical_hint(columns)} (drop the others)."
        )
    if len(frame) == 0:
        raise InvalidArgument(f"The {what} has no data rows; there is nothing to predict.")
    for column in columns:
        values = frame[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            # a column with something that is not a number (a CSV column with one word in it arrives as text)
            numbers = pd.to_numeric(values, errors="coerce")
            bad = np.flatnonzero(numbers.isna().to_numpy() & values.notna().to_numpy())
            if len(bad):
                row = int(bad[0])
                raise InvalidArgument(
                    f"Column {column!r} of the {what} holds {values.iloc[row]!r} (data row "
                    f"{row + 1}); the networks take numbers in every column."
                )
            values = numbers
        missing_rows = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan)))
        if len(missing_rows):
            row = int(missing_rows[0])
            raise InvalidArgument(
                f"Column {column!r} of the {what} has a missing or infinite value (data row {row + 1}); the suite had "
                f"none and nothing is filled: fill or drop it."
            )
    return np.column_stack([pd.to_numeric(frame[c]).to_numpy(dtype=float) for c in columns])


def _categories(columns: Sequence[str]) -> dict[str, dict[str, str]]:
    """Raw categorical column -> {category: encoded column}, from the suite's ``c=value`` one-hot names."""
    groups: dict[str, dict[str, str]] = {}
    for name in columns:
        base, sep, level = name.partition("=")
        if sep and base not in columns:
            groups.setdefault(base, {})[level] = name
    return groups


def _categorical_hint(columns: Sequence[str]) -> str:
    groups = _categories(columns)
    return f", or the categorical column(s) {sorted(groups)} in place of their c=value columns" if groups else ""


def _one_hot(frame: pd.DataFrame, columns: Sequence[str], what: str) -> pd.DataFrame:
    """Raw categorical columns (``c``) replaced by the suite's one-hot columns (``c=value``: 1 or 0).

    The suite encoded a non-numeric column ``c`` as one ``c=value`` column per value it held (``str(value)``), so a
    table may give ``c`` itself; a value the suite never held is an error naming it and the known ones.
    """
    for base, levels in _categories(columns).items():
        if base not in frame.columns or any(name in frame.columns for name in levels.values()):
            continue
        values = frame[base]
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise InvalidArgument(
                f"Categorical column {base!r} of the {what} has a missing value (data row {row + 1}); "
                "the suite had none and nothing is filled: fill or drop it."
            )
        text = values.astype(str)
        unknown = np.flatnonzero(~text.isin(list(levels)).to_numpy())
        if len(unknown):
            row = int(unknown[0])
            raise InvalidArgument(
                f"Categorical column {base!r} of the {what} holds {text.iloc[row]!r} (data row "
                f"{row + 1}), a category the suite never had; known: {sorted(levels)}."
            )
        encoded = pd.DataFrame(
            {name: (text == level).astype(float) for level, name in levels.items()}, index=frame.index
        )
        frame = pd.concat([frame.drop(columns=[base]), encoded], axis=1)
    return frame


def array_inputs(array: np.ndarray, manifest: Mapping[str, Any]) -> np.ndarray:
    """A raw input array, if its shape is ``(n, *input_shape)``, its dtype numeric and its values finite.

    Parameters
    ----------
    array : numpy.ndarray
        Raw inputs.
    manifest : mapping
        The manifest (its ``input_shape`` and ``input_dtype``).

    Returns
    -------
    numpy.ndarray
        ``array`` itself.

    Raises
    ------
    InvalidArgument
        Another shape, no rows, a non-numeric dtype (or a float array for networks that take integers), or a NaN
        or infinite value.
    ManifestError
        The manifest lacks ``input_shape`` or ``input_dtype``.
    """
    shape, dtype = required_fields(manifest, "input_shape", "input_dtype")
    shape = tuple(shape)
    expected = f"(n, {', '.join(map(str, shape))})"
    if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != shape:
        raise InvalidArgument(
            f"The input array has shape {tuple(array.shape)}; the networks take shape {expected}, one example per row."
        )
    if len(array) == 0:
        raise InvalidArgument("The input array has no rows; there is nothing to predict.")
    integer_inputs = np.dtype(dtype).kind in "iu"
    if integer_inputs and array.dtype.kind not in "iu":
        raise InvalidArgument(
            f"The input array has dtype {array.dtype}; the networks take integer inputs ({dtype}, e.g. token ids)."
        )
    if array.dtype.kind not in "iufb":
        raise InvalidArgument(f"The input array has dtype {array.dtype}; the networks take numbers.")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise InvalidArgument(
            f"The input array has a NaN or infinite value at row {bad[0]}, position {tuple(int(i) for i in bad[1:])}; "
            "the suite had none and nothing is filled."
        )
    return array
