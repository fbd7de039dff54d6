"""From a user's table or arrays to a suite's arrays: task kinds, feature encoding, standardisation, splits.

:class:`~taskgroup.tasks.suite.TaskSuite`'s ``from_frame`` and ``from_arrays`` use these; errors name the column
or value at fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from taskgroup.errors import InvalidSuite

__all__ = ["TaskKind", "TASK_KINDS", "SPLITS", "PREPROCESSING_KINDS"]

TaskKind = Literal["regression", "binary", "multiclass"]
TASK_KINDS: tuple[str, ...] = ("regression", "binary", "multiclass")
SPLITS: tuple[str, ...] = ("train", "val", "test")

PREPROCESSING_KINDS: tuple[str, ...] = ("none", "standardise")


def _resolve_kinds(frame: pd.DataFrame, targets: Mapping[str, str | None] | Sequence[str]) -> dict[str, str]:
    if isinstance(targets, str):
        targets = [targets]
    given = dict(targets) if isinstance(targets, Mapping) else dict.fromkeys(targets)
    kinds = {}
    for col, kind in given.items():
        if kind is None:  # inferred from the values
            if col not in frame.columns:
                raise InvalidSuite(
                    f"The table has no target column {col!r}; columns present: {list(map(str, frame.columns))}."
                )
            kind = _infer_kind(frame[col])
        kinds[str(col)] = str(kind)
    for task, kind in kinds.items():
        if kind not in TASK_KINDS:
            raise InvalidSuite(f"Target {task!r} has kind {kind!r}; accepted kinds are {list(TASK_KINDS)}.")
    if not kinds:
        raise InvalidSuite("targets is empty; name at least one target column.")
    return kinds


def _infer_kind(column: pd.Series) -> str:
    values = column.dropna().unique()
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column) and len(values) > 10:
        return "regression"
    return "binary" if len(values) <= 2 else "multiclass"


def _encode_features(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    for col in frame.columns:
        if frame[col].isna().any():
            row = int(np.flatnonzero(frame[col].isna().to_numpy())[0])
            raise InvalidSuite(f"Feature column {col!r} has a missing value (row {row}); fill or drop it.")
    numeric = [
        c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c])
    ]
    categorical = [c for c in frame.columns if c not in numeric]
    parts = [frame[numeric].astype(float)] if numeric else []
    if categorical:
        parts.append(pd.get_dummies(frame[categorical].astype(str), prefix_sep="=", dtype=float))
    encoded = pd.concat(parts, axis=1)
    # Constant columns carry no information and only cost parameters (ISLR Wage's one-level "region").
    keep = [c for c in encoded.columns if encoded[c].nunique() > 1]
    if not keep:
        raise InvalidSuite(f"Every feature column is constant: {list(map(str, frame.columns))}.")
    encoded = encoded[keep]
    return encoded.to_numpy(dtype=float), [str(c) for c in encoded.columns]


def _as_inputs(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.int64)  # token ids / categorical codes: kept as integers
    else:
        try:
            arr = np.asarray(arr, dtype=float)
        except (TypeError, ValueError) as exc:
            raise InvalidSuite(f"x must be a numeric array; converting it failed: {exc}.") from None
    if arr.ndim < 2 or 0 in arr.shape:
        raise InvalidSuite(
            f"x must have shape (rows, ...) with at least one row and one value per row; got shape "
            f"{arr.shape}. A single feature is x.reshape(-1, 1)."
        )
    return arr


def _standardise_inputs(
    x: np.ndarray, train_rows: np.ndarray, standardize: bool, columns: list[str]
) -> tuple[np.ndarray, dict[str, Any]]:
    """Scale float inputs with train-split statistics; return the inputs and the preprocessing record."""
    if x.dtype.kind == "i":
        return x, {"kind": "none"}
    if not standardize:
        return x.astype(np.float32), {"kind": "none"}
    # per column of a table; per channel (axis 1) of images and other N-D inputs
    axes = (0,) if x.ndim == 2 else tuple(a for a in range(x.ndim) if a != 1)
    mean = x[train_rows].mean(axis=axes)
    std = x[train_rows].std(axis=axes)
    std[std == 0] = 1.0  # a constant feature stays constant (0) rather than dividing by zero
    shape = (1, -1) + (1,) * (x.ndim - 2)
    scaled = ((x - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)
    record: dict[str, Any] = {"kind": "standardise", "mean": mean.tolist(), "std": std.tolist()}
    if x.ndim == 2:
        record["columns"] = columns
    else:
        record["axis"] = 1
    return scaled, record


def _is_fractions(split: Any) -> bool:
    return isinstance(split, (tuple, list)) and len(split) == 3 and all(isinstance(v, (int, float)) for v in split)


def _assign_splits(frame: pd.DataFrame, split: str | Sequence[float], seed: int) -> np.ndarray:
    if isinstance(split, str):
        return _check_assignment(frame[split].astype(str).to_numpy(), len(frame))
    if not _is_fractions(split):
        raise InvalidSuite(f"split must be a column name or three fractions (train, val, test); got {split!r}.")
    return _random_assignment(len(frame), split, seed)


def _random_assignment(n: int, fractions: Sequence[float], seed: int) -> np.ndarray:
    fr = np.asarray(fractions, dtype=float)
    if np.any(fr <= 0) or abs(fr.sum() - 1.0) > 1e-6:
        raise InvalidSuite(f"split fractions must be > 0 and sum to 1; got {list(fractions)}.")
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fr[0] * n))
    n_val = int(round(fr[1] * n))
    assignment = np.empty(n, dtype=object)
    assignment[order[:n_train]] = "train"
    assignment[order[n_train : n_train + n_val]] = "val"
    assignment[order[n_train + n_val :]] = "test"
    return _check_assignment(assignment, n)


def _check_assignment(assignment: np.ndarray, n: int) -> np.ndarray:
    if assignment.shape != (n,):
        raise InvalidSuite(f"The split assignment has shape {assignment.shape}; expected ({n},), one per row.")
    assignment = assignment.astype(str)
    unknown = sorted(set(assignment) - set(SPLITS))
    if unknown:
        raise InvalidSuite(f"The split column holds {unknown}; accepted values are {list(SPLITS)}.")
    for key in SPLITS:
        if not np.any(assignment == key):
            raise InvalidSuite(f"The {key!r} split is empty; every split needs at least one row ({n} rows in all).")
    return assignment


def _is_missing(raw: np.ndarray) -> np.ndarray:
    return pd.isna(pd.Series(raw, dtype=object)).to_numpy()
