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

Standard errors (``Problem.loss_se``) have two parts: training noise, the spread of the K repeats over ``sqrt(K)``
(unknown with one repeat), and evaluation noise, a bootstrap over the split's rows, known from one run. The
repeats are scored on the same rows, so their spread does not contain the evaluation noise of those rows and it
does not shrink with K: ``se² = s²/K + e²`` (:func:`taskgroup.uncertainty.repeat_se`). ``e`` is, per objective:

``metric``
    A paired bootstrap: the network's and the single-task network's metrics on the same resamples of the rows
    (replicates recorded at measurement, :mod:`taskgroup.measure.replicates`), ``1 - g`` on each resample of the
    mean over repeats, and ``e`` their standard deviation. The training part also holds the single-task network's
    spread over ``sqrt(K)``: every other value is measured against its mean over repeats. The single-task network
    itself scores exactly 1 (on every resample, and on average over its repeats): its standard error is 0, and
    another network's is that of its difference with it.
``calibrated``, ``relative``, ``sum``
    The bootstrap error of the mean loss (``<split>_calibrated_loss_se``, ``<split>_loss_se``), unpaired: the
    single-task loss these objectives divide by is a task weight, the same for every network of the task.

Stores written before the replicates and ``calibrated_loss_se`` were recorded give ``e`` = NaN: ``se`` is then
``s/√K`` with repeats and NaN with one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from taskgroup.errors import InvalidArgument
from taskgroup.estimate.pairs import single_task_losses
from taskgroup.problem import Problem
from taskgroup.uncertainty import repeat_se, replicate_se

__all__ = [
    "OBJECTIVES",
    "WEIGHTED_OBJECTIVES",
    "selection_problem",
    "metric_values",
    "relative_weights",
    "describe_objective",
    "objective_axis_label",
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


def objective_axis_label(objective: str) -> str:
    """A short name of what ``objective`` sums, for a plot's axis (:func:`describe_objective` says it in full).

    Parameters
    ----------
    objective : {"metric", "calibrated", "relative", "sum"}

    Returns
    -------
    str

    Raises
    ------
    InvalidArgument
        An unknown objective.
    """
    labels = {
        "metric": "Σ (1 − relative metric change)",
        "calibrated": "Σ relative calibrated loss",
        "relative": "Σ relative validation loss",
        "sum": "total validation loss",
    }
    _check(objective)
    return labels[objective]


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
    errors: str = "total",
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
    errors : {"total", "training"}
        The standard errors in ``Problem.loss_se``: over training repeats and evaluation rows (see the module
        docstring), or over training repeats alone (NaN with one repeat), as :meth:`ResultStore.table`.

    Returns
    -------
    Problem
        Lower is better, every task weight 1; values are means over the measured seeds. For ``calibrated`` and
        ``relative`` the normalisation is left to the caller, ``problem.with_weights(relative_weights(problem))``,
        so that a test problem can take the validation problem's weights and score plans as they were chosen.

    Raises
    ------
    InvalidArgument
        An unknown objective, split or errors, a store that did not record
        what the objective reads (stores measured before metrics and calibration were recorded, or the black-box
        route, which reports losses only), or a task without a full-size single-task network.
    """
    _check(objective)
    if errors not in ("total", "training"):
        raise InvalidArgument(f"errors={errors!r}; accepted: 'total', 'training'.")
    table = store.table(split, cost, suite=suite, config=config)  # type: ignore[attr-defined]
    results = _run_results(store, suite, config)
    results = results[results["network"].isin(set(table["network"]))]
    if objective == "metric":
        replicates = None
        if errors == "total":
            run = results.iloc[0]
            replicates = store.replicates(run["suite"], run["config"], split)  # type: ignore[attr-defined]
        values = metric_values(results, split, replicates)
    else:
        column = f"{split}_{_LOSS_COLUMN[objective]}"
        _require(results, [column], objective)
        error = f"{column}_se"
        evaluation = results[error] if error in results and errors == "total" else np.nan
        values = _mean_se(results.assign(value=results[column], evaluation=evaluation))
    # the store's loss columns describe the plain loss; these values are the objective's, with its errors
    not_costs = ("network", "task", "loss", "loss_std", "loss_se", "seeds")
    table = table.drop(columns=[c for c in not_costs[2:] if c in table.columns])
    table = table.merge(values, on=["network", "task"], how="left")
    cost_cols = [c for c in table.columns if c not in not_costs]
    tasks = store.task_order(table, suite, config)  # type: ignore[attr-defined]
    return Problem.from_frame(table, cost=cost_cols, tasks=tasks)


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


def _mean_se(frame: pd.DataFrame) -> pd.DataFrame:
    """``network, task, loss, loss_std, loss_se, seeds`` from per-seed rows with a ``value`` column and an
    ``evaluation`` column (each seed's evaluation error, NaN: unknown); ``loss_se`` combines the spread over
    training repeats with the evaluation error (:func:`~taskgroup.uncertainty.repeat_se`), NaN where neither is
    known."""
    grouped = frame.groupby(["network", "task"], sort=False)
    out = grouped["value"].mean().rename("loss").to_frame()
    out["loss_std"] = grouped["value"].std(ddof=1).fillna(0.0)
    out["seeds"] = grouped["value"].count()
    out["loss_se"] = grouped[["value", "evaluation"]].apply(lambda rows: repeat_se(rows["value"], rows["evaluation"]))
    return out.reset_index()


def metric_values(results: pd.DataFrame, split: str = "val", replicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per (network, task) and seed: ``1 -`` the task's relative metric change against its single-task network.

    Parameters
    ----------
    results : pandas.DataFrame
        :meth:`ResultStore.results` rows of one run (``network, task, seed, served`` and ``<split>_<metric>``
        for each metric of :data:`~taskgroup.tasks.METRICS_BY_KIND`).
    split : {"val", "test"}
    replicates : pandas.DataFrame, optional
        The run's bootstrap replicates on ``split`` (:meth:`ResultStore.replicates`: ``network, seed, task,
        metric, samples``), for the evaluation part of the standard errors; None leaves it out.

    Returns
    -------
    pandas.DataFrame
        ``network, task, loss, loss_std, loss_se, seeds``: the mean over seeds of ``1 - Δm_t / 100`` (each seed
        against the single-task network's metrics averaged over its seeds), its standard deviation, its standard
        error and the seed count. The standard error is ``sqrt(s²/K + e²)``: ``s`` the spread of the K seeds'
        values (unknown with one), ``e`` the paired bootstrap error of their mean (the network and the single-task
        network on the same resamples of the rows); ``e`` is unknown without ``replicates`` or where a network or
        the single-task network has none (NaN where neither part is known).

    Raises
    ------
    InvalidArgument
        A task without a full-size single-task network, a metric missing or undefined (NaN, e.g. AUC on a split
        holding one class) for some network, or a single-task metric of 0 (no relative change).
    """
    # taskgroup.tasks loads torch (its package imports the suites); reading a store and solving must not
    from taskgroup.tasks.metrics import HIGHER_IS_BETTER

    if split not in ("val", "test"):
        raise InvalidArgument(f"split={split!r}; accepted: 'val', 'test'.")
    samples = {} if replicates is None else _samples_by_key(replicates)
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

        # the single-task network's training noise moves every other network's value (they are measured against
        # its mean over seeds) but not its own: it scores exactly 1
        base_training = _variance_of_mean(_one_minus_g(single, split, baseline))
        # each metric of the single-task network on every resample, averaged over its seeds like its value
        base_samples = _mean_samples(samples, task, names, single)
        for network, of_network in of_task.groupby("network", sort=False):
            values = _one_minus_g(of_network, split, baseline)
            se = 0.0
            if network != task:
                evaluation = math.nan
                mine = _mean_samples(samples, task, names, of_network)
                if mine is not None and base_samples is not None and _same_length(mine, base_samples):
                    # 1 - g on each resample of the mean over seeds, both networks on the same rows (paired)
                    changes = [
                        (1.0 if HIGHER_IS_BETTER[m] else -1.0) * (mine[m] - base_samples[m]) / np.abs(base_samples[m])
                        for m in names
                    ]
                    with np.errstate(divide="ignore", invalid="ignore"):
                        evaluation = replicate_se(1.0 - np.mean(changes, axis=0)) ** 2
                se = _root_of_known(_variance_of_mean(values) + base_training, evaluation)
            spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
            rows.append(
                {
                    "network": network,
                    "task": task,
                    "loss": float(np.mean(values)),
                    "loss_std": spread,
                    "loss_se": se,
                    "seeds": len(values),
                }  # fmt: skip
            )
    return pd.DataFrame(rows, columns=["network", "task", "loss", "loss_std", "loss_se", "seeds"])


def _one_minus_g(rows: pd.DataFrame, split: str, baseline: dict[str, dict[str, float]]) -> np.ndarray:
    """``1 - Δm_t / 100`` of each row (one seed of a network) against ``baseline`` (``{task: {metric: value}}``)."""
    from taskgroup.tasks.metrics import HIGHER_IS_BETTER, delta_m  # lazily: see metric_values

    ((task, metrics),) = baseline.items()
    measured = ({task: {m: float(getattr(r, f"{split}_{m}")) for m in metrics}} for r in rows.itertuples())
    return np.array([1.0 - delta_m(one, baseline, HIGHER_IS_BETTER) / 100.0 for one in measured])


def _variance_of_mean(values: np.ndarray) -> float:
    """The squared standard error of the mean over training repeats (NaN with one: unknown)."""
    return float(np.var(values, ddof=1)) / len(values) if len(values) > 1 else math.nan


def _root_of_known(*variances: float) -> float:
    """The square root of the sum of the known (finite) variances; NaN when none is known."""
    known = [v for v in variances if math.isfinite(v)]
    return math.sqrt(sum(known)) if known else math.nan


def _same_length(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> bool:
    """Whether two networks' replicates are the same resamples in number (stores of one taskgroup always are)."""
    return len({len(v) for v in (*first.values(), *second.values())}) == 1


def _samples_by_key(replicates: pd.DataFrame) -> dict[tuple[str, int, str, str], np.ndarray]:
    return {
        (str(r.network), int(r.seed), str(r.task), str(r.metric)): r.samples for r in replicates.itertuples(index=False)
    }


def _mean_samples(
    samples: dict[tuple[str, int, str, str], np.ndarray], task: object, names: Sequence[str], rows: pd.DataFrame
) -> dict[str, np.ndarray] | None:
    """Each metric's replicates averaged over the seeds of ``rows`` (one network's), or None where a seed has
    none, or their numbers differ."""
    found = {}
    for m in names:
        keys = [(str(n), int(s), str(task), m) for n, s in zip(rows["network"], rows["seed"])]
        if any(k not in samples for k in keys) or len({len(samples[k]) for k in keys}) != 1:
            return None
        found[m] = np.mean([samples[k] for k in keys], axis=0)
    return found


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
