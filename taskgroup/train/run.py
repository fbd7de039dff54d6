"""Train a plan's networks on a suite, evaluate them, and write checkpoints and the deployment manifest.

:func:`train_plan` is what ``taskgroup train`` calls. A run is a folder::

    run.json             the run's configuration, plan and suite fingerprint (checked on resume)
    baselines/<t>.pt     single-task baseline per task
    networks/<n>.pt      the plan's networks, trained with the chosen architecture (vanilla multi-task)
    <group>/<n>-r<k>.pt  with repeats K > 1: repeat k (1..K-1) of a baseline, plan or all-in-one network
    <group>/<n>.test.npz each trained network's raw test outputs (for the intervals of Δm%)
    teachers/<t>.npz     with --distill: a teacher ensemble's soft targets and test prediction per task
    students/<n>.pt      with --distill: the plan's networks distilled from the teachers
    manifest.json        the deployment manifest (students with --distill, else the vanilla networks)
    results.json         test metrics of everything above, Δm% against the baselines and its 95 % intervals

Every unit is written atomically when it finishes, so an interrupted run started again with the same
configuration skips finished units and continues; a different configuration in the same folder is an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from taskgroup.checkpoints import load_checkpoint, sha256_file
from taskgroup.engine import TrainConfig, build_model, derive_seed, profile_model
from taskgroup.engine.profile import COST_KEYS, COST_UNITS
from taskgroup.errors import InvalidArgument
from taskgroup.files import atomic_write
from taskgroup.manifest import write_manifest
from taskgroup.measure.executors import check_executor
from taskgroup.naming import network_name, network_variant
from taskgroup.outputs import output_path
from taskgroup.plan import Plan
from taskgroup.tasks import TaskSuite, delta_m
from taskgroup.train.distill import TeacherConfig, Teachers, single_task_teachers
from taskgroup.train.intervals import delta_m_intervals, mean_metrics
from taskgroup.train.units import RunFolder, Unit, file_stem, network_unit, plain, test_outputs, train_in_parallel

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
        Base seed: repeat ``k`` of every baseline, plan network and all-in-one network has seed ``seed + k``, as
        in measurement (:func:`taskgroup.measure.measure` with ``seeds=[seed, ..., seed + repeats - 1]``).
    repeats : int
        How many times each baseline, plan network and the all-in-one network is trained (repeat 0 is the one
        deployed); test metrics and Δm% are means over repeats, and Δm%'s interval covers the repeats' spread.
        Teachers and distilled students are trained once.
    measured : str or None
        A results store to take networks from: a network measured there with this suite, training
        configuration and seed is the same network this run would train, so its stored weights are used instead
        of training it again (``taskgroup run`` passes its own store). The plan then deploys exactly the networks
        it was chosen on. Not part of the run's identity: it changes no result, only the time it takes.
    executor : str
        Where the baselines, plan networks and all-in-one network train: ``"serial"`` (one after another, in this
        process) or an executor of :mod:`taskgroup.measure.executors` (``"auto"``: one worker per core and at least
        four, each on one torch thread). Not part of the run's identity: a network trains the same in any worker.
    """

    fit: TrainConfig = TrainConfig()
    distill: bool = False
    teacher: TeacherConfig = TeacherConfig()
    teacher_tasks: tuple[str, ...] | None = None
    baselines: bool = True
    all_in_one: bool = False
    seed: int = 0
    repeats: int = 1
    measured: str | None = None
    executor: str = "serial"

    def __post_init__(self) -> None:
        if isinstance(self.repeats, bool) or not isinstance(self.repeats, int) or self.repeats < 1:
            raise InvalidArgument(f"repeats={self.repeats!r}; accepted: an integer >= 1.")
        check_executor(self.executor)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain data: the run's identity in ``run.json`` (``measured`` is not part of it).

        Returns
        -------
        dict
        """
        return {
            "repeats": self.repeats,
            "all_in_one": self.all_in_one,
            "fit": plain(self.fit.to_dict()),
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
    delta_m_ci95 : the 95 % interval [lo, hi] of ``delta_m["multitask"]``, ``delta_m["all_in_one"]`` and
        ``delta_m["student"]`` (a paired bootstrap over test rows and repeats,
        :func:`taskgroup.train.intervals.delta_m_intervals`; the student's against the baselines' first repeat).
    plan_minus_all_in_one_ci95 : the 95 % interval of Δm%(plan) - Δm%(all-in-one), same replicates.
    plan_is_all_in_one : the plan serves every task from its all-in-one network (which is then not trained twice).
    repeats : training repeats behind the baselines, the plan's networks and the all-in-one network.
    teacher_tasks : tasks with a teacher.
    manifest : path of the deployment manifest.

    Metrics of the baselines, the plan's networks and the all-in-one network are means over repeats.
    """

    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    multitask: dict[str, dict[str, float]] = field(default_factory=dict)
    teachers: dict[str, dict[str, float]] = field(default_factory=dict)
    student: dict[str, dict[str, float]] = field(default_factory=dict)
    all_in_one: dict[str, dict[str, float]] = field(default_factory=dict)
    networks: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    students: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    delta_m: dict[str, float] = field(default_factory=dict)
    delta_m_ci95: dict[str, list[float]] = field(default_factory=dict)
    plan_minus_all_in_one_ci95: list[float] | None = None
    plan_is_all_in_one: bool = False
    repeats: int = 1
    teacher_tasks: list[str] = field(default_factory=list)
    manifest: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data, as ``results.json`` holds it.

        Returns
        -------
        dict
        """
        return asdict(self)


def check_plan(plan: Plan, suite: TaskSuite, config: RunConfig) -> tuple[str, ...]:
    """Check, before any training, that the plan, suite and configuration fit together.

    Parameters
    ----------
    plan : Plan
        The plan to train.
    suite : TaskSuite
        The data.
    config : RunConfig
        How to train it.

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


def train_plan(
    plan: Plan,
    suite: TaskSuite,
    out: str | PathLike[str],
    config: RunConfig = RunConfig(),
    *,
    say: Callable[[str], None] | None = None,
    force: bool = False,
    replan: bool = False,
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
    force : bool
        Write into a folder that holds files taskgroup did not write (see :func:`taskgroup.outputs.claim_folder`).
    replan : bool
        Accept a folder that holds a run of another plan over the same suite and settings (``taskgroup run``
        with another budget): finished networks are kept, the others trained, the manifest written anew.

    Returns
    -------
    TrainReport

    Raises
    ------
    InvalidArgument
        See :func:`check_plan`; also a folder holding a run with another configuration, a symbolic link, or
        (without ``force``) files taskgroup did not write.
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
    run = RunFolder(Path(out), identity, force, replan, config.measured)
    served = [t for t in suite.task_names if t in plan.assignment]
    report = TrainReport(teacher_tasks=list(teacher_tasks), repeats=config.repeats)
    repeats = range(config.repeats)
    # per repeat: task -> the raw test output of the network serving it (for the intervals of Δm%)
    outputs: dict[str, list[dict[str, np.ndarray]]] = {"baselines": [], "multitask": [], "all_in_one": []}
    first_baselines: dict[str, dict[str, float]] = {}

    same = [d.name for d in plan.details if set(d.trained_tasks) == set(served) and network_variant(d.name) == "full"]
    everything = ("networks", same[0]) if same else ("all_in_one", network_name(served))
    report.plan_is_all_in_one = bool(same) and all(plan.assignment[t] == same[0] for t in served)
    vanilla = [
        *(Unit("baselines", t, (t,), "full", k) for k in repeats for t in served if config.baselines),
        *(Unit("networks", d.name, d.trained_tasks, network_variant(d.name), k) for k in repeats for d in plan.details),
        *(Unit(*everything, tuple(served), "full", k) for k in repeats if config.all_in_one),
    ]
    # side by side on the executor's workers; read back below, where their lines were said already
    trained = train_in_parallel(run, vanilla, suite, config.fit, config.seed, say, config.executor)

    def unit(group: str, name: str, tasks: Sequence[str], variant: str, k: int) -> dict[str, dict[str, float]]:
        told = Unit(group, name, tuple(tasks), variant, k) in trained
        tell = (lambda _msg: None) if told else say
        return network_unit(run, group, name, tasks, variant, suite, config.fit, config.seed, None, tell, repeat=k)

    # 1. single-task baselines
    if config.baselines:
        per_repeat = [{t: unit("baselines", t, (t,), "full", k)[t] for t in served} for k in repeats]
        report.baselines = mean_metrics(per_repeat)
        first_baselines = per_repeat[0]
        outputs["baselines"] = [
            {t: test_outputs(run, "baselines", t, (t,), suite, config.fit, k)[t] for t in served} for k in repeats
        ]

    # 2. the plan's networks, vanilla multi-task
    per_repeat_networks = [
        {d.name: unit("networks", d.name, d.trained_tasks, network_variant(d.name), k) for d in plan.details}
        for k in repeats
    ]
    report.networks = {
        d.name: mean_metrics([networks[d.name] for networks in per_repeat_networks]) for d in plan.details
    }
    report.multitask = {t: report.networks[plan.assignment[t]][t] for t in served}
    outputs["multitask"] = [
        {
            t: test_outputs(run, "networks", plan.assignment[t], _trained(plan, t), suite, config.fit, k)[t]
            for t in served
        }
        for k in repeats
    ]
    if config.all_in_one:
        group, name = everything
        everything_metrics = [unit(group, name, tuple(served), "full", k) for k in repeats]
        report.all_in_one = mean_metrics([{t: one[t] for t in served} for one in everything_metrics])
        outputs["all_in_one"] = [test_outputs(run, group, name, tuple(served), suite, config.fit, k) for k in repeats]

    # 3. distillation: teachers, then students
    if config.distill:
        teachers = _teacher_units(run, teacher_tasks, suite, config, say)
        report.teachers = teachers.metrics(suite)
        for d in plan.details:
            soft = teachers.soft_targets(d.trained_tasks, config.fit.temperature)
            report.students[d.name] = network_unit(
                run,
                "students",
                d.name,
                d.trained_tasks,
                network_variant(d.name),
                suite,
                config.fit,
                config.seed,
                soft,
                say,
            )
        report.student = {t: report.students[plan.assignment[t]][t] for t in served}

    # 4. Δm% against the single-task baselines (means over the same repeats), with 95 % intervals
    if report.baselines:
        report.delta_m["multitask"] = delta_m(report.multitask, report.baselines)
        if report.all_in_one:
            report.delta_m["all_in_one"] = delta_m(report.all_in_one, report.baselines)
        if config.distill:
            # teachers and students are trained once: they are compared with the baselines' first repeat
            report.delta_m["student"] = delta_m(report.student, first_baselines)
            if report.teachers:
                report.delta_m["teachers"] = delta_m(report.teachers, first_baselines)
        groups = {k: v for k, v in outputs.items() if k != "baselines" and v}
        gap = {"gap": ("multitask", "all_in_one")} if "all_in_one" in groups else {}
        intervals = delta_m_intervals(
            suite.test, suite.tasks, groups, outputs["baselines"], differences=gap, seed=config.seed
        )
        report.plan_minus_all_in_one_ci95 = intervals.pop("gap", None)
        if config.distill:
            # students are trained once, so their interval is against the baselines' first repeat, as their Δm%
            student = [
                {
                    t: test_outputs(run, "students", plan.assignment[t], _trained(plan, t), suite, config.fit, 0)[t]
                    for t in served
                }
            ]
            intervals |= delta_m_intervals(
                suite.test, suite.tasks, {"student": student}, outputs["baselines"][:1], seed=config.seed
            )
        report.delta_m_ci95 = intervals

    # 5. deployment manifest and results
    group = "students" if config.distill else "networks"
    checkpoints = {d.name: run.path(group, file_stem(d.name), ".pt") for d in plan.details}
    report.manifest = str(write_plan_manifest(run.out, plan, suite, config.fit, checkpoints, distilled=config.distill))
    results = json.dumps(report.to_dict(), indent=1)
    atomic_write(output_path(run.out, "results.json"), lambda p: p.write_text(results))
    say(f"manifest written to {report.manifest}")
    return report


def _trained(plan: Plan, task: str) -> tuple[str, ...]:
    """The tasks the network serving ``task`` is trained on."""
    return next(d.trained_tasks for d in plan.details if d.name == plan.assignment[task])


def _teacher_units(
    run: RunFolder, tasks: Sequence[str], suite: TaskSuite, config: RunConfig, say: Callable[[str], None]
) -> Teachers:
    """Each task's single-task teacher ensemble (members' outputs on every split), trained once and cached."""
    kinds, outputs, members = {}, {}, {}
    for task in tasks:
        path = run.path("teachers", file_stem(task), ".npz")
        if path.exists():
            one = Teachers.load(path)
            say(f"teacher {task}: finished earlier, kept")
        else:
            one = single_task_teachers(
                suite,
                [task],
                config=config.fit,
                teacher=config.teacher,
                seed=derive_seed(config.seed, "teacher", task),
                say=say,
            )
            one.save(path)
        kinds.update(one.kinds)
        outputs.update(one.outputs)
        members.update(one.members)
    return Teachers(kinds, outputs, members)


def write_plan_manifest(
    out: Path,
    plan: Plan,
    suite: TaskSuite,
    fit_config: TrainConfig,
    checkpoints: Mapping[str, Path],
    *,
    distilled: bool,
) -> Path:
    """Write ``out/manifest.json`` for ``plan``'s networks, whose checkpoints (inside ``out``) ``checkpoints`` names."""
    entries = []
    for d in plan.details:
        path = checkpoints[d.name]
        model, extra = load_checkpoint(path, model=fit_config.factory())
        profile = profile_model(model, suite.example_batch())
        entries.append(
            {
                "name": d.name,
                "trained_tasks": list(d.trained_tasks),
                "serves": sorted(t for t, n in plan.assignment.items() if n == d.name),
                "variant": network_variant(d.name),
                **{key: profile[key] for key in COST_KEYS},
                "checkpoint": path.relative_to(out).as_posix(),
                "sha256": sha256_file(path),
                "distilled_tasks": extra.get("distilled_tasks", []),
                "test_metrics": extra["test_metrics"],
            }
        )
    manifest_path = output_path(out, "manifest.json")
    write_manifest(
        {
            # the params let `taskgroup export` rebuild a built-in suite's validation rows to verify on
            "suite": {"name": suite.name, "fingerprint": suite.fingerprint(), "params": _json_entries(suite.params)},
            "input_shape": list(suite.input_shape),
            "input_dtype": str(suite.example_batch().dtype).replace("torch.", ""),
            "feature_names": list(suite.feature_names),
            "preprocessing": suite.preprocessing,
            "tasks": [t.to_dict() for t in suite.tasks if t.name in plan.assignment],
            "model": fit_config.to_dict()["model"],
            "distilled": distilled,
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
