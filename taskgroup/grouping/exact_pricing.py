"""Exact pricing for column generation (:mod:`taskgroup.grouping.colgen`): the largest reduced profit ``P(G)`` of any
group at task duals ``pi``, with a valid upper bound, and every group above a threshold (for proofs by fixing).

For few tasks every allowed group is listed once and priced by one matrix product; past that, the
branch-and-bound of :mod:`taskgroup.grouping.pricing` searches each group size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from taskgroup.grouping.cover import Group, GroupScorer
from taskgroup.grouping.pricing import groups_above, price_pairwise

__all__ = ["profit", "ExactPricing", "FIXING_CAPACITY"]

# the most groups a proof by fixing lists into the master during the search (more: the attempt is dropped, the
# MIP would be slow); the last attempt, after the search, is limited only by the pricing search's own listing
FIXING_CAPACITY = 1_000


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


class ExactPricing:
    """The largest ``P(G)`` over every allowed group of ``scorer``, by listing them or by search.

    Listing is exact and needs no time past the listing itself. The search (per group size,
    :func:`~taskgroup.grouping.pricing.price_pairwise`) skips measured groups and prices them by listing them with
    their measured values, so the bound holds for measurements that override predictions; one-task groups (when
    allowed) are listed too.

    Parameters
    ----------
    scorer : GroupScorer
        The group values.
    listing : bool
        List every group (for small n: ``2^n`` of them) instead of searching.
    """

    def __init__(self, scorer: GroupScorer, listing: bool) -> None:
        self.scorer = scorer
        self.listing = listing
        if listing:
            self.groups = scorer.all_groups()
        else:  # what the search skips: measured groups, and one-task groups where allowed
            self.groups = [g for g in scorer.measured if len(g) >= scorer.min_size]
            if scorer.singletons:
                self.groups += [frozenset([t]) for t in range(scorer.n) if frozenset([t]) not in scorer.measured]
        self.values = np.array([scorer.values(g) for g in self.groups]).reshape(len(self.groups), scorer.n)

    def price(
        self,
        pi: np.ndarray,
        deadline: float,
        known: Sequence[tuple[float, Group]] = (),
        tolerance: float = 0.0,
        stop: Callable[[], bool] | None = None,
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
            Groups already valued at ``pi`` (e.g. by heuristic pricing); they start the search's incumbent.
        tolerance : float
            How far above the true maximum the search's bound may be, for a faster search.
        stop : callable() -> bool, optional
            A Ctrl-C flag, asked between node chunks (the bound stays valid).

        Returns
        -------
        (list of (float, frozenset of int), float)
        """
        P = profit(self.values, pi)
        if self.listing:
            top = np.argsort(-P)[:10]
            return [(float(P[i]), self.groups[i]) for i in top], float(P.max())
        found = list(known) + [(float(p), g) for p, g in zip(P, self.groups)]
        incumbent = max([0.0] + [p for p, _ in found])
        scorer = self.scorer
        result = price_pairwise(
            scorer.S,
            scorer.size_offsets,
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
        self,
        pi: np.ndarray,
        threshold: float,
        deadline: float,
        capacity: int | None,
        stop: Callable[[], bool] | None = None,
    ) -> list[Group] | None:
        """Every group with ``P(G) > threshold`` at ``pi``, for a proof by reduced-profit fixing.

        Parameters
        ----------
        pi : ndarray (n,)
            Task duals.
        threshold : float
            The reduced profit a group must exceed.
        deadline : float
            ``time.perf_counter()`` time by which the search must answer.
        capacity : int or None
            The most groups to list (None: no limit when listing, :data:`FIXING_CAPACITY` for the search, which
            needs one).
        stop : callable() -> bool, optional
            A Ctrl-C flag.

        Returns
        -------
        list of frozenset of int, or None
            None when there are more than ``capacity`` such groups, or the search ran out of time or was stopped.
        """
        listed = [self.groups[i] for i in np.flatnonzero(profit(self.values, pi) > threshold)]
        if self.listing:
            return None if capacity is not None and len(listed) > capacity else listed
        scorer = self.scorer
        searched = groups_above(
            scorer.S,
            scorer.size_offsets,
            pi,
            range(2, scorer.n + 1),
            threshold,
            skip=set(scorer.measured),
            deadline=deadline,
            capacity=FIXING_CAPACITY if capacity is None else capacity,
            stop=stop,
        )
        return None if searched is None else listed + searched
