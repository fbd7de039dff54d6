"""Exact pricing by branch-and-bound (taskgroup.grouping.pricing) against listing every group."""

from __future__ import annotations

import numpy as np
import pytest

from taskgroup.grouping import pricing as pricing_module
from taskgroup.grouping.cover import GroupScorer
from taskgroup.grouping.exact_pricing import profit
from taskgroup.grouping.pricing import groups_above, price_pairwise


def instance(n: int, seed: int) -> tuple[GroupScorer, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    S = np.where(labels[:, None] == labels[None, :], 1.0, -0.5) + rng.normal(0, 0.4, (n, n))
    offset = np.zeros((n + 1, n))
    offset[2:] = -0.1 * np.log(np.arange(1, n))[:, None] * rng.uniform(0.5, 1.5, n)
    pi = rng.normal(0.3, 0.4, n)
    return GroupScorer(S, False, offset=offset), pi


def listed_best(scorer: GroupScorer, pi: np.ndarray, skip=frozenset()) -> float:
    return max([0.0] + [float(profit(scorer.values(g), pi)) for g in scorer.all_groups() if g not in skip])


@pytest.mark.parametrize(("n", "seed"), [(5, 0), (7, 1), (8, 2), (9, 3), (10, 4)])
def test_search_pricing_equals_listing(n, seed):
    scorer, pi = instance(n, seed)
    result = price_pairwise(scorer.S, scorer.offset, pi, range(2, n + 1))
    best = listed_best(scorer, pi)
    assert result.bound == pytest.approx(best, abs=1e-9) and result.exact
    if best > 0:
        value, group = result.found[0]
        assert value == pytest.approx(best) and float(profit(scorer.values(group), pi)) == pytest.approx(best)


@pytest.mark.parametrize("seed", range(5))
def test_search_pricing_skips_groups_and_stays_exact(seed):
    scorer, pi = instance(8, seed)
    top = max(scorer.all_groups(), key=lambda g: float(profit(scorer.values(g), pi)))
    result = price_pairwise(scorer.S, scorer.offset, pi, range(2, 9), skip={top})
    assert all(g != top for _, g in result.found)
    assert result.bound == pytest.approx(listed_best(scorer, pi, {top}), abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_stopped_search_still_bounds_the_best_group(seed):
    scorer, pi = instance(10, seed)
    best = listed_best(scorer, pi)
    for limit in (1, 3, 10):
        result = price_pairwise(scorer.S, scorer.offset, pi, range(2, 11), node_limit=limit)
        assert result.bound >= best - 1e-9
        assert all(v <= best + 1e-9 for v, _ in result.found)


@pytest.mark.parametrize(("n", "k", "seed"), [(6, 2, 0), (7, 3, 1), (8, 2, 2)])
def test_size_duals_certify_the_size_bound(n, k, seed):
    scorer, _ = instance(n, seed)
    bound, pi = scorer.size_duals(k)
    lam = (bound - pi.sum()) / k
    # every group's profit at these duals is at most lam, so sum(pi) + k max P(G) <= the size bound
    assert listed_best(scorer, pi) <= lam + 1e-9
    assert bound == pytest.approx(scorer.size_bound(k))


@pytest.mark.parametrize(("n", "seed"), [(6, 0), (8, 1), (9, 2), (10, 3)])
def test_groups_above_a_threshold_equal_listing(n, seed):
    scorer, pi = instance(n, seed)
    profits = {g: float(profit(scorer.values(g), pi)) for g in scorer.all_groups()}
    ranked = sorted(profits.values(), reverse=True)
    skip = {max(profits, key=profits.get)}
    for threshold in (ranked[0] - 1e-6, ranked[5], ranked[min(40, len(ranked) - 1)]):
        listed = groups_above(scorer.S, scorer.offset, pi, range(2, n + 1), threshold, skip=skip)
        expected = {g for g, p in profits.items() if p > threshold and g not in skip}
        assert listed is not None and set(listed) == expected and len(listed) == len(expected)
    # too many to list: no partial answer
    assert groups_above(scorer.S, scorer.offset, pi, range(2, n + 1), ranked[40] - 1e-9, capacity=10) is None


@pytest.mark.parametrize("seed", range(4))
def test_pricing_tolerance_keeps_the_bound_within_it(seed):
    scorer, pi = instance(10, seed)
    best = listed_best(scorer, pi)
    for tolerance in (0.01, 0.3, 2.0):
        result = price_pairwise(scorer.S, scorer.offset, pi, range(2, 11), tolerance=tolerance)
        assert best - 1e-9 <= result.bound <= best + tolerance + 1e-9
        assert all(v <= best + 1e-9 for v, _ in result.found)


@pytest.mark.parametrize("seed", range(3))
def test_search_resumed_in_small_chunks_is_the_same_search(seed, monkeypatch):
    """The compiled search stops after each chunk of nodes and resumes from its stack: same answer, same nodes."""
    scorer, pi = instance(10, seed)
    whole = price_pairwise(scorer.S, scorer.offset, pi, range(2, 11))
    monkeypatch.setattr(pricing_module._SizeSearch, "CHUNK", 3)
    chunked = price_pairwise(scorer.S, scorer.offset, pi, range(2, 11))
    assert chunked.bound == whole.bound == pytest.approx(listed_best(scorer, pi), abs=1e-9)
    assert chunked.nodes == whole.nodes and chunked.found == whole.found
    threshold = whole.bound - 0.5
    assert set(groups_above(scorer.S, scorer.offset, pi, range(2, 11), threshold)) == {
        g for g in scorer.all_groups() if float(profit(scorer.values(g), pi)) > threshold
    }


@pytest.mark.parametrize(("n", "seed"), [(9, 0), (10, 1), (11, 2)])
def test_search_pricing_equals_listing_on_unstructured_affinities(n, seed):
    """N(0, 1) affinities (no planted groups) and duals around the LP's: the chord bound keeps the search exact."""
    rng = np.random.default_rng(seed)
    S = rng.normal(0.0, 1.0, (n, n))
    scorer = GroupScorer(S, False)
    for pi in (rng.normal(-0.2, 0.3, n), rng.normal(0.3, 0.5, n)):
        best = listed_best(scorer, pi)
        result = price_pairwise(S, np.zeros((n + 1, n)), pi, range(2, n + 1))
        assert result.bound == pytest.approx(best, abs=1e-9)
        listed = groups_above(S, np.zeros((n + 1, n)), pi, range(2, n + 1), 0.8 * best)
        expected = {g for g in scorer.all_groups() if float(profit(scorer.values(g), pi)) > 0.8 * best}
        assert listed is not None and set(listed) == expected


def random_start_groups(rows: int, n: int, seed: int) -> np.ndarray:
    """``rows`` random groups of 2 to n - 1 of ``n`` tasks, as boolean rows."""
    rng = np.random.default_rng(seed)
    groups = np.zeros((rows, n), dtype=bool)
    for row in groups:
        row[rng.choice(n, int(rng.integers(2, n)), replace=False)] = True
    return groups


@pytest.mark.parametrize("seed", range(3))
def test_heuristic_pricing_ends_at_local_optima_valued_as_the_scorer_does(seed):
    from taskgroup.grouping.local_pricing import improve_groups

    n = 9
    scorer, pi = instance(n, seed)
    seeds = random_start_groups(6, n, seed)
    groups, profits = improve_groups(scorer.S, scorer.offset, pi, seeds)
    for row, p in zip(groups, profits):
        group = frozenset(np.flatnonzero(row).tolist())
        assert len(group) >= 2 and p == pytest.approx(float(profit(scorer.values(group), pi)))
        for t in range(n):  # no single task added or dropped raises P
            other = group ^ {t}
            if len(other) >= 2:
                assert float(profit(scorer.values(other), pi)) <= p + 1e-9
    start = [float(profit(scorer.values(frozenset(np.flatnonzero(r).tolist())), pi)) for r in seeds]
    assert np.all(profits >= np.array(start) - 1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_swap_pricing_ends_where_no_add_drop_or_swap_helps(seed):
    from taskgroup.grouping.local_pricing import swap_groups

    n = 9
    scorer, pi = instance(n, seed)
    seeds = random_start_groups(4, n, seed)
    groups, profits = swap_groups(scorer.S, scorer.offset, pi, seeds)
    for row, seed_row, p in zip(groups, seeds, profits):
        group = frozenset(np.flatnonzero(row).tolist())
        assert len(group) >= 2 and p == pytest.approx(float(profit(scorer.values(group), pi)))
        start = frozenset(np.flatnonzero(seed_row).tolist())
        assert p >= float(profit(scorer.values(start), pi)) - 1e-9  # it only moves uphill
        moves = [group ^ {t} for t in range(n)]
        moves += [(group - {u}) | {v} for u in group for v in range(n) if v not in group]
        for other in moves:
            if len(other) >= 2:
                assert float(profit(scorer.values(other), pi)) <= p + 1e-9


@pytest.mark.parametrize("seed", range(3))
def test_a_stopped_search_returns_a_valid_bound_at_once(seed):
    """Ctrl-C reaches the pricing search between node chunks; what it returns still bounds every group."""
    scorer, pi = instance(10, seed)
    asked = []
    result = price_pairwise(scorer.S, scorer.offset, pi, range(2, 11), stop=lambda: asked.append(1) or len(asked) > 1)
    assert result.bound >= listed_best(scorer, pi) - 1e-9
    assert len(asked) <= 2 * 9  # each size's search asks once (and stops) after the first chunk
    assert groups_above(scorer.S, scorer.offset, pi, range(2, 11), 0.0, stop=lambda: True) is None
