"""MT-DNN Algorithm 1 batch schedules and the joint/per-task choice."""

from collections import Counter

import numpy as np
import pytest

from taskgroup.engine.batching import choose_batching, joint_batches, label_overlap, per_task_batches
from taskgroup.errors import InvalidArgument

OWN_DATA = {"a": np.arange(0, 100), "b": np.arange(100, 130), "c": np.arange(130, 140)}  # disjoint data sets


def test_proportional_uses_every_labelled_example_once_one_task_per_batch():
    schedule = per_task_batches(OWN_DATA, 8, np.random.default_rng(0))
    for task, idx in schedule:
        assert set(idx.tolist()) <= set(OWN_DATA[task].tolist())
    for task, idx in OWN_DATA.items():
        seen = np.concatenate([b for t, b in schedule if t == task])
        assert sorted(seen.tolist()) == sorted(idx.tolist())
    counts = Counter(t for t, _ in schedule)
    assert counts == {"a": 13, "b": 4, "c": 2}  # ceil(n_t / 8): sampled in proportion to task size


def test_batches_of_all_tasks_are_shuffled_together():
    schedule = per_task_batches(OWN_DATA, 8, np.random.default_rng(1))
    order = [t for t, _ in schedule]
    assert order != sorted(order, key=["a", "b", "c"].index)  # not task after task
    again = per_task_batches(OWN_DATA, 8, np.random.default_rng(1))
    assert [(t, b.tolist()) for t, b in schedule] == [(t, b.tolist()) for t, b in again]  # seeded


def test_uniform_sampling_gives_every_task_the_same_number_of_batches():
    schedule = per_task_batches(OWN_DATA, 8, np.random.default_rng(0), sampling="uniform")
    counts = Counter(t for t, _ in schedule)
    assert len(set(counts.values())) == 1 and counts["a"] == round((13 + 4 + 2) / 3)


def test_joint_batches_cover_all_rows():
    batches = joint_batches(50, 16, np.random.default_rng(0))
    assert [len(b) for b in batches] == [16, 16, 16, 2]
    assert sorted(np.concatenate(batches).tolist()) == list(range(50))


def test_choose_batching_by_label_overlap():
    assert label_overlap(OWN_DATA) == 0.0
    assert choose_batching(OWN_DATA) == "per_task"
    same = {"a": np.arange(100), "b": np.arange(3, 100)}  # a few labels missing: still the same inputs
    assert choose_batching(same) == "joint"
    scarce = {"digit": np.arange(1500), "odd": np.arange(100)}  # labelled on 100 of the same images
    assert label_overlap(scarce) == 1.0 and choose_batching(scarce) == "joint"
    half = {"a": np.arange(0, 100), "b": np.arange(60, 200)}
    assert label_overlap(half) == 0.4 and choose_batching(half) == "per_task"
    assert choose_batching(OWN_DATA, "joint") == "joint"
    with pytest.raises(InvalidArgument, match="Unknown batching 'mixed'; accepted"):
        choose_batching(OWN_DATA, "mixed")


def test_bad_sampling_and_batch_size():
    with pytest.raises(InvalidArgument, match="Unknown task sampling 'temperature'"):
        per_task_batches(OWN_DATA, 8, np.random.default_rng(0), sampling="temperature")
    with pytest.raises(InvalidArgument, match="batch_size must be >= 1"):
        joint_batches(10, 0, np.random.default_rng(0))
