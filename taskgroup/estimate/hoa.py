"""Standley et al.'s Higher Order Approximation (HOA): predict larger groups from pair networks.

Only single-task, half-size and two-task networks are trained. A network on ``k >= 3`` tasks ``S`` is predicted
to reach, on each ``t in S``, the plain mean of t's losses in the pair networks ``{t, u}``, ``u in S \\ {t}``.
Worked example (the paper's has a typo): pairs a&b = 0.1&0.2, b&c = 0.3&0.4, a&c = 0.5&0.6 give a the
prediction (0.1 + 0.5) / 2 = 0.30 in {a, b, c}.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import combinations

import numpy as np

from taskgroup.errors import InstanceTooLarge, InvalidArgument, InvalidProblem
from taskgroup.grouping.cover import GroupScorer
from taskgroup.naming import network_name
from taskgroup.problem import Problem
from taskgroup.validation import check_number

__all__ = ["hoa", "hoa_predictor", "pair_networks", "MAX_HOA_TASKS"]

# 2^20 predicted networks is about the most a Problem (dense n_networks x n_tasks arrays) should hold.
MAX_HOA_TASKS = 20


def pair_networks(problem: Problem) -> dict[frozenset[str], int]:
    """Index of the network that serves exactly each pair of tasks.

    Parameters
    ----------
    problem : Problem
        The problem's networks.

    Returns
    -------
    dict of frozenset of str to int
        Per pair of task names, the index of its network (pairs without one are absent).

    Raises
    ------
    InvalidProblem
        If two networks serve the same pair (HOA would not know which one to read).
    """
    pairs: dict[frozenset[str], int] = {}
    for j in range(problem.n_networks):
        served = np.flatnonzero(problem.serves[j])
        if len(served) != 2:
            continue
        key = frozenset(problem.tasks[t] for t in served)
        if key in pairs:
            raise InvalidProblem(
                f"Networks {problem.networks[pairs[key]]!r} and {problem.networks[j]!r} both serve the pair "
                f"{sorted(key)}; HOA needs exactly one network per pair (drop one with problem.without_networks)."
            )
        pairs[key] = j
    return pairs


def hoa(
    problem: Problem,
    *,
    max_size: int | None = None,
    cost_value: float | Sequence[float] | np.ndarray | None = None,
    groups: Iterable[Sequence[str]] | None = None,
) -> Problem:
    """The problem with every group of 3+ tasks (or just ``groups``) predicted from the pair networks.

    Parameters
    ----------
    problem : Problem
        Must contain one network per pair of tasks (and whatever single-task networks should be candidates).
        Networks on 3+ tasks that it already holds are replaced by predictions (their names and costs are
        kept, so a plan chosen on the prediction can be scored on measured losses of the same networks).
    max_size : int, optional
        Largest group to predict (default: all tasks).
    cost_value : float or sequence, optional
        Cost (per resource) of a predicted network that ``problem`` does not
        already name. Default: the cost shared by all pair networks (an error if they differ).
    groups : iterable of task-name sequences, optional
        Predict only these groups (each of 3+ distinct tasks), at any number of tasks; only the pairs inside
        them must be measured. ``max_size`` does not apply. For choosing among *all* groups at many tasks
        without listing them, use :func:`hoa_predictor` with :func:`tg.grouping.select_groups`.

    Returns
    -------
    Problem
        The single-task and pair networks as measured, plus one network per group of 3..max_size tasks (or
        per group in ``groups``) whose losses are flagged as predicted. New networks are named ``"a+b+c"``.

    Raises
    ------
    InvalidProblem
        If a pair network is missing (naming the pair), two networks serve one pair, or pair costs differ and
        no ``cost_value`` is given.
    InvalidArgument
        For a bad ``max_size`` or ``cost_value``, or a group in ``groups`` with an unknown or repeated task or fewer
        than 3 tasks.
    InstanceTooLarge
        With more than :data:`MAX_HOA_TASKS` tasks and neither ``max_size`` nor ``groups``.

    Examples
    --------
    >>> import taskgroup as tg
    >>> predicted = tg.estimate.hoa(tg.datasets.standley2020(1, "val"))
    >>> int(predicted.predicted.any(axis=1).sum())  # the 16 networks on 3, 4 or 5 tasks
    16
    """
    if not isinstance(problem, Problem):
        raise InvalidArgument(f"hoa expects a taskgroup Problem; got {type(problem).__name__}.")
    tasks = problem.tasks
    n = len(tasks)
    pairs = pair_networks(problem)
    if groups is not None:
        combos = [_group_indices(tasks, g) for g in groups]
        needed = {frozenset(p) for combo in combos for p in combinations(combo, 2)}
    else:
        if max_size is None:
            if n > MAX_HOA_TASKS:
                raise InstanceTooLarge(
                    f"HOA over all groups of {n} tasks lists {2**n} networks; pass max_size or groups=[...], or "
                    "use hoa_predictor with tg.grouping.select_groups."
                )
            max_size = n
        check_number(max_size, "max_size", "hoa", minimum=2, integer=True)
        combos = [c for size in range(3, min(max_size, n) + 1) for c in combinations(range(n), size)]
        needed = {frozenset(p) for p in combinations(range(n), 2)} if max_size >= 3 else set()
    for a, b in sorted(tuple(sorted(p)) for p in needed):
        if frozenset((tasks[a], tasks[b])) not in pairs:
            have = sorted(sorted(p) for p in pairs)
            raise InvalidProblem(
                f"HOA needs a network trained on the pair [{tasks[a]!r}, {tasks[b]!r}], and the problem has none "
                f"(pairs present: {have if have else 'none'})."
            )
    new_cost = _default_cost(problem, pairs, cost_value)

    sizes = problem.serves.sum(axis=1)
    keep = np.flatnonzero(sizes <= 2)
    names = [problem.networks[j] for j in keep]
    costs = [problem.costs[j] for j in keep]
    losses = [problem.losses[j] for j in keep]
    predicted = [problem.predicted[j] for j in keep]
    existing = {frozenset(problem.network_tasks(name)): j for j, name in enumerate(problem.networks)}
    pair_loss = {key: problem.losses[j] for key, j in pairs.items()}
    for combo in dict.fromkeys(combos):
        row = np.full(n, np.nan)
        for t in combo:
            row[t] = np.mean([pair_loss[frozenset((tasks[t], tasks[u]))][t] for u in combo if u != t])
        members = frozenset(tasks[t] for t in combo)
        if members in existing:
            j = existing[members]
            names.append(problem.networks[j])
            costs.append(problem.costs[j])
        else:
            names.append(network_name(tasks[t] for t in combo))
            costs.append(new_cost)
        losses.append(row)
        predicted.append(~np.isnan(row))
    return Problem(
        tasks,
        names,
        np.array(costs),
        np.array(losses),
        problem.weights,
        problem.cost_names,
        higher_is_better=problem.higher_is_better,
        predicted=np.array(predicted),
    )


def _group_indices(tasks: Sequence[str], group: Sequence[str]) -> tuple[int, ...]:
    """Task indices of one requested group, in task order; validates it."""
    if isinstance(group, str):
        raise InvalidArgument(
            f"groups must hold sequences of task names; got the string {group!r} (write ['a', 'b', 'c'])."
        )
    members = list(group)
    unknown = [t for t in members if t not in tasks]
    if unknown or len(set(members)) != len(members) or len(members) < 3:
        raise InvalidArgument(
            f"Group {members!r} is not accepted: give 3 or more distinct tasks among {list(tasks)}"
            + (f" (unknown: {unknown})." if unknown else ".")
        )
    return tuple(sorted(tasks.index(t) for t in members))


def hoa_predictor(problem: Problem) -> GroupScorer:
    """HOA as a predictor of *every* group, for :func:`tg.grouping.select_groups` at any number of tasks.

    Task t's predicted loss in a group of 3+ tasks is the mean of its pair losses with the other members
    (:func:`hoa`); pairs, single-task networks and any measured larger groups keep their measured losses
    (measurements override predictions). Groups are counted as networks: a selection of ``k`` groups costs
    ``k`` networks of the pairs' size.

    Parameters
    ----------
    problem : Problem
        One network per pair of tasks; optionally single-task networks (then one-task groups are candidates)
        and larger measured groups. Every network must cost the same as the pairs.

    Returns
    -------
    GroupScorer
        Values ``-w_t * loss`` (higher is better); ``select_groups(..., higher_is_better=False)`` reports losses.

    Raises
    ------
    InvalidProblem
        A missing pair, two networks on one pair or one task set, or a network whose cost differs from the
        pairs' (e.g. a half-size variant; drop it with ``problem.without_networks``).
    """
    if not isinstance(problem, Problem):
        raise InvalidArgument(f"hoa_predictor expects a taskgroup Problem; got {type(problem).__name__}.")
    tasks, n = problem.tasks, problem.n_tasks
    pairs = pair_networks(problem)
    missing = [(a, b) for a, b in combinations(tasks, 2) if frozenset((a, b)) not in pairs]
    if missing:
        raise InvalidProblem(
            f"HOA needs a network on every pair of tasks; missing pairs: {missing[:10]}"
            + (f" and {len(missing) - 10} more." if len(missing) > 10 else ".")
        )
    pair_cost = _default_cost(problem, pairs, None)
    other = [problem.networks[j] for j in range(problem.n_networks) if not np.allclose(problem.costs[j], pair_cost)]
    if other:
        raise InvalidProblem(
            f"Networks {other} cost other than the pair networks ({pair_cost.tolist()}); the implicit selection "
            "counts networks of one size. Drop them with problem.without_networks."
        )
    w = problem.weights
    S = np.zeros((n, n))
    measured: dict[frozenset[int], np.ndarray] = {}
    for j in range(problem.n_networks):
        members = frozenset(int(t) for t in np.flatnonzero(problem.serves[j]))
        row = np.where(problem.serves[j], -w * problem.losses[j], -np.inf)
        if members in measured:
            raise InvalidProblem(f"Two networks serve the task set {sorted(tasks[t] for t in members)}; keep one.")
        measured[members] = row
        if len(members) == 2:
            a, b = sorted(members)
            S[b, a], S[a, b] = row[a], row[b]  # S[source, target]: target's value in the pair
    singles = [t for t in range(n) if frozenset([t]) in measured]
    for t in singles:
        S[t, t] = measured[frozenset([t])][t]
    return GroupScorer(S, len(singles) == n, tuple(tasks), measured=measured, weights=np.asarray(w, dtype=float))


def _default_cost(
    problem: Problem, pairs: dict[frozenset[str], int], cost: float | Sequence[float] | np.ndarray | None
) -> np.ndarray:
    if cost is not None:
        value = np.atleast_1d(np.array(cost, dtype=float))
        if value.shape != (len(problem.cost_names),) or not np.all(np.isfinite(value)) or np.any(value <= 0):
            raise InvalidArgument(
                f"The 'cost_value' parameter of hoa must be {len(problem.cost_names)} finite number(s) > 0 (one per "
                f"cost column {list(problem.cost_names)}); got {cost!r}."
            )
        return value
    pair_costs = np.unique(problem.costs[list(pairs.values())], axis=0) if pairs else np.empty((0, 1))
    if len(pair_costs) == 1:
        return pair_costs[0]
    if len(pair_costs) == 0:
        return np.ones(len(problem.cost_names))
    raise InvalidProblem(
        f"The pair networks have different costs ({pair_costs.tolist()}), so the cost of a predicted network "
        "is not clear; pass cost=..."
    )
