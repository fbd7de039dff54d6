"""Task suites: one input table, several prediction tasks on it, and train/val/test splits.

A :class:`TaskSuite` is what the measurement runner trains candidate networks on, and what the downstream
trainer (``taskgroup.train``) and the affinity estimators (``taskgroup.estimate``) read. It holds

- ``suite.tasks``: a tuple of :class:`TaskSpec` (name, kind, number of classes, loss, metric);
- ``suite.splits``: ``{"train": Split, "val": Split, "test": Split}``, each a :class:`Split` of three tensors
  ``x`` (n, ...) of any shape (a feature table (n, n_features), images (n, C, H, W), token ids (n, L)),
  ``y`` (n, n_tasks) float32 and ``mask`` (n, n_tasks) bool;
- ``suite.preprocessing``: how raw inputs were turned into ``x`` (the standardisation statistics), which the
  deployment manifest carries so raw inputs can be served from the manifest alone.

Column ``t`` of ``y`` is task ``t``'s target: a standardised value for a regression task, the class index
(0..K-1, stored as a float) for a binary or multiclass task. ``mask[i, t]`` is False where row ``i`` has no
label for task ``t``; such entries hold 0 in ``y`` and are left out of the task's loss and metric, so a row
missing one label still trains the other tasks (masked, not dropped).

Losses live in :mod:`taskgroup.tasks.losses` and metrics in :mod:`taskgroup.tasks.metrics`, each written once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from taskgroup.errors import InvalidArgument, InvalidSuite
from taskgroup.tasks.tables import (
    PREPROCESSING_KINDS,
    SPLITS,
    TASK_KINDS,
    _as_inputs,
    _assign_splits,
    _check_assignment,
    _encode_features,
    _is_fractions,
    _is_missing,
    _random_assignment,
    _resolve_kinds,
    _standardise_inputs,
)

__all__ = ["TaskSpec", "Split", "TaskSuite", "apply_preprocessing"]


@dataclass(frozen=True)
class TaskSpec:
    """One prediction task.

    Parameters
    ----------
    name : str
        Unique name within the suite.
    kind : {"regression", "binary", "multiclass"}
        Regression uses mean squared error on the standardised target (so losses of different regression
        tasks are in the same units) and reports R^2; binary uses cross-entropy on one logit; multiclass uses
        cross-entropy on ``n_classes`` logits. Both classification kinds report accuracy.
    n_classes : int
        1 for regression, 2 for binary, K >= 3 for multiclass.
    classes : tuple
        The original label of each class index (empty for regression).
    target_mean, target_std : float
        For regression, the train-split mean and standard deviation used to standardise the target
        (``y = (raw - mean) / std``); 0 and 1 otherwise.
    """

    name: str
    kind: str
    n_classes: int = 1
    classes: tuple = ()
    target_mean: float = 0.0
    target_std: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise InvalidSuite(f"Task {self.name!r} has kind {self.kind!r}; accepted kinds are {list(TASK_KINDS)}.")
        expected = {"regression": self.n_classes == 1, "binary": self.n_classes == 2, "multiclass": self.n_classes >= 3}
        if not expected[self.kind]:
            raise InvalidSuite(
                f"Task {self.name!r} of kind {self.kind!r} cannot have n_classes={self.n_classes} "
                "(regression: 1, binary: 2, multiclass: 3 or more)."
            )

    @property
    def out_dim(self) -> int:
        """Width of the task's output layer: 1 for regression and binary, K for multiclass."""
        return self.n_classes if self.kind == "multiclass" else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "n_classes": self.n_classes,
            "classes": [str(c) for c in self.classes],
            "target_mean": self.target_mean,
            "target_std": self.target_std,
        }


def apply_preprocessing(record: Mapping[str, Any], raw: Any) -> np.ndarray:
    """Turn raw inputs into model inputs with a suite's (or a manifest's) ``preprocessing`` record.

    ``{"kind": "none"}`` returns the inputs unchanged; ``{"kind": "standardise", "mean", "std"}`` returns
    ``(raw - mean) / std`` per column of a table (``"columns"`` names them), or per entry of axis 1 when the
    record has ``"axis": 1`` (image channels).

    Raises
    ------
    InvalidArgument
        An unknown kind, or inputs whose columns (channels) do not match the statistics.
    """
    kind = record.get("kind") if isinstance(record, Mapping) else None
    if kind not in PREPROCESSING_KINDS:
        raise InvalidArgument(f"Unknown preprocessing {record!r}; accepted kinds: {list(PREPROCESSING_KINDS)}.")
    x = np.asarray(raw)
    if kind == "none":
        return x
    mean, std = np.asarray(record["mean"], dtype=float), np.asarray(record["std"], dtype=float)
    if x.ndim < 2 or x.shape[1] != len(mean):
        raise InvalidArgument(
            f"Raw inputs of shape {x.shape} do not match the preprocessing statistics "
            f"({len(mean)} values along axis 1)."
        )
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return ((x.astype(float) - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)


@dataclass(frozen=True)
class Split:
    """One split of a suite: inputs, targets and label masks.

    Attributes
    ----------
    x : Tensor of shape (n, ...), or a ``torch.utils.data.Dataset``
        Model inputs, one row per example, any trailing shape: a float feature table (n, n_features)
        standardised with the train split's statistics, images (n, C, H, W), integer token ids (n, L). For data
        that does not fit in memory, a map-style ``Dataset`` whose item ``i`` is example ``i``'s input tensor:
        batches are then read from it one at a time (:meth:`inputs`).
    y : Tensor, float32, shape (n, n_tasks)
        Targets, one column per task in ``suite.tasks`` order (class indices for classification tasks).
    mask : Tensor, bool, shape (n, n_tasks)
        True where the row has a label for the task.
    """

    x: Any
    y: torch.Tensor
    mask: torch.Tensor

    def __len__(self) -> int:
        return int(self.x.shape[0]) if self.in_memory else len(self.x)

    @property
    def in_memory(self) -> bool:
        """Whether the inputs are one tensor (rather than a Dataset read per batch)."""
        return isinstance(self.x, torch.Tensor)

    def inputs(self, rows: Any) -> torch.Tensor:
        """The inputs of ``rows`` (an index tensor, array or slice) as one batch tensor."""
        if self.in_memory:
            return self.x[rows]
        index = range(len(self))[rows] if isinstance(rows, slice) else [int(i) for i in rows]
        return torch.stack([torch.as_tensor(self.x[i]) for i in index])

    @property
    def example_shape(self) -> tuple[int, ...]:
        """Shape of one example's input."""
        return tuple(int(d) for d in self.inputs(slice(0, 1)).shape[1:])

    def select_tasks(self, columns: Sequence[int]) -> Split:
        index = torch.as_tensor(list(columns), dtype=torch.long)
        return Split(self.x, self.y[:, index].contiguous(), self.mask[:, index].contiguous())


@dataclass(frozen=True)
class TaskSuite:
    """Inputs with train/val/test splits and a set of tasks on them.

    Build one with :meth:`from_frame` or :meth:`from_arrays`, or load a built-in one with
    ``taskgroup.datasets.load_suite(name)``.

    Attributes
    ----------
    name : str
    tasks : tuple of TaskSpec
    splits : dict str -> Split
        Keys ``"train"``, ``"val"``, ``"test"``.
    feature_names : tuple of str
        Column names of a 2-D feature table; empty for other input shapes.
    params : dict
        The parameters the suite was built with (for built-in suites: the generator's arguments), kept in the
        fingerprint so results of differently built suites never mix in a results store.
    preprocessing : dict
        How raw inputs become ``x`` (see :data:`PREPROCESSING_KINDS`): ``{"kind": "none"}`` or
        ``{"kind": "standardise", "mean": [...], "std": [...], "columns": [...]}`` (per column of a table) or
        ``{"kind": "standardise", "axis": 1, "mean": [...], "std": [...]}`` (per channel of images).
        ``x = (raw - mean) / std``; written into the deployment manifest.
    """

    name: str
    tasks: tuple[TaskSpec, ...]
    splits: dict[str, Split]
    feature_names: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=lambda: {"kind": "none"})

    def __post_init__(self) -> None:
        names = [t.name for t in self.tasks]
        if not names:
            raise InvalidSuite(f"Suite {self.name!r} has no tasks; a suite needs at least one.")
        if len(set(names)) != len(names):
            raise InvalidSuite(f"Suite {self.name!r} repeats task names: {names}.")
        if set(self.splits) != set(SPLITS):
            raise InvalidSuite(f"Suite {self.name!r} must have splits {list(SPLITS)}; got {sorted(self.splits)}.")
        for split_name, split in self.splits.items():
            if len(split) == 0:
                raise InvalidSuite(f"Split {split_name!r} of suite {self.name!r} is empty; every split needs rows.")
        shapes = {s.example_shape for s in self.splits.values()}
        if len(shapes) != 1:
            raise InvalidSuite(
                f"Suite {self.name!r}: the splits' inputs differ in shape per example: {sorted(shapes)}."
            )
        for split_name, split in self.splits.items():
            if self.feature_names and split.example_shape != (len(self.feature_names),):
                raise InvalidSuite(
                    f"Split {split_name!r} has inputs of shape {split.example_shape} but the suite names "
                    f"{len(self.feature_names)} features."
                )
            if split.y.shape != (len(split), len(names)) or split.mask.shape != split.y.shape:
                raise InvalidSuite(
                    f"Split {split_name!r}: y and mask must have shape {(len(split), len(names))}; "
                    f"got {tuple(split.y.shape)} and {tuple(split.mask.shape)}."
                )

    # -- access -------------------------------------------------------------------------------------
    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example's input (``x.shape[1:]``)."""
        return self.train.example_shape

    @property
    def n_features(self) -> int:
        """Width of a 2-D feature table (the number of input values per example for other shapes)."""
        return int(np.prod(self.input_shape)) if self.input_shape else 1

    def example_batch(self, size: int = 2) -> torch.Tensor:
        """The first ``size`` training inputs: what a model factory sees to size its layers."""
        return self.train.inputs(slice(0, size))

    @property
    def train(self) -> Split:
        return self.splits["train"]

    @property
    def val(self) -> Split:
        return self.splits["val"]

    @property
    def test(self) -> Split:
        return self.splits["test"]

    def split(self, name: str) -> Split:
        if name not in self.splits:
            raise InvalidArgument(f"Unknown split {name!r}; accepted: {list(SPLITS)}.")
        return self.splits[name]

    def task(self, name: str) -> TaskSpec:
        return self.tasks[self.task_index(name)]

    def task_index(self, name: str) -> int:
        try:
            return self.task_names.index(name)
        except ValueError:
            raise InvalidArgument(
                f"Suite {self.name!r} has no task {name!r}; its tasks are {list(self.task_names)}."
            ) from None

    def subset(self, tasks: Sequence[str]) -> TaskSuite:
        """The same data with only the named tasks, in the order given."""
        tasks = list(tasks)
        if not tasks:
            raise InvalidArgument(
                f"subset needs at least one task name; suite {self.name!r} has {list(self.task_names)}."
            )
        if len(set(tasks)) != len(tasks):
            raise InvalidArgument(f"subset got repeated task names: {tasks}.")
        columns = [self.task_index(t) for t in tasks]
        return TaskSuite(
            name=self.name,
            tasks=tuple(self.tasks[c] for c in columns),
            splits={k: s.select_tasks(columns) for k, s in self.splits.items()},
            feature_names=self.feature_names,
            params={**self.params, "tasks": tasks},
            preprocessing=self.preprocessing,
        )

    def fingerprint(self) -> str:
        """A hash of the data, the task specs and the parameters: equal suites have equal fingerprints."""
        h = hashlib.sha256()
        h.update(self.name.encode())
        h.update(json.dumps([t.to_dict() for t in self.tasks], sort_keys=True).encode())
        h.update(json.dumps(self.feature_names).encode())
        h.update(json.dumps(self.preprocessing, sort_keys=True).encode())
        for key in SPLITS:
            s = self.splits[key]
            # a Dataset is read once, in chunks, so a suite too large for memory still gets an exact fingerprint
            chunks = [s.x] if s.in_memory else (s.inputs(slice(i, i + 1024)) for i in range(0, len(s), 1024))
            for tensor in (*chunks, s.y, s.mask):
                h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return h.hexdigest()[:16]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(self.splits[k])}" for k in SPLITS)
        return f"TaskSuite({self.name!r}, tasks={list(self.task_names)}, input={self.input_shape}, {sizes})"

    # -- construction -------------------------------------------------------------------------------
    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        targets: Mapping[str, str | None] | Sequence[str],
        *,
        features: Sequence[str] | None = None,
        split: str | Sequence[float] = (0.6, 0.2, 0.2),
        seed: int = 0,
        allow_missing: bool | Sequence[str] = False,
        name: str = "custom",
        params: Mapping[str, Any] | None = None,
    ) -> TaskSuite:
        """Build a suite from a table with feature columns and target columns.

        Parameters
        ----------
        frame : pandas.DataFrame
        targets : mapping column -> kind, or list of columns
            The target columns and their kinds (``"regression"``, ``"binary"``, ``"multiclass"``). With a
            plain list, or a kind of ``None``, the kind is inferred: numbers with more than 10 distinct values are
            regression, otherwise 2 distinct values are binary and more are multiclass.
        features : list of str, optional
            Feature columns. Default: every column that is not a target (and not the split column).
            Non-numeric feature columns are one-hot encoded; constant columns are dropped.
        split : str or (train, val, test) fractions
            A column holding ``"train"``/``"val"``/``"test"`` for each row, or three fractions summing to 1
            used to split the rows at random with ``seed``.
        seed : int
            Seed of the random split.
        allow_missing : bool or list of str
            Targets allowed to have missing labels (masked out of their loss). Default: none; a missing
            target label is then an error.
        name : str
            The suite's name.
        params : mapping, optional
            Extra parameters recorded in the suite (and its fingerprint).

        Raises
        ------
        InvalidSuite
            Naming the column: a missing column, a missing feature value, a missing target label that is not
            allowed, an unknown kind, a target with a single class or value, a classification class absent
            from the train split, an empty split.
        """
        if not isinstance(frame, pd.DataFrame):
            raise InvalidSuite(f"from_frame expects a pandas DataFrame; got {type(frame).__name__}.")
        if len(frame) == 0:
            raise InvalidSuite("The table is empty; a suite needs rows.")
        kinds = _resolve_kinds(frame, targets)
        split_col = split if isinstance(split, str) else None
        for col in [*kinds, *([split_col] if split_col else []), *(features or [])]:
            if col not in frame.columns:
                raise InvalidSuite(
                    f"The table has no column {col!r}; columns present: {list(map(str, frame.columns))}."
                )
        if features is None:
            features = [c for c in frame.columns if c not in kinds and c != split_col]
        overlap = set(features) & set(kinds)
        if overlap:
            raise InvalidSuite(f"Columns {sorted(overlap)} are both features and targets.")
        if not features:
            raise InvalidSuite("No feature columns: every column is a target or the split column.")
        x, feature_names = _encode_features(frame[list(features)])
        assignment = _assign_splits(frame, split, seed)
        return cls.from_arrays(
            x,
            {t: frame[t].to_numpy() for t in kinds},
            kinds,
            split=assignment,
            allow_missing=allow_missing,
            feature_names=feature_names,
            name=name,
            params={"split": split if isinstance(split, str) else list(split), "seed": seed, **(params or {})},
        )

    @classmethod
    def from_arrays(
        cls,
        x: Any,
        targets: Mapping[str, Any],
        kinds: Mapping[str, str],
        *,
        split: Any = (0.6, 0.2, 0.2),
        seed: int = 0,
        allow_missing: bool | Sequence[str] = False,
        feature_names: Sequence[str] | None = None,
        standardize: bool = True,
        name: str = "custom",
        params: Mapping[str, Any] | None = None,
    ) -> TaskSuite:
        """Build a suite from a feature matrix and one target array per task.

        Parameters
        ----------
        x : array-like or Tensor, shape (n, ...)
            Numeric inputs; no NaN. A float table (n, n_features) is standardised per column, float images
            (n, C, ...) per channel (axis 1); integer inputs (token ids) are kept as int64 and not scaled.
        targets : mapping task -> array-like of length n
            Regression targets as numbers (NaN = missing); class labels as anything hashable (None/NaN =
            missing).
        kinds : mapping task -> kind
            ``"regression"``, ``"binary"`` or ``"multiclass"`` for every task in ``targets``.
        split : (train, val, test) fractions, or array of length n with values "train"/"val"/"test"
        seed : int
            Seed of the random split.
        allow_missing : bool or list of str
            Targets allowed to have missing labels.
        feature_names : list of str, optional
        standardize : bool
            Standardise float inputs and regression targets with the train split's mean and std (default).
            Losses of regression tasks are then in units of the target's standard deviation. The input
            statistics are kept in ``suite.preprocessing``.
        name : str
        params : mapping, optional

        Raises
        ------
        InvalidSuite
            See :meth:`from_frame`; also targets whose length differs from ``x``.
        """
        x_np = _as_inputs(x)
        n = x_np.shape[0]
        if x_np.dtype.kind == "f" and not np.all(np.isfinite(x_np)):
            bad = np.argwhere(~np.isfinite(x_np))[0]
            raise InvalidSuite(
                f"Inputs contain a NaN or infinite value (row {bad[0]}, position {tuple(bad[1:])}); fill or drop it."
            )
        if set(targets) != set(kinds):
            raise InvalidSuite(f"targets {sorted(targets)} and kinds {sorted(kinds)} must name the same tasks.")
        if not targets:
            raise InvalidSuite("A suite needs at least one target.")
        allowed = set(targets) if allow_missing is True else set(allow_missing or [])
        unknown = allowed - set(targets)
        if unknown:
            raise InvalidSuite(f"allow_missing names {sorted(unknown)}, which are not targets {sorted(targets)}.")
        assignment = (
            _random_assignment(n, split, seed) if _is_fractions(split) else _check_assignment(np.asarray(split), n)
        )
        train_rows = assignment == "train"

        specs, ys, masks = [], [], []
        for task in targets:
            raw = np.asarray(targets[task], dtype=object if kinds[task] != "regression" else None)
            if raw.ndim != 1 or len(raw) != n:
                raise InvalidSuite(f"Target {task!r} has shape {raw.shape}; expected ({n},), one label per row of x.")
            spec, y, mask = _encode_target(task, kinds[task], raw, train_rows, task in allowed, standardize)
            specs.append(spec)
            ys.append(y)
            masks.append(mask)
        y_all = np.stack(ys, axis=1).astype(np.float32)
        mask_all = np.stack(masks, axis=1)

        if feature_names is None:
            feature_names = [f"x{i}" for i in range(x_np.shape[1])] if x_np.ndim == 2 else []
        x_np, preprocessing = _standardise_inputs(x_np, train_rows, standardize, list(map(str, feature_names)))
        splits = {}
        for key in SPLITS:
            rows = assignment == key
            splits[key] = Split(
                torch.from_numpy(np.ascontiguousarray(x_np[rows])),
                torch.from_numpy(np.ascontiguousarray(y_all[rows])),
                torch.from_numpy(np.ascontiguousarray(mask_all[rows])),
            )
        return cls(
            name=name,
            tasks=tuple(specs),
            splits=splits,
            feature_names=tuple(map(str, feature_names)),
            params=dict(params or {}),
            preprocessing=preprocessing,
        )


# -- helpers -----------------------------------------------------------------------------------------
def _encode_target(
    task: str, kind: str, raw: np.ndarray, train_rows: np.ndarray, allow_missing: bool, standardize: bool
) -> tuple[TaskSpec, np.ndarray, np.ndarray]:
    missing = _is_missing(raw)
    if missing.any() and not allow_missing:
        raise InvalidSuite(
            f"Target {task!r} has {int(missing.sum())} missing labels (first at row "
            f"{int(np.flatnonzero(missing)[0])}); "
            f"pass allow_missing=[{task!r}] to mask them out of the loss, or drop those rows."
        )
    mask = ~missing
    if kind == "regression":
        try:
            values = np.asarray(raw, dtype=float)
        except (TypeError, ValueError):
            raise InvalidSuite(
                f"Regression target {task!r} is not numeric; use kind 'binary' or 'multiclass' for labels."
            ) from None
        if np.any(np.isinf(values[mask])):
            raise InvalidSuite(f"Regression target {task!r} has an infinite value; targets must be finite.")
        labelled_train = values[mask & train_rows]
        if len(labelled_train) < 2 or np.nanstd(labelled_train) == 0:
            raise InvalidSuite(
                f"Regression target {task!r} is constant (or has fewer than 2 labels) in the train split; "
                "there is nothing to learn."
            )
        mean, std = (float(labelled_train.mean()), float(labelled_train.std())) if standardize else (0.0, 1.0)
        y = np.where(mask, (np.nan_to_num(values) - mean) / std, 0.0)
        return TaskSpec(task, kind, 1, (), mean, std), y, mask
    labels = raw[mask]
    classes = sorted(set(labels.tolist()), key=lambda v: (str(type(v)), v))
    if len(classes) < 2:
        raise InvalidSuite(f"Target {task!r} has a single class {classes!r}; a {kind} task needs at least two classes.")
    if kind == "binary" and len(classes) != 2:
        raise InvalidSuite(f"Binary target {task!r} has {len(classes)} classes {classes[:10]}; use kind 'multiclass'.")
    if kind == "multiclass" and len(classes) < 3:
        raise InvalidSuite(f"Multiclass target {task!r} has only 2 classes {classes}; use kind 'binary'.")
    in_train = set(raw[mask & train_rows].tolist())
    absent = [c for c in classes if c not in in_train]
    if absent:
        raise InvalidSuite(
            f"Target {task!r}: classes {absent} never occur in the train split; the network cannot learn them."
        )
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[v] if m else 0 for v, m in zip(raw.tolist(), mask)], dtype=float)
    return TaskSpec(task, kind, len(classes), tuple(classes)), y, mask
