"""Train a plan's networks on a suite, evaluate them, and write checkpoints and the deployment manifest.

:func:`train_plan` is what ``taskgroup train`` calls. A run is a folder::

    run.json             the run's configuration, plan and suite fingerprint (checked on resume)
    baselines/<t>.pt     single-task baseline per task
    networks/<n>.pt      the plan's networks, trained with the chosen architecture (vanilla multi-task)
    teachers/<t>.npz     with --distill: a teacher ensemble's soft targets and test prediction per task
    students/<n>.pt      with --distill: the plan's networks distilled from the teachers
    manifest.json        the deployment manifest (students with --distill, else the vanilla networks)
    results.json         test metrics of everything above and Δm% against the baselines

Every unit is written atomically when it finishes, so an interrupted run started again with the same
configuration skips finished units and continues; a different configuration in the same folder is an error.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from taskgroup.engine import TrainConfig, build_model, derive_seed, fit, predict, profile_model
from taskgroup.engine.profile import COST_KEYS, COST_UNITS
from taskgroup.errors import InvalidArgument, MeasurementError
from taskgroup.manifest import (
    load_checkpoint,
    network_config,
    save_checkpoint,
    sha256_file,
    write_manifest,
)
from taskgroup.naming import network_name, network_variant
from taskgroup.plan import Plan
from taskgroup.tasks import TaskSuite, delta_m, evaluate_outputs, soft_to_output
from taskgroup.train.distill import EnsembleOutputs, TeacherConfig, train_teacher_ensemble

__all__ = ["RunConfig", "TrainReport", "train_plan", "check_plan", "network_variant", "RUN_SCHEMA_VERSION"]

RUN_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class RunConfig:
    """Everything that decides what a run trains (and so must match when a run is resumed).

    Attributes
    ----------
    fit : TrainConfig
        The model (a built-in family and its options, or your own factory) and how every network is trained.
    distill : bool
        Train teacher ensembles and distilled students (MT-DNN-KD) besides the vanilla networks.
    teacher : TeacherConfig
    teacher_tasks : tuple of str or None
        Tasks that get a teacher ensemble (None: every task the plan serves). Tasks of a student without a
        teacher learn from hard labels only.
    baselines : bool
        Train single-task baselines (needed for Δm%).
    all_in_one : bool
        Also train one network on every task the plan serves, the other extreme beside the single-task
        baselines, so that the plan can be compared with both (its metrics and Δm% are in the report).
    seed : int
        Base seed; every unit derives its own seed from it and its name.
    """

    fit: TrainConfig = TrainConfig()
    distill: bool = False
    teacher: TeacherConfig = TeacherConfig()
    teacher_tasks: tuple[str, ...] | None = None
    baselines: bool = True
    all_in_one: bool = False
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "all_in_one": self.all_in_one,
            "fit": _plain(self.fit.to_dict()),
            "distill": self.distill,
            "teacher": {"n_teachers": self.teacher.n_teachers, "dropouts": list(self.teacher.dropouts)},
            "teacher_tasks": None if self.teacher_tasks is None else list(self.teacher_tasks),
            "baselines": self.baselines,
            "seed": self.seed,
        }


@dataclass
class TrainReport:
    """Test metrics of a run (``task -> metric -> value`` per group) and Δm% against the baselines.

    Attributes
    ----------
    baselines : single-task networks.
    multitask : each task from its plan-assigned vanilla network.
    teachers : the teacher ensembles (teacher tasks only).
    student : each task from its plan-assigned distilled network.
    all_in_one : each task from one network trained on every served task (with ``all_in_one``).
    networks : per network name, every task it was trained on (vanilla).
    students : per network name, every task it was trained on (distilled).
    delta_m : Δm% per group (``multitask``, ``student``, ``all_in_one``; ``teachers`` over teacher tasks).
    teacher_tasks : tasks with a teacher.
    manifest : path of the deployment manifest.
    """

    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    multitask: dict[str, dict[str, float]] = field(default_factory=dict)
    teachers: dict[str, dict[str, float]] = field(default_factory=dict)
    student: dict[str, dict[str, float]] = field(default_factory=dict)
    all_in_one: dict[str, dict[str, float]] = field(default_factory=dict)
    networks: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    students: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    delta_m: dict[str, float] = field(default_factory=dict)
    teacher_tasks: list[str] = field(default_factory=list)
    manifest: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _plain(value: Any) -> Any:
    """Tuples to lists (recursively) so configs compare equal after a JSON round trip."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def check_plan(plan: Plan, suite: TaskSuite, config: RunConfig) -> tuple[str, ...]:
    """Check, before any training, that the plan, suite and configuration fit together.

    Returns
    -------
    tuple of str
        The teacher tasks (resolved from ``config.teacher_tasks``).

    Raises
    ------
    InvalidArgument
        A plan without networks, a network trained on tasks the suite lacks, an assignment naming tasks the suite
        lacks or networks the plan lacks, a task the plan leaves unserved, an unknown architecture or options
        it rejects, teacher tasks the plan does not serve.
    """
    suite_tasks = set(suite.task_names)
    if not plan.details:
        raise InvalidArgument("The plan has no networks; there is nothing to train.")
    names = [d.name for d in plan.details]
    for d in plan.details:
        unknown = [t for t in d.trained_tasks if t not in suite_tasks]
        if unknown or not d.trained_tasks:
            raise InvalidArgument(
                f"Plan network {d.name!r} is trained on task(s) {unknown or list(d.trained_tasks)} that suite "
                f"{suite.name!r} does not have; its tasks are {list(suite.task_names)}."
            )
    unknown_tasks = sorted(t for t in plan.assignment if t not in suite_tasks)
    if unknown_tasks:
        raise InvalidArgument(
            f"The plan assigns task(s) {unknown_tasks} that suite {suite.name!r} does not have; its tasks are "
            f"{list(suite.task_names)}."
        )
    unknown_networks = sorted({n for n in plan.assignment.values() if n not in names})
    if unknown_networks:
        raise InvalidArgument(
            f"The plan assigns tasks to network(s) {unknown_networks} it does not have; its networks are {names}."
        )
    by_name = {d.name: d for d in plan.details}
    wrong = sorted(t for t, n in plan.assignment.items() if t not in by_name[n].trained_tasks)
    if wrong:
        raise InvalidArgument(f"The plan assigns task(s) {wrong} to networks not trained on them.")
    served = sorted(plan.assignment)
    if not served:
        raise InvalidArgument("The plan assigns no task to any network.")
    teacher_tasks = tuple(served) if config.teacher_tasks is None else tuple(config.teacher_tasks)
    bad = [t for t in teacher_tasks if t not in plan.assignment]
    if bad:
        raise InvalidArgument(f"Teacher task(s) {bad} are not served by the plan; served tasks are {served}.")
    # build every network once so a bad variant or model fails now, not after hours of training
    for d in plan.details:
        sub = suite.subset([t for t in suite.task_names if t in d.trained_tasks])
        build_model(config.fit.factory(), sub.tasks, network_variant(d.name), sub.example_batch(), seed=0)
    return teacher_tasks


def _file_stem(name: str) -> str:
    # network names like "a+b@half" are not safe file names everywhere; a short hash keeps distinct names distinct
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "network"
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class _Run:
    """The folder of one run: configuration check on start, unit files, resume."""

    def __init__(self, out: Path, identity: dict[str, Any]):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        path = out / "run.json"
        if path.exists():
            stored = json.loads(path.read_text())
            identity = json.loads(json.dumps(identity))  # compare in JSON form (tuples are lists there)
            if stored != identity:
                differs = sorted(k for k in set(stored) | set(identity) if stored.get(k) != identity.get(k))
                raise InvalidArgument(
                    f"{str(out)!r} holds a run with a different {', '.join(differs)}; use another --out folder "
                    "or the same plan, suite and settings to resume it."
                )
        else:
            tmp = path.with_name("run.json.tmp")
            tmp.write_text(json.dumps(identity, indent=1))
            tmp.replace(path)

    def path(self, group: str, stem: str, suffix: str) -> Path:
        folder = self.out / group
        folder.mkdir(exist_ok=True)
        return folder / f"{stem}{suffix}"


def train_plan(
    plan: Plan,
    suite: TaskSuite,
    out: str | PathLike[str],
    config: RunConfig = RunConfig(),
    *,
    say: Callable[[str], None] | None = None,
) -> TrainReport:
    """Train, evaluate and package the networks of ``plan`` on ``suite``; resume a finished part of the run.

    Parameters
    ----------
    plan : Plan
        Its networks' ``trained_tasks`` say what each network learns; ``assignment`` which network serves a task.
    suite : TaskSuite
    out : path
        The run folder (see the module docstring).
    config : RunConfig
    say : callable(str), optional
        Receives one line per finished or resumed unit.

    Returns
    -------
    TrainReport

    Raises
    ------
    InvalidArgument
        See :func:`check_plan`; also a folder holding a run with another configuration.
    """
    say = say or (lambda _msg: None)
    teacher_tasks = check_plan(plan, suite, config)
    if not config.distill:
        teacher_tasks = ()
    identity = {
        "schema": "taskgroup.train-run",
        "version": RUN_SCHEMA_VERSION,
        "suite": {"name": suite.name, "fingerprint": suite.fingerprint()},
        "plan": plan.to_dict() | {"wall_time_s": None},  # solver timing differs between identical plans
        "config": config.to_dict(),
    }
    run = _Run(Path(out), identity)
    served = [t for t in suite.task_names if t in plan.assignment]
    report = TrainReport(teacher_tasks=list(teacher_tasks))

    # 1. single-task baselines
    if config.baselines:
        for task in served:
            metrics = _network_unit(run, "baselines", task, (task,), "full", suite, config, None, say)
            report.baselines[task] = metrics[task]

    # 2. the plan's networks, vanilla multi-task
    for d in plan.details:
        report.networks[d.name] = _network_unit(
            run, "networks", d.name, d.trained_tasks, network_variant(d.name), suite, config, None, say
        )
    report.multitask = {t: report.networks[plan.assignment[t]][t] for t in served}
    if config.all_in_one:
        same = [
            d.name for d in plan.details if set(d.trained_tasks) == set(served) and network_variant(d.name) == "full"
        ]
        everything = (
            report.networks[same[0]]
            if same
            else _network_unit(run, "all_in_one", network_name(served), tuple(served), "full", suite, config, None, say)
        )
        report.all_in_one = {t: everything[t] for t in served}

    # 3. distillation: teachers, then students
    if config.distill:
        ensembles = {t: _teacher_unit(run, t, suite, config, say) for t in teacher_tasks}
        one = {t: suite.subset([t]) for t in teacher_tasks}
        report.teachers = {
            t: evaluate_outputs({t: soft_to_output(one[t].tasks[0].kind, e.probs["test"])}, one[t].test, one[t].tasks)[
                t
            ]
            for t, e in ensembles.items()
        }
        for d in plan.details:
            soft = {t: ensembles[t].soft["train"] for t in d.trained_tasks if t in ensembles}
            report.students[d.name] = _network_unit(
                run, "students", d.name, d.trained_tasks, network_variant(d.name), suite, config, soft, say
            )
        report.student = {t: report.students[plan.assignment[t]][t] for t in served}

    # 4. Δm% against the single-task baselines
    if report.baselines:
        report.delta_m["multitask"] = delta_m(report.multitask, report.baselines)
        if report.all_in_one:
            report.delta_m["all_in_one"] = delta_m(report.all_in_one, report.baselines)
        if config.distill:
            report.delta_m["student"] = delta_m(report.student, report.baselines)
            if report.teachers:
                report.delta_m["teachers"] = delta_m(report.teachers, report.baselines)

    # 5. deployment manifest and results
    group = "students" if config.distill else "networks"
    report.manifest = str(_write_manifest(run, plan, suite, config, group))
    (run.out / "results.json").write_text(json.dumps(report.to_dict(), indent=1))
    say(f"manifest written to {report.manifest}")
    return report


_UNIT_LABELS = {
    "baselines": "baseline",
    "networks": "network",
    "students": "student",
    "teachers": "teacher",
    "all_in_one": "all-in-one network",
}


def _network_unit(
    run: _Run,
    group: str,
    name: str,
    tasks: Sequence[str],
    variant: str,
    suite: TaskSuite,
    config: RunConfig,
    soft: Mapping[str, np.ndarray] | None,
    say: Callable[[str], None],
) -> dict[str, dict[str, float]]:
    """Train one network (or load it when its checkpoint exists) and return its test metrics per task."""
    path = run.path(group, _file_stem(name), ".pt")
    if path.exists():
        _, extra = load_checkpoint(path)
        say(f"{_UNIT_LABELS[group]} {name}: finished earlier, kept")
        return extra["test_metrics"]
    sub = suite.subset([t for t in suite.task_names if t in tasks])
    # The seed depends on the network alone, not on its role: a plan network that is a single-task network trains
    # exactly as that task's baseline (the comparison is then paired, not two draws of initialisation noise), and
    # students share the vanilla network's seed, so that the soft targets are the only difference between them.
    seed = derive_seed(config.seed, "network", name)
    factory = config.fit.factory()
    model = build_model(factory, sub.tasks, variant, sub.example_batch(), seed)
    start = time.perf_counter()
    fitted = fit(model, sub.train, sub.tasks, config.fit, val=sub.val, soft_targets=soft, seed=seed)
    seconds = time.perf_counter() - start
    if fitted.status != "ok":
        raise MeasurementError(
            f"Training {_UNIT_LABELS[group]} {name!r} failed: {fitted.reason}. Try a lower learning rate."
        )
    model.cpu()
    metrics = evaluate_outputs(predict(model, sub.test), sub.test, sub.tasks)
    extra = {
        "name": name,
        "test_metrics": metrics,
        "best_epoch": fitted.best_epoch,
        "batching": fitted.batching,
        "loss_weights": fitted.weights,
        "train_seconds": seconds,
        "distilled_tasks": sorted(soft or {}),
    }
    save_checkpoint(model, path, network_config(factory, sub.tasks, variant, sub.example_batch(), seed), extra)
    say(
        f"{_UNIT_LABELS[group]} {name}: trained in {seconds:.1f}s "
        f"({fitted.batching} batches, best epoch {fitted.best_epoch})"
    )
    return metrics


def _teacher_unit(
    run: _Run, task: str, suite: TaskSuite, config: RunConfig, say: Callable[[str], None]
) -> EnsembleOutputs:
    """A task's teacher ensemble soft targets, computed once and cached in the run folder."""
    path = run.path("teachers", _file_stem(task), ".npz")
    if path.exists():
        with np.load(path) as data:
            say(f"teacher {task}: finished earlier, kept")
            return EnsembleOutputs(
                task=task,
                soft={k[5:]: data[k] for k in data.files if k.startswith("soft_")},
                probs={k[6:]: data[k] for k in data.files if k.startswith("probs_")},
            )
    ensemble = train_teacher_ensemble(
        suite,
        task,
        config=config.fit,
        teacher=config.teacher,
        seed=derive_seed(config.seed, "teacher", task),
        say=say,
    )
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        arrays: dict[str, Any] = {f"soft_{k}": v for k, v in ensemble.soft.items()}
        arrays.update({f"probs_{k}": v for k, v in ensemble.probs.items()})
        np.savez(f, **arrays)
    tmp.replace(path)
    return ensemble


def _write_manifest(run: _Run, plan: Plan, suite: TaskSuite, config: RunConfig, group: str) -> Path:
    entries = []
    for d in plan.details:
        path = run.path(group, _file_stem(d.name), ".pt")
        model, extra = load_checkpoint(path, model=config.fit.factory())
        profile = profile_model(model, suite.example_batch())
        entries.append(
            {
                "name": d.name,
                "trained_tasks": list(d.trained_tasks),
                "serves": sorted(t for t, n in plan.assignment.items() if n == d.name),
                "variant": network_variant(d.name),
                **{key: profile[key] for key in COST_KEYS},
                "checkpoint": f"{group}/{path.name}",
                "sha256": sha256_file(path),
                "distilled_tasks": extra.get("distilled_tasks", []),
                "test_metrics": extra["test_metrics"],
            }
        )
    manifest_path = run.out / "manifest.json"
    write_manifest(
        {
            # the params let `taskgroup export` rebuild a built-in suite's validation rows to verify on
            "suite": {"name": suite.name, "fingerprint": suite.fingerprint(), "params": _json_entries(suite.params)},
            "input_shape": list(suite.input_shape),
            "input_dtype": str(suite.example_batch().dtype).replace("torch.", ""),
            "feature_names": list(suite.feature_names),
            "preprocessing": suite.preprocessing,
            "tasks": [t.to_dict() for t in suite.tasks if t.name in plan.assignment],
            "model": config.fit.to_dict()["model"],
            "distilled": config.distill,
            "assignment": dict(plan.assignment),
            "networks": entries,
            "units": {
                **COST_UNITS,
                "inputs": "model inputs x = (raw - mean) / std per the preprocessing entry (feature_names order)",
                "regression outputs": "standardised; value = output * target_std + target_mean (see tasks)",
            },
        },
        manifest_path,
    )
    return manifest_path


def _json_entries(params: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``params`` that JSON can hold (a suite of your own may record arrays or objects)."""
    kept = {}
    for key, value in params.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        kept[key] = value
    return kept
