"""From data to a deployable plan: measure or estimate, frontier, plan, train, evaluate, report.

:func:`run_pipeline` is what ``taskgroup run`` calls. Everything goes to one folder::

    settings.json   the run's settings (a resumed run must use the same ones, except budget and objective)
    results.db      the measurement store (every finished network committed as it finishes)
    problem.csv     the selection problem (measured or predicted losses, cost columns)
    affinity.csv    pairwise affinity (source -> target) behind the heatmap
    frontier.csv    the budget frontier; frontier.png its plot
    plan.json       the chosen plan
    manifest.json   the deployment manifest, with checkpoints under networks/
    distilled/      with --distill: the plan distilled into one network (taskgroup.train.compress), its manifest
    results.json    test metrics and Δm% of the trained networks
    report.html     the self-contained report, with its PNGs

Each step commits what it finished, so running the same command again resumes: measured networks are not
measured again and trained networks are not trained again. A different ``budget`` or ``objective`` resumes too:
they only decide which plan is chosen, and a network trains the same whatever plan it is part of.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from taskgroup.errors import InfeasibleBudget, InvalidArgument, PipelineError
from taskgroup.files import atomic_write
from taskgroup.objectives import relative_weights
from taskgroup.outputs import claim_folder, output_path
from taskgroup.plan import Frontier
from taskgroup.run_settings import RunOutcome, RunSettings
from taskgroup.solvers import frontier, solve

__all__ = ["run_pipeline", "knee_budget"]


def knee_budget(frontier: Frontier | pd.DataFrame, *, z: float = 1.0) -> float:
    """The default budget: the knee of the frontier, moved to a cheaper plan when the knee's gain is within noise.

    With budgets and objectives scaled to [0, 1] between the cheapest plan that serves every task (the
    frontier's first row) and the best plan at any budget (its last row), the knee is the step farthest below
    the straight line between those two (the "Kneedle" rule): past it, more budget buys less than it did
    on average. Ties go to the cheaper budget.

    The robust rule: a costlier plan is bought only when its gain exceeds its uncertainty. Where the frontier
    knows its plans' standard errors (an ``objective_se`` column: measured with repeats or bootstrap errors), the
    budget is that of the cheapest frontier plan ``q`` not above the knee ``k`` whose objective is within ``z``
    standard errors of the knee's, ``obj_q - obj_k <= z * sqrt(se_q^2 + se_k^2)`` (``z = 1``: the one-standard-
    error rule). The two errors are added as if independent; plans evaluated on the same validation rows have
    correlated errors, so this overstates the difference's error and leans towards the cheaper plan.

    Parameters
    ----------
    frontier : Frontier or pandas.DataFrame
        A Frontier, or a table with ``budget`` and ``objective`` columns (and optionally ``objective_se``).
    z : float
        How many standard errors a costlier plan's gain must exceed (0: the plain knee).

    Returns
    -------
    float
        The budget.

    Raises
    ------
    InvalidArgument
        The frontier has no feasible budget, or ``z`` is negative.
    """
    if not z >= 0:
        raise InvalidArgument(f"z={z!r}; accepted: a number >= 0.")
    table = frontier.to_frame() if isinstance(frontier, Frontier) else frontier
    data = table.dropna(subset=["objective"])
    if data.empty:
        raise InvalidArgument("The frontier has no feasible budget, so it has no knee.")
    budgets, objectives = data["budget"].to_numpy(dtype=float), data["objective"].to_numpy(dtype=float)
    if len(data) == 1 or objectives[0] == objectives[-1]:
        return float(budgets[0])
    x = (budgets - budgets[0]) / (budgets[-1] - budgets[0])
    y = (objectives - objectives[-1]) / (objectives[0] - objectives[-1])
    knee = int(np.argmax((1 - x) - y))
    if "objective_se" not in data:
        return float(budgets[knee])
    errors = data["objective_se"].to_numpy(dtype=float)
    within = objectives[: knee + 1] - objectives[knee] <= z * np.sqrt(errors[: knee + 1] ** 2 + errors[knee] ** 2)
    # an unknown error (NaN) compares False: such a plan is never preferred on grounds of noise
    within[knee] = True
    return float(budgets[int(np.argmax(within))])


# ---------------------------------------------------------------------- the run
def run_pipeline(
    settings: RunSettings,
    out: str | PathLike[str],
    *,
    progress: bool = True,
    say: Callable[[str], None] = print,
    force: bool = False,
) -> RunOutcome:
    """Run every step of ``taskgroup run`` into ``out``; resume whatever an earlier run finished.

    ``force`` writes into a folder that holds files taskgroup did not write (see
    :func:`taskgroup.outputs.claim_folder`).

    Parameters
    ----------
    settings : RunSettings
        What to run.
    out : path
        The run folder (created if needed).
    progress : bool, default True
        Show the measurement's progress.
    say : callable(str), default print
        Where one-line messages go.
    force : bool, default False
        Write into a folder that holds files taskgroup did not write.

    Returns
    -------
    RunOutcome
        The problem, frontier, chosen plan and budget, the training report, the step timings and the report's
        path.

    Raises
    ------
    InvalidSuite
        Suite settings the suite does not accept.
    InvalidArgument
        Bad settings, ``out`` holds a run with other settings (other than ``budget`` and ``objective``) or on
        data that changed since (the suite's fingerprint), a symbolic link, or (without ``force``) files taskgroup
        did not write.
    PipelineError
        A step failed; the message names it and the folder with the partial results.
    """
    from taskgroup.datasets import load_suite  # lazy: torch is only needed here
    from taskgroup.engine import configure_threads, resolve_device

    resolve_device(settings.device)
    configure_threads(settings.threads or 1)  # before any work: threads that never busy-wait (issue 9, item 4)
    out = Path(out)
    suite = load_suite(settings.suite, **dict(settings.suite_params))  # bad suite settings claim no folder
    claim_folder(out, "run", force=force)
    _check_settings(out, settings, suite.fingerprint(), say)
    timings: dict[str, float] = {}

    with _step("measure", out, timings, say):
        from taskgroup.strategies import STRATEGIES, StrategyConfig

        measuring = StrategyConfig(
            train=_train_config(settings, suite=suite),
            cost=settings.cost,
            objective=settings.objective,
            # repeat k of every network has seed seed + k, in measurement and in training alike
            seeds=[settings.seed + k for k in range(settings.repeats)],
            executor=settings.executor,
            esa_fraction=settings.esa_fraction,
            seed=settings.seed,
            max_measured=settings.max_measured,
            n_networks=settings.n_networks,
            progress=progress,
            say=say,
        )
        estimate = STRATEGIES[settings.strategy](suite, output_path(out, "results.db"), measuring)
        problem, test_problem, affinity = estimate.problem, estimate.test, estimate.affinity
        if settings.weighted_objective:
            # the same weights on test, so that plans are scored on test exactly as they were chosen
            weights = relative_weights(problem)
            problem = problem.with_weights(weights)
            test_problem = None if test_problem is None else test_problem.with_weights(weights)
        problem.to_csv(output_path(out, "problem.csv"))
        if affinity is not None:
            affinity.to_csv(output_path(out, "affinity.csv"))
    with _step("frontier", out, timings, say):
        front = frontier(problem, cost=problem.cost_names[0])
        front.to_frame().to_csv(output_path(out, "frontier.csv"), index=False)
    with _step("plan", out, timings, say):
        if settings.budget is None:
            budget, rule = _robust_knee(front, settings, suite, out, problem.weights)
        else:
            budget, rule = settings.budget, "given"
        plan = solve(problem, budget)
        if estimate.finish is not None:
            estimate.finish(plan)
        plan.to_json(output_path(out, "plan.json"))
        say(plan.summary())
        if settings.strategy != "tag":  # measured and profiled costs are normalised; TAG's count networks
            say("costs (and budget) relative to a single-task network: 1 = one full-size single-task network")
    with _step("train", out, timings, say):
        from taskgroup.report import delta_m_summary, significance
        from taskgroup.train import RunConfig, train_plan

        fit = _train_config(settings, suite=suite, family=settings.arch)
        # a network measured with the same configuration and seed is the network the plan was chosen on: kept
        store = output_path(out, "results.db")
        measured = str(store) if store.exists() else None  # tag measures affinities in one run, no networks
        config = RunConfig(
            seed=settings.seed,
            repeats=settings.repeats,
            all_in_one=True,
            fit=fit,
            measured=measured,
            executor=settings.executor,
        )
        train = train_plan(plan, suite, out, config, say=say if progress else None, force=force, replan=True)
        if train.delta_m:
            say(f"on test: {delta_m_summary(train)}. {significance(train)}")
    distilled = None
    if settings.distill:
        with _step("distill", out, timings, say):
            from taskgroup.train.compress import (
                ALL_IN_ONE,
                DEFAULT_SOFT_WEIGHT,
                DEFAULT_TEMPERATURE,
                DistillConfig,
                distill,
            )

            student_fit = fit.replace(temperature=DEFAULT_TEMPERATURE, soft_weight=DEFAULT_SOFT_WEIGHT)
            distilled = distill(
                train.manifest,
                ALL_IN_ONE,
                output_path(out, "distilled"),
                DistillConfig(student_fit, seed=settings.seed),
                suite=suite,
                say=say if progress else None,
            )
    outcome = RunOutcome(out, problem, front, plan, budget, rule, affinity, train, timings, distilled=distilled)
    with _step("report", out, timings, say):
        from taskgroup.report import write_report

        outcome.report = write_report(outcome, settings, test_problem=test_problem)
    return outcome


def _robust_knee(
    front: Frontier, settings: RunSettings, suite: Any, out: Path, weights: np.ndarray
) -> tuple[float, str]:
    """The knee budget, and the rule that chose it, robust to training noise where repeats measured it.

    Frontier plans are compared on their errors across training repeats alone: they are scored on the same
    validation rows, so the evaluation part of their errors is shared and largely cancels in a difference.
    """
    plain = knee_budget(front, z=0.0)
    if settings.strategy != "full" or settings.repeats < 2:
        return plain, "the frontier's knee"
    from taskgroup.strategies.base import problem_from_store

    config = _train_config(settings, suite=suite)
    training = problem_from_store(
        out / "results.db", "val", settings.cost, config, errors="training", objective=settings.objective
    )
    training = training.with_weights(list(weights))
    table = front.to_frame()
    table["objective_se"] = [
        math.nan if plan is None else training.evaluate(plan.networks).objective_se for plan in front
    ]
    budget = knee_budget(table)
    if budget == plain:
        return budget, "the frontier's knee; its gain exceeds one standard error over repeats"
    return budget, (
        f"the frontier's knee at {plain:.4g} gains less than one standard error over repeats, so the cheaper plan "
        "was kept"
    )


# Settings that only decide which plan is chosen. A network trains the same whatever plan it is part of (its seed
# comes from its name), so a run may resume with other values: its measurements and networks stay valid.
_PLANNING_SETTINGS = ("budget", "objective")


def _check_settings(out: Path, settings: RunSettings, fingerprint: str, say: Callable[[str], None]) -> None:
    path = output_path(out, "settings.json")
    wanted = settings.to_dict()
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidArgument(
                f"{str(path)!r} is not the JSON settings taskgroup wrote ({exc}); delete it to start the run in "
                f"{str(out)!r} afresh (finished measurements are kept), or use another --out folder."
            ) from None
        if not isinstance(stored, dict):
            raise InvalidArgument(f"{str(path)!r} holds {type(stored).__name__}, not the settings taskgroup wrote.")
        recorded = stored.pop("suite_fingerprint", None)  # None: written by a version that did not record it
        differ = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        fixed = [k for k in differ if k not in _PLANNING_SETTINGS]
        if fixed:
            raise InvalidArgument(
                f"{str(out)!r} holds a run with other settings "
                f"({', '.join(f'{k}: {stored.get(k)!r} there, {wanted.get(k)!r} now' for k in fixed)}); "
                "use another --out folder, or the same settings to resume it (only "
                f"{' and '.join(_PLANNING_SETTINGS)} may change)."
            )
        if recorded not in (None, fingerprint):
            raise InvalidArgument(
                f"The suite's data changed since the run in {str(out)!r} started (fingerprint {recorded!r} there, "
                f"{fingerprint!r} now; e.g. its file was edited): restore the data to resume it, or use another "
                "--out folder."
            )
        if differ:
            say(
                f"resuming {str(out)!r} with "
                f"{', '.join(f'{k} {stored.get(k)!r} -> {wanted.get(k)!r}' for k in differ)}: "
                "the measurements and trained networks are kept, the plan is chosen again"
            )
        elif recorded is not None:
            return
    atomic_write(path, lambda p: p.write_text(json.dumps({**wanted, "suite_fingerprint": fingerprint}, indent=1)))


# What to do after a failed step, where "run it again" is not the answer
_RESUME_ADVICE: dict[type[Exception], str] = {
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


def _train_config(settings: RunSettings, epochs: int | None = None, *, suite: Any, family: str | None = None) -> Any:
    """How candidates (``family`` None) or the plan's networks (``family=settings.arch``) are built and trained."""
    from taskgroup.engine.defaults import default_train_config

    return default_train_config(
        suite, family or settings.model, epochs=epochs or settings.epochs, device=settings.device
    )
