"""Candidates, one-at-a-time and vectorised training, divergence handling, cost profiling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from taskgroup.datasets.suites import load_suite
from taskgroup.engine import SharedTrunkNet, build_model, train_stack
from taskgroup.engine.loop import batch_plan
from taskgroup.engine.stacked import StackedNets
from taskgroup.errors import InvalidArgument
from taskgroup.measure import (
    Candidate,
    TaskSuite,
    TrainConfig,
    make_candidates,
    normalise_costs,
    profile_candidates,
    train_candidate,
    train_candidates,
)


@pytest.fixture(scope="module")
def suite() -> TaskSuite:
    return load_suite("synthetic", n_samples=400, clusters=(2, 1), d=20)


def test_candidates_all_pairs_and_lists():
    tasks = ["a", "b", "c"]
    names = [c.name for c in make_candidates(tasks)]
    assert names == ["a", "b", "c", "a+b", "a+c", "b+c", "a+b+c", "a@half", "b@half", "c@half"]
    assert [c.name for c in make_candidates(tasks, "pairs", half_singles=False)] == ["a", "b", "c", "a+b", "a+c", "b+c"]
    assert [c.name for c in make_candidates(tasks, "c+a,b@half")] == ["a+c", "b@half"]
    with pytest.raises(InvalidArgument, match=r"unknown task\(s\) \['z'\]"):
        make_candidates(tasks, "a+z")
    with pytest.raises(InvalidArgument, match="variant 'tiny'"):
        make_candidates(tasks, "a@tiny")


def test_batches_depend_only_on_seed_and_epoch():
    config = TrainConfig(batch_size=16)
    labelled = {"a": np.arange(50)}

    def rows(epoch, seed):
        return [idx for _, idx in batch_plan(50, labelled, config, "joint", seed, epoch)]

    a, b = rows(3, 7), rows(3, 7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(rows(4, 7)[0], a[0])
    assert sorted(np.concatenate(a).tolist()) == list(range(50))


def test_stack_starts_from_the_same_weights_as_single_networks(suite):
    config = TrainConfig(hidden=(16, 8))
    stack = StackedNets(suite, 3, config, "full", seeds=[5])
    for c in range(3):
        net = build_model(config.factory(), [suite.task("a1")], "full", suite.example_batch(), seed=5)
        assert isinstance(net, SharedTrunkNet)
        for (w, b), layer in zip(stack.trunk, net.trunk_layers):
            assert torch.equal(w[c], layer.weight) and torch.equal(b[c], layer.bias)
        w, b = stack.heads[suite.task_index("a1")]
        assert torch.equal(w[c], net.heads["a1"].weight) and torch.equal(b[c], net.heads["a1"].bias)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_vectorised_training_matches_one_at_a_time(suite, reduction):
    config = TrainConfig(hidden=(16, 16), epochs=12, patience=3, batch_size=64, reduction=reduction)
    cands = make_candidates(suite.task_names, half_singles=False)
    stacked = train_candidates(suite, cands, config, seed=1, stack=True)
    for cand, res in zip(cands, stacked):
        alone = train_candidate(suite, cand, config, seed=1)
        assert res.network == alone.network and res.status == alone.status == "ok"
        assert res.best_epoch == alone.best_epoch and res.epochs == alone.epochs
        for task, values in alone.metrics.items():
            for key, value in values.items():
                assert res.metrics[task][key] == pytest.approx(value, rel=1e-4, abs=1e-5), (cand.name, task, key)


def test_half_size_stack_and_what_cannot_be_stacked(suite):
    config = TrainConfig(hidden=(16, 16), epochs=2)
    half = [Candidate(("a0",), "half"), Candidate(("b0",), "half"), Candidate(("a0",))]
    results = train_candidates(suite, half, config, seed=0)
    assert [r.network for r in results] == ["a0@half", "b0@half", "a0"]
    assert results[0].metrics["a0"]["val_loss"] == pytest.approx(
        train_candidate(suite, half[0], config, seed=0).metrics["a0"]["val_loss"], rel=1e-5
    )
    with pytest.raises(InvalidArgument, match="cannot be stacked"):
        train_stack(suite, [("a0",)], "full", config.replace(weighting="uncertainty"), seed=0)
    # a configuration the stack cannot reproduce trains one at a time instead, with the same results
    dropout = config.replace(options={"dropout": 0.2})
    assert (
        train_candidates(suite, half[:1], dropout, seed=0)[0].metrics
        == train_candidate(suite, half[0], dropout, seed=0).metrics
    )


def test_a_diverging_network_is_recorded_and_the_others_are_unaffected():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    good = x @ np.array([1.0, -1.0, 0.5, 0.0])
    # Without standardisation a 1e30 target overflows float32 squared error: that network must fail alone.
    suite = TaskSuite.from_arrays(
        x, {"good": good, "huge": good * 1e30}, {"good": "regression", "huge": "regression"}, standardize=False
    )
    config = TrainConfig(hidden=(8,), epochs=3)
    cands = make_candidates(suite.task_names, half_singles=False)
    results = {r.network: r for r in train_candidates(suite, cands, config, seed=0)}
    assert results["good"].status == "ok" and results["good"].metrics
    for name in ("huge", "good+huge"):
        assert results[name].status == "failed" and ("inf" in results[name].reason or "nan" in results[name].reason)
        assert not results[name].metrics
    alone = train_candidate(suite, cands[0], config, seed=0)
    assert alone.metrics["good"]["val_loss"] == pytest.approx(results["good"].metrics["good"]["val_loss"], rel=1e-5)
    assert train_candidate(suite, cands[1], config, seed=0).status == "failed"


def test_profile_costs_and_normalisation(suite):
    cands = make_candidates(suite.task_names)
    costs = profile_candidates(suite, cands, TrainConfig(hidden=(16, 16)), repeats=5)
    by = costs.set_index("network")
    # a 20-16-16 trunk and 1-unit heads: (20*16 + 16*16 + k*16) multiply-adds, 2 FLOPs each
    assert by.loc["a0", "flops"] == 2 * (20 * 16 + 16 * 16 + 16)
    assert by.loc["a0+a1+b0", "flops"] == 2 * (20 * 16 + 16 * 16 + 3 * 16)
    assert by.loc["a0@half", "params"] == (20 * 8 + 8) + (8 * 8 + 8) + (8 + 1)
    assert (costs["latency_ms"] > 0).all() and (costs["memory_bytes"] > 4 * costs["params"]).all()
    # measured peak: parameters + the input + the widest live activations (a 16-wide layer and its ReLU)
    assert by.loc["a0", "memory_bytes"] == 4 * (by.loc["a0", "params"] + 20 + 16 + 16)
    norm = normalise_costs(costs).set_index("network")
    assert norm.loc["a0", "flops"] == pytest.approx(1.0) and norm.loc["a0@half", "snt"] == 0.5
    assert norm.loc["a0@half", "flops"] < 0.5 < 1.0 < norm.loc["a0+a1+b0", "flops"]


def test_a_job_sets_its_threads_and_gives_the_callers_back(suite):
    from taskgroup.measure.jobs import Job, run_job

    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []
        job = Job(suite, (Candidate(("a0",)),), TrainConfig(hidden=(4,), epochs=1), (0,), threads=1)
        original = torch.optim.Adam

        def spy(*args, **kwargs):
            seen.append(torch.get_num_threads())
            return original(*args, **kwargs)

        torch.optim.Adam = spy
        try:
            assert run_job(job)[0].status == "ok"
        finally:
            torch.optim.Adam = original
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_seeds_stack_and_match_each_seed_trained_alone(suite):
    # Repeats stack: (network, seed) trained in one stack with other seeds follows its trajectory alone.
    config = TrainConfig(hidden=(16, 8), epochs=6, patience=2, batch_size=64)
    cands = make_candidates(suite.task_names, half_singles=False)[:3]
    together = train_candidates(suite, cands, config, seed=[3, 4])
    assert [(r.network, r.seed) for r in together] == [(c.name, s) for s in (3, 4) for c in cands]
    for res in together:
        alone = train_candidates(suite, [c for c in cands if c.name == res.network], config, seed=res.seed)[0]
        assert res.best_epoch == alone.best_epoch
        for task, values in alone.metrics.items():
            for key, value in values.items():
                assert res.metrics[task][key] == pytest.approx(value, rel=1e-4, abs=1e-5), (res.network, task, key)
    # every result carries the bootstrap errors of its validation and test loss and metric
    assert {"val_loss_se", "test_loss_se"} <= set(together[0].metrics["a0"])


def test_jobs_stack_every_seed_or_commit_each_network(suite):
    from taskgroup.measure.runner import plan_jobs

    cands = make_candidates(suite.task_names)
    config = TrainConfig(hidden=(8,), epochs=1)
    jobs = plan_jobs(suite, cands, config, [0, 1, 2])
    assert [len(j.candidates) for j in jobs] == [7, 3]  # one stack per size variant, every seed in it
    assert all(j.seeds == (0, 1, 2) for j in jobs)
    keys = [k for j in jobs for k in j.keys]
    assert len(keys) == len(set(keys)) == 3 * len(cands)
    # a configuration the stack cannot train: one network and seed per job, seed by seed, each committed alone
    alone = plan_jobs(suite, cands, config.replace(options={"dropout": 0.1}), [0, 1])
    assert all(len(j.candidates) == 1 and len(j.seeds) == 1 for j in alone)
    assert [j.seeds[0] for j in alone] == [0] * len(cands) + [1] * len(cands)
