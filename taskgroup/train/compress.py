"""Distil trained teachers into students: a plan compressed into fewer networks (``taskgroup distill``).

:func:`distill` reads the teachers from the deployment manifests of trained plans (:func:`~taskgroup.train.distill.
plan_teachers`, every checkpoint verified by sha256 first), trains the student networks from them and, with the
same seeds and batches, the same networks without soft targets (the *vanilla* students), and writes::

    DIR/students/        the students' checkpoints (run.json: what they were trained from)
    DIR/vanilla/         the vanilla students' checkpoints
    DIR/baselines/       single-task baselines, only when the teachers' run has none (see below)
    DIR/manifest.json    the students' deployment manifest (``predict``, ``export`` serve it)
    DIR/results.json     per-task test metrics of teachers, student and vanilla, Δm% of each, kept_fraction

The student loss of a task with a teacher (soft weight ``w``, temperature ``T``, a batch ``B`` of rows and its
rows ``L`` labelled for the task; :func:`~taskgroup.tasks.distillation_loss`)::

    (1 - w) · mean_{i in L} CE(y_i, z_i) + w · T² · mean_{i in B} KL(p_i^T || softmax(z_i / T))

with ``p_i^T`` the teacher's soft target at ``T``; a batch without a label for the task (``L`` empty) trains on
the soft term alone. Tasks without a teacher use the hard loss only. The vanilla student's loss is the hard loss.

Δm% is against single-task baselines: those of the teachers' run (``results.json`` beside the first manifest,
as ``taskgroup train`` and ``run`` write it) when it has every task the student serves, else trained here with the
student's settings. ``kept_fraction`` is ``(Δm_student − Δm_vanilla) / (Δm_teachers − Δm_vanilla)`` over the tasks
with a teacher: 1 when the student keeps all of the teachers' gain over the vanilla student, 0 when none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from taskgroup.engine import TrainConfig
from taskgroup.errors import InvalidArgument, ManifestError
from taskgroup.files import atomic_write
from taskgroup.manifest import read_manifest, required_fields
from taskgroup.naming import network_name, network_variant
from taskgroup.outputs import claim_folder, output_path
from taskgroup.plan import Plan, PlanNetwork
from taskgroup.tasks import TaskSuite, delta_m
from taskgroup.train.distill import Teachers, check_teachers, plan_teachers
from taskgroup.train.run import RunConfig, check_plan, write_plan_manifest
from taskgroup.train.units import RunFolder, file_stem, network_unit, plain

__all__ = [
    "DistillConfig",
    "DistillReport",
    "ALL_IN_ONE",
    "DEFAULT_TEMPERATURE",
    "DEFAULT_SOFT_WEIGHT",
    "all_in_one_plan",
    "distill",
    "distill_scores",
    "manifest_suite",
    "default_fit",
    "train_networks",
]

ALL_IN_ONE = "all-in-one"
# The setting that paid in benchmarks/results/train.md (section 2; docs/train.md, Results): T > 1 multiplies the
# classification tasks' soft terms by T² and hurt slant, the regression task that shares their network.
DEFAULT_TEMPERATURE = 1.0
DEFAULT_SOFT_WEIGHT = 0.5
DISTILL_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class DistillConfig:
    """How the students are trained.

    Attributes
    ----------
    fit : TrainConfig or None
        Model and training of the students and vanilla students; ``fit.temperature`` is ``T`` and
        ``fit.soft_weight`` is ``w`` (see the module docstring). None: the suite's default training
        (:func:`taskgroup.engine.defaults.default_train_config`) for the teachers' model family, with
        ``T = DEFAULT_TEMPERATURE`` and ``w = DEFAULT_SOFT_WEIGHT``.
    teacher_tasks : tuple of str or None
        The tasks that get soft targets (None: every task the teachers serve that the student serves). The others
        learn from hard labels only.
    seed : int
        The networks' seed, the same for student and vanilla.
    """

    fit: TrainConfig | None = None
    teacher_tasks: tuple[str, ...] | None = None
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the identity of a distillation run).

        Returns
        -------
        dict
            ``fit`` (the training config as plain data, or None), ``teacher_tasks`` (list or None), ``seed``.
        """
        return {
            "fit": None if self.fit is None else plain(self.fit.to_dict()),
            "teacher_tasks": None if self.teacher_tasks is None else list(self.teacher_tasks),
            "seed": self.seed,
        }


@dataclass
class DistillReport:
    """Test metrics (``task -> metric -> value``) of a distillation, Δm% of each group and the kept fraction.

    Attributes
    ----------
    baselines, teachers, student, vanilla : each task's metrics from the single-task baseline, the teacher
        ensemble (teacher tasks only), the student network serving it, the vanilla student serving it.
    delta_m : Δm% against the baselines: ``teachers``, ``student``, ``vanilla`` over the teacher tasks, and
        ``student_all``, ``vanilla_all`` over every task the student serves (``student_others``,
        ``vanilla_others`` over the tasks without a teacher, when there are any).
    kept_fraction : ``(student - vanilla) / (teachers - vanilla)`` in Δm points over the teacher tasks (None when
        the teachers are no better than the vanilla student: there is no gain to keep).
    teacher_tasks : the tasks with soft targets.
    teacher_members : per teacher task, what each ensemble member is.
    baselines_from : where the baselines came from (a results.json, or "trained").
    manifest : the students' deployment manifest.
    """

    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    teachers: dict[str, dict[str, float]] = field(default_factory=dict)
    student: dict[str, dict[str, float]] = field(default_factory=dict)
    vanilla: dict[str, dict[str, float]] = field(default_factory=dict)
    delta_m: dict[str, float] = field(default_factory=dict)
    kept_fraction: float | None = None
    teacher_tasks: list[str] = field(default_factory=list)
    teacher_members: dict[str, list[str]] = field(default_factory=dict)
    baselines_from: str = ""
    manifest: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as ``results.json`` holds it.

        Returns
        -------
        dict
            Every field of the report, by name.
        """
        return asdict(self)


def all_in_one_plan(tasks: Sequence[str]) -> Plan:
    """The plan 'one network trained on and serving every task of ``tasks``' (cost 1 network).

    Parameters
    ----------
    tasks : sequence of str
        The tasks, in the order the network's name lists them.

    Returns
    -------
    Plan
        One network; its losses and objective are 0 (placeholders: nothing was measured).
    """
    name = network_name(tasks)
    return Plan(
        networks=(name,),
        assignment={t: name for t in tasks},
        task_losses={t: 0.0 for t in tasks},
        objective=0.0,
        cost={"networks": 1.0},
        solver=ALL_IN_ONE,
        details=(PlanNetwork(name, tuple(tasks), tuple(tasks), {"networks": 1.0}),),
    )


def distill_scores(
    baselines: Mapping[str, Mapping[str, float]],
    teachers: Mapping[str, Mapping[str, float]],
    student: Mapping[str, Mapping[str, float]],
    vanilla: Mapping[str, Mapping[str, float]],
) -> tuple[dict[str, float], float | None]:
    """Δm% of each group against ``baselines`` and the kept fraction (see :class:`DistillReport`).

    The teacher tasks are those in ``teachers``; ``student`` and ``vanilla`` hold every task the student serves.

    Parameters
    ----------
    baselines : mapping task -> metric -> value
        The single-task networks' test metrics (every task the student serves).
    teachers : mapping task -> metric -> value
        The teachers' test metrics.
    student : mapping task -> metric -> value
        The distilled student's.
    vanilla : mapping task -> metric -> value
        The same network trained without teachers.

    Returns
    -------
    (dict, float or None)
        The ``delta_m`` entries and ``kept_fraction`` of a :class:`DistillReport`.
    """
    taught = [t for t in student if t in teachers]
    others = [t for t in student if t not in teachers]

    def dm(group: Mapping[str, Mapping[str, float]], tasks: Sequence[str]) -> float:
        return delta_m({t: group[t] for t in tasks}, {t: baselines[t] for t in tasks})

    scores = {
        "teachers": dm(teachers, taught),
        "student": dm(student, taught),
        "vanilla": dm(vanilla, taught),
        "student_all": dm(student, list(student)),
        "vanilla_all": dm(vanilla, list(student)),
    }
    if others:
        scores["student_others"] = dm(student, others)
        scores["vanilla_others"] = dm(vanilla, others)
    gain = scores["teachers"] - scores["vanilla"]
    kept = (scores["student"] - scores["vanilla"]) / gain if gain > 0 else None
    return scores, kept


def train_networks(
    plan: Plan,
    suite: TaskSuite,
    out: str | PathLike[str],
    fit: TrainConfig,
    *,
    seed: int = 0,
    teachers: Teachers | None = None,
    say: Callable[[str], None] | None = None,
    force: bool = False,
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, Path]]:
    """Train ``plan``'s networks into ``out`` (students with ``teachers``, else vanilla); resume finished ones.

    A network's seed is ``seed`` whether or not it has teachers (as in :func:`taskgroup.train.units.network_unit`),
    and batches come from that seed, so a student and its vanilla twin start from the same weights and see the
    same batches.

    Parameters
    ----------
    plan : Plan
    suite : TaskSuite
    out : path
        The folder (``run.json`` records what it was trained from; another configuration there is an error).
    fit : TrainConfig
        ``fit.temperature`` and ``fit.soft_weight`` apply to the tasks with a teacher.
    seed : int
    teachers : Teachers, optional
        Soft targets for the tasks they teach (the others learn from hard labels).
    say : callable(str), optional

    Returns
    -------
    (dict, dict)
        Per network name, test metrics of every task it was trained on; per network name, its checkpoint.

    Raises
    ------
    InvalidArgument
        See :func:`~taskgroup.train.check_plan`; teachers that were not run on ``suite``.
    """
    say = say or (lambda _msg: None)
    check_plan(plan, suite, RunConfig(fit=fit))
    if teachers is not None:
        check_teachers(teachers, suite)
    identity = {
        "schema": "taskgroup.train-networks",
        "version": DISTILL_SCHEMA_VERSION,
        "suite": {"name": suite.name, "fingerprint": suite.fingerprint()},
        "plan": {d.name: list(d.trained_tasks) for d in plan.details},
        "fit": plain(fit.to_dict()),
        "seed": seed,
        "teachers": None if teachers is None else {"tasks": list(teachers.tasks), "outputs": teachers.fingerprint()},
    }
    run = RunFolder(Path(out), identity, force, False)
    group = "students" if teachers is not None else "networks"
    metrics, checkpoints = {}, {}
    for d in plan.details:
        soft = None if teachers is None else teachers.soft_targets(d.trained_tasks, fit.temperature)
        variant = network_variant(d.name)
        metrics[d.name] = network_unit(run, group, d.name, d.trained_tasks, variant, suite, fit, seed, soft, say)
        checkpoints[d.name] = run.path(group, file_stem(d.name), ".pt")
    return metrics, checkpoints


def manifest_suite(manifest: Mapping[str, Any], path: str | PathLike[str]) -> TaskSuite:
    """The built-in suite a manifest was trained on, rebuilt from its recorded parameters (fingerprint checked).

    Parameters
    ----------
    manifest : mapping
        The manifest (its ``suite`` record).
    path : path
        The manifest's path, for the message.

    Returns
    -------
    TaskSuite

    Raises
    ------
    ManifestError
        A manifest without a suite record, a suite that is not built in, or one that rebuilds to other data.
    """
    from taskgroup.datasets.suites import rebuild_suite

    (info,) = required_fields(manifest, "suite")
    suite = rebuild_suite(info.get("name"), info.get("params"))
    if suite is None or suite.fingerprint() != info.get("fingerprint"):
        raise ManifestError(
            f"The manifest {str(path)!r} was trained on suite {info.get('name')!r}, which does not rebuild here to "
            "the same data (a suite of your own, or data that changed); pass the suite (distill(..., suite=...))."
        )
    return suite


def default_fit(suite: TaskSuite, manifest: Mapping[str, Any], **changes: Any) -> TrainConfig:
    """The suite's default training (:func:`taskgroup.engine.defaults.default_train_config`) for the teachers' model
    family, at ``DEFAULT_TEMPERATURE`` and ``DEFAULT_SOFT_WEIGHT``, with ``changes`` applied.

    Parameters
    ----------
    suite : TaskSuite
        The data the students train on.
    manifest : mapping
        The teachers' manifest (its ``model``).
    **changes
        TrainConfig fields to set.

    Returns
    -------
    TrainConfig

    Raises
    ------
    InvalidArgument
        The manifest's model is a factory of your own (pass ``DistillConfig(fit=...)``), or a bad change.
    """
    from taskgroup.engine.defaults import default_train_config
    from taskgroup.engine.families import available_families

    family = manifest.get("model")
    if family not in available_families():
        raise InvalidArgument(
            f"The teachers' model {family!r} is not a registered family; pass the students' training "
            "(DistillConfig(fit=TrainConfig(model=your_factory, ...)))."
        )
    settings = {"temperature": DEFAULT_TEMPERATURE, "soft_weight": DEFAULT_SOFT_WEIGHT, **changes}
    return default_train_config(suite, family, **settings)


def _recorded_baselines(manifest_path: Path, tasks: Sequence[str]) -> dict[str, dict[str, float]] | None:
    """The teachers' run's single-task baselines from ``results.json`` beside the manifest, if it has all ``tasks``."""
    path = manifest_path.parent / "results.json"
    if not path.is_file():
        return None
    try:
        recorded = json.loads(path.read_text()).get("baselines") or {}
    except (json.JSONDecodeError, AttributeError):
        return None
    if not all(t in recorded and isinstance(recorded[t], dict) for t in tasks):
        return None
    return {t: {k: float(v) for k, v in recorded[t].items()} for t in tasks}


def distill(
    manifests: str | PathLike[str] | Sequence[str | PathLike[str]],
    student: str | Plan,
    out: str | PathLike[str],
    config: DistillConfig = DistillConfig(),
    *,
    suite: TaskSuite | None = None,
    say: Callable[[str], None] | None = None,
    force: bool = False,
) -> DistillReport:
    """Distil the networks of trained plans into ``student``; train the vanilla student beside it; score both.

    Parameters
    ----------
    manifests : path or sequence of paths
        Deployment manifests of trained plans on one suite (``taskgroup train`` / ``run``). Several (the same plan
        trained with other seeds) make each teacher an ensemble, one member per manifest.
    student : "all-in-one" or Plan
        One network for every task the teachers serve, or a plan of your own (e.g. ``Plan.from_json``).
    out : path
        The output folder (see the module docstring); running again resumes.
    config : DistillConfig
    suite : TaskSuite, optional
        The suite the teachers were trained on; default: the built-in suite the manifest names, rebuilt from its
        recorded parameters (checked by fingerprint).
    say : callable(str), optional
        One line per finished or resumed unit.

    Returns
    -------
    DistillReport

    Raises
    ------
    ManifestError
        A manifest that cannot be read, of another suite, or a teacher checkpoint missing or whose sha256 differs
        from the manifest's (checked before it is loaded).
    InvalidArgument
        An unknown student, a student plan that does not fit the suite, teacher tasks the student does not serve.
    """
    say = say or (lambda _msg: None)
    paths = [Path(manifests)] if isinstance(manifests, (str, PathLike)) else [Path(m) for m in manifests]
    if not paths:
        raise InvalidArgument("distill needs at least one teacher manifest.")
    first = read_manifest(paths[0])
    suite = suite if suite is not None else manifest_suite(first, paths[0])
    served = [t for t in suite.task_names if t in first["assignment"]]
    if isinstance(student, str):
        if student != ALL_IN_ONE:
            raise InvalidArgument(f"Unknown student {student!r}; accepted: {ALL_IN_ONE!r} or a Plan.")
        student = all_in_one_plan(served)
    student_tasks = [t for t in suite.task_names if t in student.assignment]
    teacher_tasks = [t for t in served if t in student_tasks] if config.teacher_tasks is None else config.teacher_tasks
    unserved = [t for t in teacher_tasks if t not in student_tasks]
    if unserved:
        raise InvalidArgument(f"Teacher task(s) {unserved} are not served by the student; it serves {student_tasks}.")
    if not teacher_tasks:
        raise InvalidArgument(f"The student serves none of the teachers' tasks ({served}); there is nothing to distil.")
    fit = config.fit if config.fit is not None else default_fit(suite, first)
    check_plan(student, suite, RunConfig(fit=fit))
    out = claim_folder(out, "run", force=force)
    # the sub-folders are claimed by the networks they hold; listing them here keeps a rerun from calling them foreign
    students_dir, vanilla_dir, baselines_dir = (output_path(out, name) for name in ("students", "vanilla", "baselines"))

    teachers = plan_teachers(paths, suite, tasks=teacher_tasks, device=fit.device, say=say)
    students, checkpoints = train_networks(
        student, suite, students_dir, fit, seed=config.seed, teachers=teachers, say=say, force=force
    )
    vanilla, _ = train_networks(student, suite, vanilla_dir, fit, seed=config.seed, say=say, force=force)

    report = DistillReport(teacher_tasks=list(teacher_tasks), teacher_members=teachers.members)
    recorded = _recorded_baselines(paths[0], student_tasks)
    if recorded is not None:
        report.baselines, report.baselines_from = recorded, str(paths[0].parent / "results.json")
    else:
        singles = Plan(
            networks=tuple(student_tasks),
            assignment={t: t for t in student_tasks},
            task_losses={t: 0.0 for t in student_tasks},
            objective=0.0,
            cost={},
            details=tuple(PlanNetwork(t, (t,), (t,), {}) for t in student_tasks),
        )
        trained, _ = train_networks(singles, suite, baselines_dir, fit, seed=config.seed, say=say, force=force)
        report.baselines, report.baselines_from = {t: trained[t][t] for t in student_tasks}, "trained"
    report.teachers = teachers.metrics(suite)
    report.student = {t: students[student.assignment[t]][t] for t in student_tasks}
    report.vanilla = {t: vanilla[student.assignment[t]][t] for t in student_tasks}
    report.delta_m, report.kept_fraction = distill_scores(
        report.baselines, report.teachers, report.student, report.vanilla
    )
    report.manifest = str(write_plan_manifest(out, student, suite, fit, checkpoints, distilled=True))
    results = report.to_dict() | {
        "config": DistillConfig(fit, config.teacher_tasks, config.seed).to_dict(),
        "teacher_manifests": [str(p) for p in paths],
        "kept_fraction_defined": "(student - vanilla) / (teachers - vanilla), Δm points over the teacher tasks",
    }
    text = json.dumps(results, indent=1)
    atomic_write(output_path(out, "results.json"), lambda p: p.write_text(text))
    say(f"manifest written to {report.manifest}")
    return report
