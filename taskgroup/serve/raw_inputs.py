"""Reading raw inputs for a manifest's networks: a CSV table, a .npy array, a DataFrame or an array.

Nothing is filled, dropped, reordered silently or cast from text: a table must have exactly the manifest's
feature columns (any order; they are put in the manifest's order), numbers in every cell and no missing value
(a suite never has missing inputs); an array must have the shape ``(n, *input_shape)``. Anything else is one
:class:`~taskgroup.errors.InvalidArgument` naming the column, the row or the shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument
from taskgroup.files import input_file, read_csv_table

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
    """A table's feature columns as a float array in the manifest's column order, every cell checked."""
    columns = list(manifest.get("feature_names", []))
    if not columns:
        shape = ", ".join(map(str, manifest["input_shape"]))
        raise InvalidArgument(f"These networks take inputs of shape (n, {shape}), not a table of named columns; pass "
                              f"an array (a .npy file) of that shape.")
    present = [str(c) for c in frame.columns]
    missing = [c for c in columns if c not in present]
    if missing:
        raise InvalidArgument(f"The {what} has no column(s) {missing}; the networks take exactly the columns {columns}.")
    extra = [c for c in present if c not in columns]
    if extra:
        raise InvalidArgument(f"The {what} has column(s) {extra} the networks do not take; they take exactly the "
                              f"columns {columns} (drop the others).")
    if len(frame) == 0:
        raise InvalidArgument(f"The {what} has no data rows; there is nothing to predict.")
    frame = frame.set_axis(present, axis=1)
    for column in columns:
        values = frame[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            # a column with something that is not a number (a CSV column with one word in it arrives as text)
            numbers = pd.to_numeric(values, errors="coerce")
            bad = np.flatnonzero(numbers.isna().to_numpy() & values.notna().to_numpy())
            if len(bad):
                row = int(bad[0])
                raise InvalidArgument(f"Column {column!r} of the {what} holds {values.iloc[row]!r} (data row "
                                      f"{row + 1}); the networks take numbers in every column.")
            values = numbers
        missing_rows = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan)))
        if len(missing_rows):
            row = int(missing_rows[0])
            raise InvalidArgument(
                f"Column {column!r} of the {what} has a missing or infinite value (data row {row + 1}); the suite had "
                f"none and nothing is filled: fill or drop it."
            )
    return np.column_stack([pd.to_numeric(frame[c]).to_numpy(dtype=float) for c in columns])


def array_inputs(array: np.ndarray, manifest: Mapping[str, Any]) -> np.ndarray:
    """A raw input array, if its shape is ``(n, *input_shape)``, its dtype numeric and its values finite."""
    shape = tuple(manifest["input_shape"])
    expected = f"(n, {', '.join(map(str, shape))})"
    if array.ndim != len(shape) + 1 or tuple(array.shape[1:]) != shape:
        raise InvalidArgument(f"The input array has shape {tuple(array.shape)}; the networks take shape {expected}, "
                              "one example per row.")
    if len(array) == 0:
        raise InvalidArgument("The input array has no rows; there is nothing to predict.")
    integer_inputs = np.dtype(manifest["input_dtype"]).kind in "iu"
    if integer_inputs and array.dtype.kind not in "iu":
        raise InvalidArgument(f"The input array has dtype {array.dtype}; the networks take integer inputs "
                              f"({manifest['input_dtype']}, e.g. token ids).")
    if array.dtype.kind not in "iufb":
        raise InvalidArgument(f"The input array has dtype {array.dtype}; the networks take numbers.")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise InvalidArgument(
            f"The input array has a NaN or infinite value at row {bad[0]}, position {tuple(int(i) for i in bad[1:])}; "
            "the suite had none and nothing is filled."
        )
    return array
