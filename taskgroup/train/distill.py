"""Teachers and their soft targets: ensembles of trained networks, from trained plans or trained per task.

A teacher of task ``t`` is an ensemble of members, each a trained network with a head for ``t``. Two sources:

- :func:`plan_teachers`: the networks of trained plans, read from their deployment manifests (every checkpoint's
  sha256 is verified before it is loaded). The member for ``t`` from a manifest is the network that manifest
  assigns ``t`` to, so a multi-task network teaches every task it serves; the manifests of the same plan trained
  with K seeds make an ensemble of K members per task.
- :func:`single_task_teachers`: MT-DNN-KD's recipe, per task K single-task networks, member ``k`` with dropout
  ``dropouts[k % len(dropouts)]`` (built-in families; a model factory of your own is used as it is, so its
  members differ in seed only) and its own seed.

:class:`Teachers` keeps every member's raw outputs on every split, so soft targets at any temperature come
without running the members again. The soft target of row ``i`` at temperature ``T`` is the mean over members
``m`` of ``softmax(z_mi / T)`` (binary: ``sigmoid(z_mi / T)``, the probability of class 1; regression: the mean
prediction, no temperature); the ensemble's own prediction, what it is scored on, is the soft target at ``T = 1``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from taskgroup.checkpoints import load_checkpoint
from taskgroup.engine import TrainConfig, build_model, fit, predict
from taskgroup.engine.families import BuiltinFactory
from taskgroup.errors import InvalidArgument, ManifestError
from taskgroup.files import atomic_write
from taskgroup.manifest import (
    artifact_path,
    network_entry,
    read_manifest,
    required_fields,
)
from taskgroup.tasks import TaskSuite, evaluate_outputs, output_to_soft, soft_to_output

__all__ = ["TeacherConfig", "Teachers", "average_soft", "check_teachers", "plan_teachers", "single_task_teachers"]


@dataclass(frozen=True)
class TeacherConfig:
    """How single-task teacher ensembles are built.

    Attributes
    ----------
    n_teachers : int
        Ensemble size K (MT-DNN-KD: 3).
    dropouts : tuple of float
        Dropout of member k is ``dropouts[k % len(dropouts)]`` (MT-DNN-KD: 0.1, 0.2, 0.3).
    """

    n_teachers: int = 3
    dropouts: tuple[float, ...] = (0.1, 0.2, 0.3)

    def __post_init__(self) -> None:
        if not isinstance(self.n_teachers, (int, np.integer)) or self.n_teachers < 1:
            raise InvalidArgument(f"The teacher count must be an integer >= 1; got {self.n_teachers!r}.")
        if not self.dropouts or any(not 0.0 <= d < 1.0 for d in self.dropouts):
            raise InvalidArgument(
                f"Teacher dropouts must be a non-empty list of rates in [0, 1); got {self.dropouts!r}."
            )


def average_soft(kind: str, member_outputs: Sequence[np.ndarray], temperature: float = 1.0) -> np.ndarray:
    """The ensemble's soft target: the mean over members of their probabilities at ``temperature`` (or values).

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    member_outputs : sequence of numpy.ndarray
        Each member's raw output ``(n, out_dim)`` on the same rows.
    temperature : float, default 1.0
        Logits are divided by it before the sigmoid or softmax (see
        :func:`~taskgroup.tasks.losses.output_to_soft`).

    Returns
    -------
    numpy.ndarray
        Shape (n,) for regression and binary (value, probability of the positive class), (n, k) for multiclass.

    Raises
    ------
    InvalidArgument
        No member outputs, or an unknown kind.
    """
    if not member_outputs:
        raise InvalidArgument("average_soft needs at least one member's outputs.")
    probs = [
        output_to_soft(kind, torch.as_tensor(np.asarray(o, dtype=np.float32)), temperature).numpy()
        for o in member_outputs
    ]
    return np.mean(np.stack(probs), axis=0)


@dataclass
class Teachers:
    """Teacher ensembles: every member's raw outputs, per task and split.

    Attributes
    ----------
    kinds : dict task -> kind
    outputs : dict task -> split -> list of arrays
        Raw outputs ``(n, out_dim)`` of each member on each split (``train``, ``val``, ``test``).
    members : dict task -> list of str
        What each member is (a network name and where it came from), in the order of ``outputs``.
    """

    kinds: dict[str, str]
    outputs: dict[str, dict[str, list[np.ndarray]]]
    members: dict[str, list[str]] = field(default_factory=dict)

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks with a teacher."""
        return tuple(self.outputs)

    def soft(self, task: str, split: str = "train", temperature: float = 1.0) -> np.ndarray:
        """The soft targets of ``task`` on every row of ``split`` at ``temperature`` (see the module docstring).

        Parameters
        ----------
        task : str
            A task with a teacher.
        split : str, default "train"
            A split the teachers were run on.
        temperature : float, default 1.0

        Returns
        -------
        numpy.ndarray
            :func:`average_soft` of the task's members on that split.

        Raises
        ------
        InvalidArgument
            A task without a teacher, or a split the teachers were not run on.
        """
        if task not in self.outputs:
            raise InvalidArgument(f"No teacher for task {task!r}; the teachers teach {list(self.tasks)}.")
        if split not in self.outputs[task]:
            raise InvalidArgument(f"Teachers were not run on split {split!r}; they were on {list(self.outputs[task])}.")
        return average_soft(self.kinds[task], self.outputs[task][split], temperature)

    def soft_targets(self, tasks: Sequence[str], temperature: float = 1.0) -> dict[str, np.ndarray]:
        """Training-split soft targets at ``temperature`` of the ``tasks`` that have a teacher (others left out).

        Parameters
        ----------
        tasks : sequence of str
            Task names; those without a teacher are skipped.
        temperature : float, default 1.0

        Returns
        -------
        dict of str to numpy.ndarray
            :meth:`soft` on the train split, by task.
        """
        return {t: self.soft(t, "train", temperature) for t in tasks if t in self.outputs}

    def prediction(self, task: str, split: str = "test") -> np.ndarray:
        """The ensemble's prediction in raw-output form ``(n, out_dim)``: the soft target at temperature 1.

        Parameters
        ----------
        task : str
            A task with a teacher.
        split : str, default "test"

        Returns
        -------
        numpy.ndarray
            The averaged probabilities as logits (or log probabilities; values for regression), see
            :func:`~taskgroup.tasks.evaluate.soft_to_output`.

        Raises
        ------
        InvalidArgument
            As :meth:`soft`.
        """
        return soft_to_output(self.kinds[task], self.soft(task, split, 1.0))

    def metrics(self, suite: TaskSuite, split: str = "test") -> dict[str, dict[str, float]]:
        """``task -> metric -> value`` of each ensemble's prediction on ``split``.

        Parameters
        ----------
        suite : TaskSuite
            The suite the teachers were run on; its tasks with a teacher are scored.
        split : str, default "test"

        Returns
        -------
        dict of str to dict of str to float
            :func:`~taskgroup.tasks.evaluate.evaluate_outputs` of the ensembles' predictions.

        Raises
        ------
        InvalidArgument
            No task of ``suite`` has a teacher, or the teachers were not run on ``split``.
        """
        sub = suite.subset([t for t in suite.task_names if t in self.outputs])
        outputs = {t: self.prediction(t, split) for t in sub.task_names}
        return evaluate_outputs(outputs, sub.split(split), sub.tasks)

    def fingerprint(self) -> str:
        """A short hash of the teachers' tasks and every member's training-split outputs (what a student sees).

        Returns
        -------
        str
            The first 16 hex digits of a sha256.
        """
        h = hashlib.sha256()
        for task in self.tasks:
            h.update(f"{task}:{self.kinds[task]}".encode())
            for out in self.outputs[task].get("train", []):
                h.update(np.ascontiguousarray(out, dtype=np.float32).tobytes())
        return h.hexdigest()[:16]

    def restrict(self, tasks: Sequence[str]) -> Teachers:
        """The teachers of ``tasks`` only.

        Parameters
        ----------
        tasks : sequence of str
            Tasks with a teacher.

        Returns
        -------
        Teachers
            Sharing this object's output arrays.

        Raises
        ------
        InvalidArgument
            A task without a teacher.
        """
        missing = [t for t in tasks if t not in self.outputs]
        if missing:
            raise InvalidArgument(f"No teacher for task(s) {missing}; the teachers teach {list(self.tasks)}.")
        return Teachers(
            {t: self.kinds[t] for t in tasks},
            {t: self.outputs[t] for t in tasks},
            {t: self.members.get(t, []) for t in tasks},
        )

    def save(self, path: str | PathLike[str]) -> None:
        """Write every member's outputs to one ``.npz`` file, atomically.

        Parameters
        ----------
        path : path
            The file; written to a fresh temporary file beside it, then renamed onto it
            (:func:`taskgroup.files.atomic_write`).
        """
        arrays: dict[str, Any] = {}
        index = []
        for i, (task, splits) in enumerate(self.outputs.items()):
            for split, outs in splits.items():
                for k, out in enumerate(outs):
                    arrays[f"o{i}_{split}_{k}"] = np.asarray(out, dtype=np.float32)
            index.append({"task": task, "kind": self.kinds[task], "members": self.members.get(task, [])})
        arrays["index"] = np.array(json.dumps(index))

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

        atomic_write(path, write)

    @classmethod
    def load(cls, path: str | PathLike[str]) -> Teachers:
        """Read what :meth:`save` wrote.

        Parameters
        ----------
        path : path
            A ``.npz`` file from :meth:`save`.

        Returns
        -------
        Teachers
        """
        with np.load(path) as data:
            index = json.loads(str(data["index"]))
            outputs: dict[str, dict[str, list[np.ndarray]]] = {}
            for i, item in enumerate(index):
                keys = sorted((k for k in data.files if k.startswith(f"o{i}_")), key=lambda k: int(k.rsplit("_", 1)[1]))
                splits: dict[str, list[np.ndarray]] = {}
                for key in keys:
                    splits.setdefault(key.split("_")[1], []).append(data[key])
                outputs[item["task"]] = splits
        return cls(
            {item["task"]: item["kind"] for item in index},
            outputs,
            {item["task"]: list(item["members"]) for item in index},
        )


def _split_outputs(network: torch.nn.Module, suite: TaskSuite, device: str = "cpu") -> dict[str, dict[str, np.ndarray]]:
    """split -> task -> raw output of ``network`` on every row of each split of ``suite``."""
    network.to(device)
    outputs = {name: predict(network, split, device=device) for name, split in suite.splits.items()}
    network.cpu()
    return outputs


def plan_teachers(
    manifests: Sequence[str | PathLike[str]],
    suite: TaskSuite,
    *,
    tasks: Sequence[str] | None = None,
    device: str = "cpu",
    say: Callable[[str], None] | None = None,
) -> Teachers:
    """Teachers from the networks of trained plans: per task, the network each manifest assigns it to.

    Parameters
    ----------
    manifests : sequence of paths
        Deployment manifests of trained plans (``taskgroup train`` / ``run``), all on ``suite``. One manifest
        gives one member per task; K manifests (e.g. the same plan trained with K seeds) an ensemble of K.
    suite : TaskSuite
        The suite the plans were trained on (checked by fingerprint); the members run on every row of its splits.
    tasks : sequence of str, optional
        The tasks that get a teacher (default: every task some manifest serves). Each must be served by every
        manifest.
    device : str
        Where the members run.
    say : callable(str), optional
        One line per member network.

    Returns
    -------
    Teachers

    Raises
    ------
    ManifestError
        A manifest of another suite, of ONNX files, a missing checkpoint or one whose sha256 differs from its
        manifest's (checked before the checkpoint is loaded).
    InvalidArgument
        No manifests, or a teacher task some manifest does not serve.
    """
    if not manifests:
        raise InvalidArgument("plan_teachers needs at least one manifest.")
    docs = [read_manifest(m) for m in manifests]
    for path, doc in zip(manifests, docs):
        (info,) = required_fields(doc, "suite")
        if info.get("fingerprint") != suite.fingerprint():
            raise ManifestError(
                f"The manifest {str(path)!r} was trained on suite {info.get('name')!r} with fingerprint "
                f"{info.get('fingerprint')!r}; the suite given has fingerprint {suite.fingerprint()!r} (another "
                "suite, other parameters or other data)."
            )
    served = [t for t in suite.task_names if any(t in doc["assignment"] for doc in docs)]
    wanted = served if tasks is None else list(tasks)
    for path, doc in zip(manifests, docs):
        missing = [t for t in wanted if t not in doc["assignment"]]
        if missing:
            raise InvalidArgument(
                f"The manifest {str(path)!r} does not serve teacher task(s) {missing}; it serves "
                f"{sorted(doc['assignment'])}."
            )
    kinds = {t: suite.task(t).kind for t in wanted}
    outputs: dict[str, dict[str, list[np.ndarray]]] = {t: {s: [] for s in suite.splits} for t in wanted}
    members: dict[str, list[str]] = {t: [] for t in wanted}
    for path, doc in zip(manifests, docs):
        for name in sorted({doc["assignment"][t] for t in wanted}):
            entry = network_entry(doc, name)
            if "checkpoint" not in entry:
                raise ManifestError(
                    f"Network {name!r} of {str(path)!r} is an ONNX file; teachers are read from the PyTorch "
                    "manifest it was exported from."
                )
            network, _ = load_checkpoint(artifact_path(path, entry, verify=True))
            by_split = _split_outputs(network, suite, device)
            for t in wanted:
                if doc["assignment"][t] == name:
                    for split, outs in by_split.items():
                        outputs[t][split].append(outs[t])
                    members[t].append(f"{name} ({path})")
            if say:
                say(f"teacher network {name} from {path}: sha256 verified, run on every split")
    return Teachers(kinds, outputs, members)


def single_task_teachers(
    suite: TaskSuite,
    tasks: Sequence[str],
    *,
    config: TrainConfig,
    teacher: TeacherConfig = TeacherConfig(),
    seed: int = 0,
    say: Callable[[str], None] | None = None,
) -> Teachers:
    """Train K single-task members for each of ``tasks`` (MT-DNN-KD's teachers) and keep their outputs.

    Parameters
    ----------
    suite : TaskSuite
    tasks : sequence of str
        The tasks that get a teacher ensemble.
    config : TrainConfig
        The model and optimisation of each member (``dropout`` is set per member for built-in families).
    teacher : TeacherConfig
    seed : int
        Member k of every task uses seed ``seed + 1000 * (k + 1)``, so members differ from each other and from
        a student trained with ``seed``.

    Returns
    -------
    Teachers

    Raises
    ------
    InvalidArgument
        A member that fails to train (its loss became NaN or infinite).
    """
    kinds: dict[str, str] = {}
    outputs: dict[str, dict[str, list[np.ndarray]]] = {}
    members: dict[str, list[str]] = {}
    factory = config.factory()
    for task in tasks:
        one = suite.subset([task])
        kinds[task] = one.tasks[0].kind
        outputs[task] = {name: [] for name in one.splits}
        members[task] = []
        for k in range(teacher.n_teachers):
            member_seed = seed + 1000 * (k + 1)
            dropout = float(teacher.dropouts[k % len(teacher.dropouts)])
            member = factory.with_options(dropout=dropout) if isinstance(factory, BuiltinFactory) else factory
            model = build_model(member, one.tasks, "full", one.example_batch(), member_seed)
            fitted = fit(model, one.train, one.tasks, config, val=one.val, seed=member_seed)
            if fitted.status != "ok":
                raise InvalidArgument(f"Teacher {k + 1} for task {task!r} failed to train: {fitted.reason}.")
            for name, out in _split_outputs(model, one, config.device).items():
                outputs[task][name].append(out[task])
            members[task].append(f"single-task {task}, seed {member_seed}, dropout {dropout}")
            if say:
                say(f"teacher {k + 1}/{teacher.n_teachers} for {task} (dropout {dropout})")
    return Teachers(kinds, outputs, members)


def check_teachers(teachers: Teachers, suite: TaskSuite) -> None:
    """Check that ``teachers`` were run on ``suite``'s rows: the same tasks' kinds and row counts per split.

    Parameters
    ----------
    teachers : Teachers
        The teacher ensembles.
    suite : TaskSuite
        The suite the students train on.

    Raises
    ------
    InvalidArgument
        A teacher task the suite lacks, another kind, a split the suite does not have, or another number of rows
        in a split.
    """
    for task, splits in teachers.outputs.items():
        if task not in suite.task_names:
            raise InvalidArgument(f"Teacher task {task!r} is not in suite {suite.name!r} ({list(suite.task_names)}).")
        if teachers.kinds[task] != suite.task(task).kind:
            raise InvalidArgument(
                f"The teacher of {task!r} is a {teachers.kinds[task]} task; the suite's is {suite.task(task).kind}."
            )
        for split, outs in splits.items():
            n = len(suite.split(split))
            if any(len(o) != n for o in outs):
                raise InvalidArgument(f"The teacher of {task!r} has outputs of another length than {split!r} ({n}).")
