"""What a plan minimises on validation: the selection problem of a measured store under each objective.

Every objective gives one number per (network, task), lower is better, so a plan's objective stays the sum over
its tasks of the value of the network serving each, and every solver applies unchanged:

``metric``
    ``1 - g``, where ``g`` is the task's relative change in *its metrics* (accuracy and AUC; RMSE and R²) against
    its own full-size single-task network: the per-task term of LibMTL's Δm% (:func:`taskgroup.tasks.delta_m`),
    which the report computes on test. The independent networks score the number of tasks ``T``, and a plan
    scoring ``S`` has validation Δm% ``100 (1 - S / T)``.
``calibrated``
    Each task's loss after temperature scaling of its head on the validation rows
    (:mod:`taskgroup.tasks.calibration`), relative to its single-task network's calibrated loss: the loss with the
    over- or under-confidence of a head taken out (regression losses are unchanged).
``relative``
    Each task's loss relative to its single-task network's (Δm's scale on the training loss).
``sum``
    The plain sum of losses (Standley et al. 2020).

The relative objectives (``calibrated``, ``relative``) carry their normalisation as task weights
(:func:`relative_weights`), so that a test problem can be weighted exactly as the validation problem was.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument
from taskgroup.estimate.pairs import single_task_losses
from taskgroup.problem import Problem

__all__ = [
    "OBJECTIVES",
    "WEIGHTED_OBJECTIVES",
    "selection_problem",
    "metric_values",
    "relative_weights",
    "describe_objective",
]

#: The objectives a plan can minimise (see the module docstring).
OBJECTIVES = ("metric", "calibrated", "relative", "sum")
#: The objectives whose values are divided by the single-task network's, through task weights.
WEIGHTED_OBJECTIVES = ("calibrated", "relative")

# The store column (after the split's prefix) each loss objective reads
_LOSS_COLUMN = {"calibrated": "calibrated_loss", "relative": "loss", "sum": "loss"}


def describe_objective(objective: str, n_tasks: int) -> str:
    """One phrase saying what ``objective`` sums, for reports ("the sum of ...").

    Parameters
    ----------
    objective : {"metric", "calibrated", "relative", "sum"}
    n_tasks : int
        The number of tasks (what the independent networks score under the relative objectives).

    Returns
    -------
    str

    Raises
    ------
    InvalidArgument
        An unknown objective.
    """
    texts = {
        "metric": f"the sum over tasks of 1 minus the relative change of each task's validation metrics against its "
        f"single-task network's ({n_tasks} for the independent networks; Δm% = 100 (1 - objective / {n_tasks}))",
        "calibrated": "the sum of each task's temperature-calibrated validation loss relative to its single-task "
        f"network's ({n_tasks} for the independent networks)",
        "relative": "the sum of each task's validation loss relative to its single-task network's "
        f"({n_tasks} for the independent networks)",
        "sum": "the total validation loss",
    }
    _check(objective)
    return texts[objective]


def _check(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise InvalidArgument(f"objective={objective!r} is not accepted; accepted: {list(OBJECTIVES)}.")


def selection_problem(
    store: object,
    objective: str,
    *,
    split: str = "val",
    cost: str | Sequence[str] | None = None,
    suite: str | None = None,
    config: str | None = None,
) -> Problem:
    """The problem of one measured run under ``objective``, on ``split``.

    Parameters
    ----------
    store : ResultStore
        The measurement store (:class:`taskgroup.measure.store.ResultStore`).
    objective : {"metric", "calibrated", "relative", "sum"}
    split : {"val", "test"}
    cost : str, list of str or None
        Cost resource(s), as :meth:`ResultStore.to_problem`.
    suite, config : str, optional
        Which run, when the store holds several.

    Returns
    -------
    Problem
        Lower is better, every task weight 1; values are means over the measured seeds. For ``calibrated`` and
        ``relative`` the normalisation is left to the caller, ``problem.with_weights(relative_weights(problem))``,
        so that a test problem can take the validation problem's weights and score plans as they were chosen.

    Raises
    ------
    InvalidArgument
        An unknown objective or split, a store that did not record
        what the objective reads (stores measured before metrics and calibration were recorded, or the black-box
        route, which reports losses only), or a task without a full-size single-task network.
    """
    _check(objective)
    table = store.table(split, cost, suite=suite, config=config)  # type: ignore[attr-defined]
    results = _run_results(store, suite, config)
    results = results[results["network"].isin(set(table["network"]))]
    if objective == "metric":
        values = metric_values(results, split)
    else:
        column = f"{split}_{_LOSS_COLUMN[objective]}"
        _require(results, [column], objective)
        values = _mean_std(results.rename(columns={column: "value"}))
    # the store's loss columns describe the loss; these values are something else, with errors over repeats only
    not_costs = ("network", "task", "loss", "loss_std", "loss_se", "seeds")
    table = table.drop(columns=[c for c in not_costs[2:] if c in table.columns])
    table = table.merge(values, on=["network", "task"], how="left")
    cost_cols = [c for c in table.columns if c not in not_costs]
    return Problem.from_frame(table, cost=cost_cols)


def _run_results(store: object, suite: str | None, config: str | None) -> pd.DataFrame:
    """The successful per-task rows of exactly one run of the store."""
    results = store.results(suite, config)  # type: ignore[attr-defined]
    runs = results[["suite", "config"]].drop_duplicates()
    if len(runs) > 1:
        raise InvalidArgument(
            f"The store holds {len(runs)} runs for suite={suite!r}, config={config!r}; name one with suite= and "
            "config=."
        )
    return results[(results["status"] == "ok") & results["task"].notna()]


def _require(results: pd.DataFrame, columns: Sequence[str], objective: str) -> None:
    missing = [c for c in columns if c not in results or results[c].isna().any()]
    if missing:
        lacking = sorted(results.loc[results[missing[0]].isna(), "network"].unique()) if missing[0] in results else []
        raise InvalidArgument(
            f"objective={objective!r} reads {missing} from the store, which did not record them"
            f"{f' for network(s) {lacking[:5]}' if lacking else ''} (measured before taskgroup recorded every "
            "metric and the calibrated loss, or by the black-box route, which reports losses only); measure again "
            "or use objective='relative'."
        )


def _mean_std(frame: pd.DataFrame) -> pd.DataFrame:
    """``network, task, loss, loss_std, loss_se, seeds`` from per-seed rows with a ``value`` column; ``loss_se``
    is the standard error over training repeats (NaN with one repeat: unknown)."""
    grouped = frame.groupby(["network", "task"], sort=False)["value"]
    out = grouped.mean().rename("loss").to_frame()
    spread = grouped.std(ddof=1)
    out["loss_std"] = spread.fillna(0.0)
    out["seeds"] = grouped.count()
    out["loss_se"] = spread / np.sqrt(out["seeds"])
    return out.reset_index()


def metric_values(results: pd.DataFrame, split: str = "val") -> pd.DataFrame:
    """Per (network, task) and seed: ``1 -`` the task's relative metric change against its single-task network.

    Parameters
    ----------
    results : pandas.DataFrame
        :meth:`ResultStore.results` rows of one run (``network, task, seed, served`` and ``<split>_<metric>``
        for each metric of :data:`~taskgroup.tasks.METRICS_BY_KIND`).
    split : {"val", "test"}

    Returns
    -------
    pandas.DataFrame
        ``network, task, loss, loss_std, loss_se, seeds``: the mean over seeds of ``1 - Δm_t / 100`` (each seed
        against the single-task network's metrics averaged over its seeds), its standard deviation, its standard
        error over training repeats (NaN with one seed) and the seed count.

    Raises
    ------
    InvalidArgument
        A task without a full-size single-task network, a metric missing or undefined (NaN, e.g. AUC on a split
        holding one class) for some network, or a single-task metric of 0 (no relative change).
    """
    # taskgroup.tasks loads torch (its package imports the suites); reading a store and solving must not
    from taskgroup.tasks.metrics import HIGHER_IS_BETTER, delta_m

    if split not in ("val", "test"):
        raise InvalidArgument(f"split={split!r}; accepted: 'val', 'test'.")
    rows = []
    for task, of_task in results.groupby("task", sort=False):
        names = _task_metric_names(of_task, split, str(task))
        columns = [f"{split}_{m}" for m in names]
        _require(of_task, columns, "metric")
        single = of_task[of_task["network"] == task]  # the full-size one: a size variant's name has a suffix
        if single.empty:
            raise InvalidArgument(
                f"objective='metric' compares each task with its full-size single-task network; task {task!r} has "
                "none in the store."
            )
        baseline = {str(task): {m: float(single[f"{split}_{m}"].mean()) for m in names}}
        for rec in of_task.itertuples(index=False):
            measured = {str(task): {m: float(getattr(rec, f"{split}_{m}")) for m in names}}
            gain = delta_m(measured, baseline, HIGHER_IS_BETTER) / 100.0
            rows.append({"network": rec.network, "task": task, "value": 1.0 - gain})
    return _mean_std(pd.DataFrame(rows, columns=["network", "task", "value"]))


def _task_metric_names(of_task: pd.DataFrame, split: str, task: str) -> tuple[str, ...]:
    """The metrics of the task's kind, told apart by which the store recorded (RMSE only for regression)."""
    from taskgroup.tasks.metrics import METRICS_BY_KIND  # lazily: see metric_values

    if f"{split}_rmse" in of_task and of_task[f"{split}_rmse"].notna().any():
        return METRICS_BY_KIND["regression"]
    if f"{split}_accuracy" in of_task and of_task[f"{split}_accuracy"].notna().any():
        return METRICS_BY_KIND["binary"]  # the same metrics as multiclass
    raise InvalidArgument(
        f"objective='metric' reads each task's metrics; the store recorded none for task {task!r} on {split} "
        "(measured before taskgroup recorded every metric, or by the black-box route, which reports losses "
        "only); measure again or use objective='relative'."
    )


def relative_weights(problem: Problem) -> dict[str, float]:
    """Task weights ``1 / L_t({t})`` that make a plan's objective the sum of each task's loss relative to its
    full-size single-task network's (the independent networks then score exactly the number of tasks).

    Parameters
    ----------
    problem : Problem
        Losses (lower is better), with every task's full-size single-task network.

    Returns
    -------
    dict
        Task -> weight.

    Raises
    ------
    InvalidArgument
        The problem scores metrics (higher is better), or a task has no full-size single-task network or a
        single-task loss that is not > 0.
    """
    if problem.higher_is_better:
        raise InvalidArgument("Relative weights need losses (lower is better); this problem scores metrics.")
    single = single_task_losses(problem)
    bad = {t: single.get(t) for t in problem.tasks if not single.get(t, 0.0) > 0}
    if bad:
        raise InvalidArgument(
            f"Relative weights need every task's full-size single-task loss > 0; got {bad} "
            "(None: no such network). Use objective='sum' to minimise the plain sum of losses."
        )
    return {t: 1.0 / single[t] for t in problem.tasks}
