r"""A group predictor fitted on measured groups: each task's loss in any group, from group membership.

From whatever has been measured (single-task networks, pairs, sampled larger groups), fit per task ``t``::

    L_t(G) = c_t + d_t log(|G| - 1) + mean_{u in G \ {t}} W[u, t]          for |G| >= 2

by ridge regression on the measured groups that contain ``t`` (``W`` and ``d`` penalised by ``alpha``, the
intercept ``c`` not). It is a linear model on the group-membership mask, as Grad-TAG's estimate of a subset's
loss (Li, Sharma & Zhang, KDD 2024), with two changes that keep it usable for selection: the membership term
is a *mean* over the other members, so groups larger than any measured one are not extrapolated linearly in
their size, and the size term is explicit. Fitted on pairs alone with ``alpha -> 0`` it reproduces the pair
losses, and the prediction of a larger group is Standley et al.'s HOA plus the (then unidentified) size term
at 0. Tasks absent from every measured group of another task get ``W[u, t] = 0`` (the average partner).

The result is a :class:`~taskgroup.grouping.cover.GroupScorer`, so :func:`tg.grouping.select_groups` chooses
among every group without listing them, with the measured groups at their measured losses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from taskgroup.errors import InvalidArgument
from taskgroup.grouping.cover import Group, GroupScorer
from taskgroup.problem import Problem

__all__ = ["fit_group_predictor", "measurements_from_problem", "Measurements"]

Measurements = Mapping[tuple[str, ...], Mapping[str, float]]


def measurements_from_problem(problem: Problem) -> dict[tuple[str, ...], dict[str, float]]:
    """``{task tuple: {task: loss}}`` of every network in ``problem`` (loss sense, unweighted).

    Parameters
    ----------
    problem : Problem
        Measured networks (loss sense).

    Returns
    -------
    dict
        ``{task tuple: {task: loss}}``.

    Raises
    ------
    InvalidArgument
        If two networks serve the same task set (e.g. a full- and a half-size single): keep one.
    """
    out: dict[tuple[str, ...], dict[str, float]] = {}
    for j, name in enumerate(problem.networks):
        members = problem.network_tasks(name)
        if members in out:
            raise InvalidArgument(
                f"Two networks serve {list(members)} (one is {name!r}); keep one per task set "
                "(problem.without_networks)."
            )
        out[members] = {t: float(problem.losses[j, problem.tasks.index(t)]) for t in members}
    return out


def _validated(tasks: Sequence[str], measurements: Measurements) -> dict[Group, dict[int, float]]:
    index = {t: i for i, t in enumerate(tasks)}
    out: dict[Group, dict[int, float]] = {}
    for members, losses in measurements.items():
        if isinstance(members, str):
            raise InvalidArgument(f"Measurement keys are tuples of task names; got the string {members!r}.")
        unknown = [t for t in members if t not in index]
        if unknown or not members or len(set(members)) != len(members):
            raise InvalidArgument(
                f"Measured group {members!r} is not accepted: give distinct tasks among {list(tasks)}."
            )
        if set(losses) != set(members):
            raise InvalidArgument(
                f"Measured group {members!r} has losses for {sorted(losses)}; give one loss per member."
            )
        bad = {t: v for t, v in losses.items() if not np.isfinite(v)}
        if bad:
            raise InvalidArgument(f"Measured group {members!r} has non-finite losses {bad}.")
        group = frozenset(index[t] for t in members)
        if group in out:
            raise InvalidArgument(
                f"Group {sorted(members)} is measured twice; give it once (e.g. the mean over seeds)."
            )
        out[group] = {index[t]: float(v) for t, v in losses.items()}
    return out


def fit_group_predictor(
    tasks: Sequence[str],
    measurements: Measurements,
    *,
    alpha: float = 0.1,
    weights: Sequence[float] | None = None,
    optimism: float = 0.0,
) -> GroupScorer:
    """Fit the membership model of this module on measured groups; measured groups keep their losses.

    Parameters
    ----------
    tasks : sequence of str
        All tasks, in order.
    measurements : mapping
        ``{("a", "b"): {"a": 0.31, "b": 0.52}, ("a",): {"a": 0.4}, ...}``: each measured group's per-task loss
        (lower is better). Every task must be in at least one measured group of 2+ tasks.
    alpha : float
        Ridge penalty on ``W`` and ``d`` (>= 0); larger shrinks unmeasured combinations towards the task's
        average partner.
    weights : sequence of float, optional
        Task weights of the objective (default 1).
    optimism : float
        Predict ``optimism`` standard errors below the fitted loss on each pair term (``W[u, t] -
        optimism * se[u, t]``, the ridge posterior with the pooled residual variance): an upper confidence
        bound on the value, which makes a selection explore combinations measured rarely. 0: the fit itself.

    Returns
    -------
    GroupScorer
        Values ``-w_t * loss``; one-task groups are candidates when every task's single network is measured.

    Raises
    ------
    InvalidArgument
        For unknown or repeated tasks, a group measured twice, missing or non-finite losses, a bad ``alpha``
        or weights, or a task that is in no measured group of 2+ tasks (nothing to fit it on).

    Examples
    --------
    >>> m = {("a", "b"): {"a": 0.3, "b": 0.5}, ("a", "c"): {"a": 0.4, "c": 0.6}, ("b", "c"): {"b": 0.5, "c": 0.7}}
    >>> predictor = fit_group_predictor(["a", "b", "c"], m, alpha=1e-9)
    >>> round(float(-predictor.values(frozenset({0, 1, 2}))[0]), 3)  # HOA: mean of 0.3 and 0.4
    0.35
    """
    tasks = [str(t) for t in tasks]
    n = len(tasks)
    if n < 2 or len(set(tasks)) != n:
        raise InvalidArgument(f"tasks must be 2 or more distinct names; got {tasks!r}.")
    if not (isinstance(alpha, (int, float)) and np.isfinite(alpha) and alpha >= 0):
        raise InvalidArgument(f"alpha={alpha!r} is not accepted; give a finite number >= 0.")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InvalidArgument(f"weights must be {n} finite numbers > 0; got {weights!r}.")
    data = _validated(tasks, measurements)
    if not (isinstance(optimism, (int, float)) and np.isfinite(optimism) and optimism >= 0):
        raise InvalidArgument(f"optimism={optimism!r} is not accepted; give a finite number >= 0.")
    W = np.zeros((n, n))
    se = np.zeros((n, n))  # standard error of W[u, t] per unit residual variance, squared
    offset = np.zeros((n + 1, n))
    sizes = np.arange(2, n + 1)
    squares, count, params = 0.0, 0, 0
    for t in range(n):
        rows = [(g, losses[t]) for g, losses in data.items() if t in g and len(g) >= 2]
        if not rows:
            raise InvalidArgument(
                f"Task {tasks[t]!r} is in no measured group of 2+ tasks; measure at least one such group "
                "(e.g. a pair) before fitting."
            )
        others = [u for u in range(n) if u != t]
        X = np.zeros((len(rows), 2 + len(others)))
        y = np.array([loss for _, loss in rows])
        for i, (g, _) in enumerate(rows):
            X[i, 0] = 1.0
            X[i, 1] = np.log(len(g) - 1)
            for col, u in enumerate(others):
                if u in g:
                    X[i, 2 + col] = 1.0 / (len(g) - 1)
        penalty = np.full(X.shape[1], float(alpha))
        penalty[0] = 0.0
        # the mean features sum to 1 like the intercept: a tiny penalty keeps the system solvable at alpha = 0
        inverse = np.linalg.inv(X.T @ X + np.diag(penalty + 1e-9))
        beta = inverse @ X.T @ y
        W[others, t] = beta[2:]
        se[others, t] = np.diag(inverse)[2:]
        squares += float(((X @ beta - y) ** 2).sum())
        count, params = count + len(y), params + min(len(y), X.shape[1])
        offset[sizes, t] = beta[0] + beta[1] * np.log(sizes - 1)
    if optimism > 0:  # pooled residual variance; a floor keeps optimism alive when the fit is exact
        variance = max(squares / max(count - params, 1), 1e-12)
        W = W - optimism * np.sqrt(se * variance)
    S = -W * w[None, :]
    measured: dict[Group, np.ndarray] = {}
    for g, losses in data.items():
        row = np.full(n, -np.inf)
        for t, loss in losses.items():
            row[t] = -w[t] * loss
        measured[g] = row
    singles = [t for t in range(n) if frozenset([t]) in data]
    for t in singles:
        S[t, t] = -w[t] * data[frozenset([t])][t]
    return GroupScorer(S, len(singles) == n, tuple(tasks), offset=-offset * w[None, :], measured=measured, weights=w)
