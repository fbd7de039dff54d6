"""From data to a deployable plan: measure or estimate, frontier, plan, train, evaluate, report.

:func:`run_pipeline` is what ``taskgroup run`` calls. Everything goes to one folder::

    settings.json   the run's settings (a resumed run must use the same ones, except budget and objective)
    results.db      the measurement store (every finished network committed as it finishes)
    problem.csv     the selection problem (measured or predicted losses, cost columns)
    affinity.csv    pairwise affinity (source -> target) behind the heatmap
    frontier.csv    the budget frontier; frontier.png its plot
    plan.json       the chosen plan
    manifest.json   the deployment manifest, with checkpoints under networks/ (students/ with --distill)
    results.json    test metrics and Δm% of the trained networks
    report.html     the self-contained report, with its PNGs

Each step commits what it finished, so running the same command again resumes: measured networks are not
measured again and trained networks are not trained again. A different ``budget`` or ``objective`` resumes too:
they only decide which plan is chosen, and a network trains the same whatever plan it is part of.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taskgroup.errors import InfeasibleBudget, InvalidArgument, PipelineError
from taskgroup.naming import is_full_size
from taskgroup.objectives import OBJECTIVES, WEIGHTED_OBJECTIVES, relative_weights, selection_problem
from taskgroup.plan import Frontier, Plan
from taskgroup.problem import Problem
from taskgroup.solvers import frontier, solve

__all__ = [
    "RunSettings",
    "RunOutcome",
    "run_pipeline",
    "knee_budget",
    "default_model",
    "default_train_config",
    "pair_affinity",
    "STRATEGIES",
    "OBJECTIVES",
    "PipelineError",
]

STRATEGIES = ("full", "hoa", "esa", "tag")


@dataclass(frozen=True)
class RunSettings:
    """What ``taskgroup run`` does. Defaults finish in a few minutes on 2 CPU cores.

    Attributes
    ----------
    suite : str
        A built-in suite (``tg.datasets.available_suites()``); default the ``mnist`` image suite, where negative
        transfer exists (the style task ``slant`` hurts the label tasks) and scarce labels make sharing pay.
    suite_params : dict
        Parameters of the suite loader (e.g. ``{"clusters": [3, 2]}``).
    strategy : {"full", "hoa", "esa", "tag"}
        How candidate losses are obtained: train every candidate (``full``), train pairs and predict larger
        groups (``hoa``), select on short runs and fully train only the chosen (``esa``), or TAG lookahead
        affinity from one all-task run (``tag``; budget and cost in numbers of networks).
    objective : {"metric", "calibrated", "relative", "sum"}
        What a plan minimises on validation (:mod:`taskgroup.objectives`): each task's metrics relative to its own
        single-task network's, the per-task term of the Δm% the report computes on test (``metric``); each task's
        temperature-calibrated loss relative to its single-task network's (``calibrated``); its plain loss
        relative to its single-task network's (``relative``); or the plain sum of losses (``sum``, as in Standley
        et al.). Not used by ``tag``, whose objective is an affinity.
    budget : float or None
        None: the knee of the frontier (see :func:`knee_budget`).
    cost : {"flops", "params", "latency_ms", "snt"}
        The cost column the budget constrains (normalised: a full single-task network costs 1).
    model : {"mlp", "cnn", "mmoe"} or None
        Model family of the candidate networks and (unless ``arch`` says otherwise) of the plan's networks.
        None: the suite's inputs decide (:func:`default_model`): ``cnn`` for images, ``mlp`` otherwise.
    arch : {"mlp", "cnn", "mmoe"} or None
        Model family of the plan's networks when it differs from the measured one (e.g. ``mmoe``); None: ``model``.
    distill : bool
        Train teacher ensembles and distil them into the plan's networks (MT-DNN-KD).
    executor : str
        ``"serial"``, ``"process"``, ``"process:N"`` or ``"dask://HOST:PORT"``.
    epochs : int
        Epochs of a full training run (the measurement, ESA's final runs and the plan's networks).
    esa_fraction : float
        ESA's short schedule as a fraction of ``epochs``.
    seeds : int
        Measurement seeds per candidate.
    seed : int
    device : str
        Where networks train: ``"cpu"`` (default), ``"cuda"``, ``"mps"``.
    threads : int or None
        torch CPU threads (default: the cores available to the process; see
        :func:`taskgroup.engine.configure_threads`).

    ``executor``, ``device`` and ``threads`` change where and how fast a run goes, not what it computes, so a run
    may be resumed with other values.
    """

    suite: str = "mnist"
    suite_params: Mapping[str, Any] = field(default_factory=dict)
    strategy: str = "full"
    objective: str = "relative"
    budget: float | None = None
    cost: str = "flops"
    model: str | None = None
    arch: str | None = None
    distill: bool = False
    executor: str = "serial"
    epochs: int = 30
    esa_fraction: float = 0.2
    seeds: int = 1
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise InvalidArgument(f"strategy={self.strategy!r} is not accepted; accepted: {list(STRATEGIES)}.")
        if self.objective not in OBJECTIVES:
            raise InvalidArgument(f"objective={self.objective!r} is not accepted; accepted: {list(OBJECTIVES)}.")
        if self.budget is not None and not self.budget > 0:
            raise InvalidArgument(f"budget={self.budget!r}; a budget must be a number > 0 (or None for the knee).")
        if not 0 < self.esa_fraction < 1:
            raise InvalidArgument(f"esa_fraction={self.esa_fraction!r}; accepted: a number in (0, 1).")
        if self.epochs < 1 or self.seeds < 1:
            raise InvalidArgument(f"epochs={self.epochs!r} and seeds={self.seeds!r} must both be >= 1.")
        from taskgroup.measure.executors import check_executor

        check_executor(self.executor)

    @property
    def weighted_objective(self) -> bool:
        """Whether the problem's task weights divide by the single-task networks' values (``tag``'s objective is
        an affinity, never weighted)."""
        return self.objective in WEIGHTED_OBJECTIVES and self.strategy != "tag"

    def to_dict(self) -> dict[str, Any]:
        """The settings that decide the results (where the work runs, ``executor``, ``device`` and ``threads``,
        left out: a run started on a Dask cluster resumes in one process)."""
        data = asdict(self)
        data["suite_params"] = dict(self.suite_params)
        del data["executor"], data["device"], data["threads"]
        return data


@dataclass
class RunOutcome:
    """What a run produced (the files are in ``out``)."""

    out: Path
    problem: Problem
    frontier: Frontier
    plan: Plan
    budget: float
    budget_rule: str
    affinity: pd.DataFrame | None
    train: Any  # taskgroup.train.TrainReport
    timings: dict[str, float]
    report: Path | None = None


def knee_budget(frontier: Frontier | pd.DataFrame) -> float:
    """The default budget: the knee of the frontier (a Frontier, or a table with budget and objective columns).

    With budgets and objectives scaled to [0, 1] between the cheapest plan that serves every task (the
    frontier's first row) and the best plan at any budget (its last row), the knee is the step farthest below
    the straight line between those two (the "Kneedle" rule): past it, more budget buys less than it did
    on average. Ties go to the cheaper budget.
    """
    table = frontier.to_frame() if isinstance(frontier, Frontier) else frontier
    data = table.dropna(subset=["objective"])
    if data.empty:
        raise InvalidArgument("The frontier has no feasible budget, so it has no knee.")
    budgets, objectives = data["budget"].to_numpy(dtype=float), data["objective"].to_numpy(dtype=float)
    if len(data) == 1 or objectives[0] == objectives[-1]:
        return float(budgets[0])
    x = (budgets - budgets[0]) / (budgets[-1] - budgets[0])
    y = (objectives - objectives[-1]) / (objectives[0] - objectives[-1])
    return float(budgets[int(np.argmax((1 - x) - y))])


def _full_size_losses(problem: Problem, size: int) -> dict[tuple[str, ...], dict[str, float]]:
    """Each full-size network (no size suffix) serving ``size`` tasks: its tasks -> {task: loss}."""
    found = {}
    for name in problem.networks:
        served = problem.network_tasks(name)
        if is_full_size(name) and len(served) == size:
            row = problem.losses[problem.network_index(name)]
            found[served] = {t: float(row[problem.task_index(t)]) for t in served}
    return found


def _single_task_losses(problem: Problem) -> dict[str, float]:
    return {served[0]: losses[served[0]] for served, losses in _full_size_losses(problem, 1).items()}


def pair_affinity(problem: Problem) -> pd.DataFrame:
    """``A.loc[u, t] = 1 - L_t({t, u}) / L_t({t})``: how much training with u lowered t's loss (full-size nets).

    Needs the single-task and two-task full-size networks (those without a size suffix); missing pairs
    are NaN. Positive: u helps t.
    """
    tasks = list(problem.tasks)
    single = _single_task_losses(problem)
    sign = -1.0 if problem.higher_is_better else 1.0
    matrix = pd.DataFrame(np.nan, index=pd.Index(tasks, name="source"), columns=pd.Index(tasks, name="target"))
    for (a, b), losses in _full_size_losses(problem, 2).items():
        for t, u in ((a, b), (b, a)):
            if t in single and single[t] != 0:
                matrix.loc[u, t] = sign * (1 - losses[t] / single[t])
    return matrix


# ---------------------------------------------------------------------- the run
def run_pipeline(
    settings: RunSettings,
    out: str | PathLike[str],
    *,
    progress: bool = True,
    say: Callable[[str], None] = print,
) -> RunOutcome:
    """Run every step of ``taskgroup run`` into ``out``; resume whatever an earlier run finished.

    Raises
    ------
    InvalidArgument
        Bad settings, or ``out`` holds a run with other settings (other than ``budget`` and ``objective``).
    PipelineError
        A step failed; the message names it and the folder with the partial results.
    """
    from taskgroup.datasets import load_suite  # lazy: torch is only needed here
    from taskgroup.engine import configure_threads, resolve_device

    resolve_device(settings.device)
    configure_threads(settings.threads)  # before any work: threads that never busy-wait (issue 9, item 4)
    out = Path(out)
    suite = load_suite(settings.suite, **dict(settings.suite_params))  # bad suite settings claim no folder
    out.mkdir(parents=True, exist_ok=True)
    _check_settings(out, settings, say)
    timings: dict[str, float] = {}

    with _step("measure", out, timings, say):
        problem, test_problem, affinity = _candidates(settings, suite, out, progress, say)
        if settings.weighted_objective:
            # the same weights on test, so that plans are scored on test exactly as they were chosen
            weights = relative_weights(problem)
            problem = problem.with_weights(weights)
            test_problem = None if test_problem is None else test_problem.with_weights(weights)
        problem.to_csv(out / "problem.csv")
        if affinity is not None:
            affinity.to_csv(out / "affinity.csv")
    with _step("frontier", out, timings, say):
        front = frontier(problem, cost=problem.cost_names[0])
        front.to_frame().to_csv(out / "frontier.csv", index=False)
    with _step("plan", out, timings, say):
        if settings.budget is None:
            budget = knee_budget(front)
            rule = "the frontier's knee"
        else:
            budget, rule = settings.budget, "given"
        plan = solve(problem, budget)
        if settings.strategy == "esa":
            plan = _esa_train_chosen(settings, suite, out, problem, plan, progress, say)
        plan.to_json(out / "plan.json")
        say(plan.summary())
    with _step("train", out, timings, say):
        from taskgroup.train import RunConfig, train_plan

        config = RunConfig(
            distill=settings.distill,
            seed=settings.seed,
            all_in_one=True,
            fit=_train_config(settings, suite=suite, family=settings.arch),
        )
        train = train_plan(plan, suite, out, config, say=say if progress else None)
    outcome = RunOutcome(out, problem, front, plan, budget, rule, affinity, train, timings)
    with _step("report", out, timings, say):
        from taskgroup.report import write_report

        outcome.report = write_report(outcome, settings, test_problem=test_problem)
    say(f"report: {outcome.report}")
    return outcome


# Settings that only decide which plan is chosen. A network trains the same whatever plan it is part of (its seed
# comes from its name), so a run may resume with other values: its measurements and networks stay valid.
_PLANNING_SETTINGS = ("budget", "objective")


def _check_settings(out: Path, settings: RunSettings, say: Callable[[str], None]) -> None:
    path = out / "settings.json"
    wanted = settings.to_dict()
    if path.exists():
        stored = json.loads(path.read_text())
        stored.pop("executor", None)  # recorded by runs before it was left out of the settings that decide results
        differ = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        fixed = [k for k in differ if k not in _PLANNING_SETTINGS]
        if fixed:
            raise InvalidArgument(
                f"{str(out)!r} holds a run with other settings "
                f"({', '.join(f'{k}: {stored.get(k)!r} there, {wanted.get(k)!r} now' for k in fixed)}); "
                "use another --out folder, or the same settings to resume it (only "
                f"{' and '.join(_PLANNING_SETTINGS)} may change)."
            )
        if not differ:
            return
        say(
            f"resuming {str(out)!r} with "
            f"{', '.join(f'{k} {stored.get(k)!r} -> {wanted.get(k)!r}' for k in differ)}: "
            "the measurements and trained networks are kept, the plan is chosen again"
        )
    path.write_text(json.dumps(wanted, indent=1))


# What to do after a failed step, where "run it again" is not the answer
_RESUME_ADVICE = {
    InfeasibleBudget: "run again with a larger --budget (or none: the knee) in the same folder, which keeps them",
}


@contextmanager
def _step(name: str, out: Path, timings: dict[str, float], say: Callable[[str], None]) -> Iterator[None]:
    say(f"== {name}")
    start = time.perf_counter()
    try:
        yield
    except InvalidArgument:
        raise
    except Exception as exc:  # KeyboardInterrupt is not an Exception: it passes through untouched
        raise PipelineError(
            f"step '{name}' failed: {type(exc).__name__}: {str(exc).rstrip('.')}. Partial results are in "
            f"{str(out)!r}; {_RESUME_ADVICE.get(type(exc), 'run the same command again to resume')}."
        ) from exc
    timings[name] = time.perf_counter() - start


# The built-in families' settings for image suites: two small conv layers, then dense layers on the flattened
# map (positions matter for stroke tasks such as slant) ending in a narrow 16-unit layer, where features cluster
# by class so that a head trained on few labels can read a union of classes off them (docs/measure.md, mnist),
# and batches small enough for ~50 steps an epoch.
_IMAGE_MODEL = {"hidden": (8, 16), "options": {"dense": (64, 16)}, "batch_size": 32}


def default_model(suite: Any) -> str:
    """The family ``taskgroup run`` measures a suite with: ``cnn`` for image inputs ``(C, H, W)``, else ``mlp``."""
    return "cnn" if len(suite.input_shape) == 3 else "mlp"


def default_train_config(suite: Any, family: str | None = None, **changes: Any) -> Any:
    """The training configuration taskgroup uses for ``suite`` unless told otherwise, with ``changes`` applied.

    ``family`` None means :func:`default_model`. The ``cnn`` family gets the image settings every command shares
    (conv channels 8 and 16, dense layers of 64 and 16 units, batches of 32; docs/measure.md says why); ``changes``
    (the options a user gave) override them. ``taskgroup run``, ``measure``, ``train`` and ``affinity`` all build
    their configuration here, so an image suite is trained the same way whichever command trains it.
    """
    from taskgroup.engine import TrainConfig

    family = family or default_model(suite)
    config = TrainConfig(model=family)
    if family == "cnn":
        config = config.replace(**_IMAGE_MODEL)
    return config.replace(**changes)


def _train_config(settings: RunSettings, epochs: int | None = None, *, suite: Any, family: str | None = None) -> Any:
    """How candidates (``family`` None) or the plan's networks (``family=settings.arch``) are built and trained."""
    return default_train_config(
        suite, family or settings.model, epochs=epochs or settings.epochs, device=settings.device
    )


def _measure(settings: RunSettings, suite: Any, out: Path, candidates: Any, epochs: int | None, progress: bool) -> Any:
    from taskgroup.measure import measure

    return measure(
        suite,
        out / "results.db",
        candidates=candidates,
        config=_train_config(settings, epochs, suite=suite),
        seeds=settings.seeds,
        executor=settings.executor,
        progress=progress,
    )


def _from_store(out: Path, split: str, settings: RunSettings, suite: Any, epochs: int | None = None) -> Problem:
    """The problem of ``split`` under the run's objective, unweighted (``run_pipeline`` weights it once, on
    validation, and scores test with the same weights)."""
    from taskgroup.measure.store import ResultStore

    config = _train_config(settings, epochs, suite=suite).hash()
    store = ResultStore(out / "results.db", create=False)
    return selection_problem(store, settings.objective, split=split, cost=settings.cost, config=config)


def _candidates(
    settings: RunSettings, suite: Any, out: Path, progress: bool, say: Callable[[str], None]
) -> tuple[Problem, Problem | None, pd.DataFrame | None]:
    """The selection problem, the test-split problem to score plans on (when measured), and an affinity."""
    strategy = settings.strategy
    if strategy == "full":
        _measure(settings, suite, out, "all", None, progress)
        val = _from_store(out, "val", settings, suite)
        return val, _from_store(out, "test", settings, suite), pair_affinity(val)
    if strategy == "hoa":
        from taskgroup.estimate import hoa

        _measure(settings, suite, out, "pairs", None, progress)
        pairs = _from_store(out, "val", settings, suite)
        predicted = hoa(pairs, cost_value=np.ones(len(pairs.cost_names)))
        return _with_profiled_costs(predicted, settings, suite, out), None, pair_affinity(pairs)
    if strategy == "esa":
        from taskgroup.estimate import esa

        short_epochs = max(1, round(settings.esa_fraction * settings.epochs))
        _measure(settings, suite, out, "all", short_epochs, progress)
        short = _from_store(out, "val", settings, suite, short_epochs)
        return esa(short), None, pair_affinity(short)
    return _tag_problem(settings, suite, say)


def _with_profiled_costs(problem: Problem, settings: RunSettings, suite: Any, out: Path) -> Problem:
    """The problem with every network's cost read from the store, profiling (never training) those not in it.

    HOA predicts the losses of groups it never trains; their costs come from profiling the architecture the
    group would have, exactly as measured networks are profiled, and are normalised the same way.
    """
    from taskgroup.measure import ResultStore, normalise_costs, parse_candidate, profile_candidates

    store = ResultStore(out / "results.db")
    fp, config = suite.fingerprint(), _train_config(settings, suite=suite)
    # networks are matched by what they are (task set and variant), not by how the problem spells their names
    wanted = {name: parse_candidate(name, suite.task_names) for name in problem.networks}
    costed = store.costed(fp, config.hash())
    missing = sorted({c for c in wanted.values() if c.name not in costed})
    if missing:
        store.add_costs(fp, config.hash(), profile_candidates(suite, missing, config))
    costs = normalise_costs(store.costs(fp, config.hash())).set_index("network")
    rows = costs.loc[[wanted[name].name for name in problem.networks], list(problem.cost_names)]
    return Problem(
        problem.tasks,
        problem.networks,
        rows.to_numpy(),
        problem.losses,
        problem.weights,
        problem.cost_names,
        higher_is_better=problem.higher_is_better,
        predicted=problem.predicted,
    )


def _esa_train_chosen(
    settings: RunSettings, suite: Any, out: Path, short: Problem, plan: Plan, progress: bool, say: Callable[[str], None]
) -> Plan:
    """ESA's second half: fully train only the networks chosen on short-run losses, and re-score them."""
    from taskgroup.measure import ResultStore

    _measure(settings, suite, out, list(plan.networks), None, progress)
    # Only the chosen networks ran the full schedule, so there is no single-task network to normalise costs
    # by; the losses are all that is needed here.
    table = ResultStore(out / "results.db").table(
        "val", settings.cost, normalise=False, config=_train_config(settings, suite=suite).hash()
    )
    scored = Problem.from_frame(table, cost=settings.cost).evaluate(plan.networks)
    say(f"ESA: chosen on short runs (objective {plan.objective:.4g}); fully trained: objective {scored.objective:.4g}")
    return plan


def _tag_problem(settings: RunSettings, suite: Any, say: Callable[[str], None]) -> tuple[Problem, None, pd.DataFrame]:
    from taskgroup.estimate import group_problem, suite_affinity

    run = suite_affinity(
        suite, ("tag",), config=_train_config(settings, suite=suite), epochs=settings.epochs, seed=settings.seed
    )
    matrix = run.tag
    say(f"TAG affinity from one all-task run over {len(matrix)} tasks ({len(run.measured_steps)} lookahead steps)")
    return group_problem(matrix, singletons="exclude"), None, matrix
