"""Exact pricing for column generation (:mod:`taskgroup.grouping.colgen`): the largest reduced profit ``P(G)`` of any
group at task duals ``pi``, with a valid upper bound, and every group above a threshold (for proofs by fixing).

- :class:`EnumeratedPricing`: by listing every allowed group (up to
  :data:`~taskgroup.grouping.colgen.ENUMERATE_MAX_TASKS` tasks).
- :class:`SearchPricing`: past that, by the branch-and-bound of :mod:`taskgroup.grouping.pricing`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from taskgroup.grouping.cover import Group, GroupScorer
from taskgroup.grouping.pricing import groups_above, price_pairwise

__all__ = ["profit", "EnumeratedPricing", "SearchPricing", "FIXING_CAPACITY"]

# the most groups a proof by fixing lists into the master during the search (more: the attempt is dropped, the
# MIP would be slow); the last attempt, after the search, is limited only by the pricing search's own listing
FIXING_CAPACITY = 1_000

Stop = Callable[[], bool] | None


def profit(values: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """The reduced profit ``P(G) = sum over members t of max(0, v_t - pi_t)`` of each row of group values.

    Parameters
    ----------
    values : ndarray (..., n)
        Per task, its value in the group (``-inf`` outside it).
    pi : ndarray (n,)
        Task duals.

    Returns
    -------
    ndarray (...)
    """
    return np.where(np.isfinite(values), np.maximum(values - pi, 0.0), 0.0).sum(axis=-1)


class EnumeratedPricing:
    """Exact pricing by listing every allowed group (small n): exact answers, no time needed past the listing.

    Parameters
    ----------
    scorer : GroupScorer
        The group values.
    """

    def __init__(self, scorer: GroupScorer) -> None:
        self.groups = scorer.all_groups()
        self.values = np.array([scorer.values(g) for g in self.groups])

    def above(
        self, pi: np.ndarray, threshold: float, deadline: float, capacity: int | None, stop: Stop = None
    ) -> list[Group] | None:
        """Every group with ``P(G) > threshold`` at ``pi``, for a proof by reduced-profit fixing.

        Parameters
        ----------
        pi : ndarray (n,)
            Task duals.
        threshold : float
            The reduced profit a group must exceed.
        deadline : float
            ``time.perf_counter()`` time by which to answer.
        capacity : int or None
            The most groups to list (None: no limit where every group is listed, :data:`FIXING_CAPACITY` for the
            search, which needs one).
        stop : callable() -> bool, optional
            A Ctrl-C flag.

        Returns
        -------
        list of frozenset of int, or None
            None when there are more than ``capacity`` such groups, or the search ran out of time or was stopped.
        """
        chosen = np.flatnonzero(profit(self.values, pi) > threshold)
        if capacity is not None and len(chosen) > capacity:
            return None
        return [self.groups[i] for i in chosen]

    def price(
        self,
        pi: np.ndarray,
        deadline: float,
        known: Sequence[tuple[float, Group]] = (),
        tolerance: float = 0.0,
        stop: Stop = None,
    ) -> tuple[list[tuple[float, Group]], float]:
        """The groups of largest ``P(G)`` at ``pi`` (at most 10, best first) and an upper bound on
        ``max(0, max_G P(G))``.

        Parameters
        ----------
        pi : ndarray (n,)
            Task duals.
        deadline : float
            ``time.perf_counter()`` time by which to answer; a search stopped by it still returns a valid bound.
        known : sequence of (float, frozenset of int)
            Groups already valued at ``pi`` (e.g. by heuristic pricing); they start the incumbent.
        tolerance : float
            How far above the true maximum the bound may be, for a faster search.
        stop : callable() -> bool, optional
            A Ctrl-C flag, asked between node chunks (the bound stays valid).

        Returns
        -------
        (list of (float, frozenset of int), float)
        """
        P = profit(self.values, pi)
        top = np.argsort(-P)[:10]
        return [(float(P[i]), self.groups[i]) for i in top], float(P.max())


class SearchPricing:
    """Exact pricing past :data:`~taskgroup.grouping.colgen.ENUMERATE_MAX_TASKS` tasks: branch-and-bound per group size
    (:func:`~taskgroup.grouping.pricing.price_pairwise`).

    Measured groups are priced by listing them with their measured values; the search skips them, so the
    bound holds for measurements that override predictions. One-task groups (when allowed) are listed too.

    Parameters
    ----------
    scorer : GroupScorer
        The group values.
    """

    def __init__(self, scorer: GroupScorer) -> None:
        self.scorer = scorer
        self.offset = np.zeros((scorer.n + 1, scorer.n)) if scorer.offset is None else scorer.offset
        self.listed = [g for g in scorer.measured if len(g) >= scorer.min_size]
        if scorer.singletons:
            self.listed += [frozenset([t]) for t in range(scorer.n) if frozenset([t]) not in scorer.measured]

    def price(
        self,
        pi: np.ndarray,
        deadline: float,
        known: Sequence[tuple[float, Group]] = (),
        tolerance: float = 0.0,
        stop: Stop = None,
    ) -> tuple[list[tuple[float, Group]], float]:
        """The groups of largest ``P(G)`` at ``pi`` (at most 10, best first) and an upper bound on
        ``max(0, max_G P(G))``.

        Parameters
        ----------
        pi : ndarray (n,)
            Task duals.
        deadline : float
            ``time.perf_counter()`` time by which to answer; a search stopped by it still returns a valid bound.
        known : sequence of (float, frozenset of int)
            Groups already valued at ``pi`` (e.g. by heuristic pricing); they start the incumbent.
        tolerance : float
            How far above the true maximum the bound may be, for a faster search.
        stop : callable() -> bool, optional
            A Ctrl-C flag, asked between node chunks (the bound stays valid).

        Returns
        -------
        (list of (float, frozenset of int), float)
        """
        scorer = self.scorer
        found = list(known) + [(float(profit(scorer.values(g), pi)), g) for g in self.listed]
        incumbent = max([0.0] + [p for p, _ in found])
        result = price_pairwise(
            scorer.S,
            self.offset,
            pi,
            range(2, scorer.n + 1),
            incumbent=incumbent,
            skip=set(scorer.measured),
            deadline=deadline,
            tolerance=tolerance,
            stop=stop,
        )
        found += result.found
        return sorted(found, key=lambda vg: -vg[0])[:10], max(result.bound, incumbent)

    def above(
        self, pi: np.ndarray, threshold: float, deadline: float, capacity: int | None, stop: Stop = None
    ) -> list[Group] | None:
        """Every group with ``P(G) > threshold`` at ``pi``, for a proof by reduced-profit fixing.

        Parameters
        ----------
        pi : ndarray (n,)
            Task duals.
        threshold : float
            The reduced profit a group must exceed.
        deadline : float
            ``time.perf_counter()`` time by which to answer.
        capacity : int or None
            The most groups to list (None: no limit where every group is listed, :data:`FIXING_CAPACITY` for the
            search, which needs one).
        stop : callable() -> bool, optional
            A Ctrl-C flag.

        Returns
        -------
        list of frozenset of int, or None
            None when there are more than ``capacity`` such groups, or the search ran out of time or was stopped.
        """
        scorer = self.scorer
        listed = [g for g in self.listed if float(profit(scorer.values(g), pi)) > threshold]
        searched = groups_above(
            scorer.S,
            self.offset,
            pi,
            range(2, scorer.n + 1),
            threshold,
            skip=set(scorer.measured),
            deadline=deadline,
            capacity=FIXING_CAPACITY if capacity is None else capacity,
            stop=stop,
        )
        return None if searched is None else listed + searched
