"""Task suites, built-in suites and the shared-trunk model family."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

import taskgroup as tg
from taskgroup.datasets.suites import available_suites, load_suite, synthetic_data, synthetic_weights
from taskgroup.engine import SharedTrunkNet
from taskgroup.errors import InvalidSuite
from taskgroup.tasks import TaskSpec, TaskSuite, apply_preprocessing, primary_metric, task_loss


def small_frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "f1": rng.normal(size=n),
            "f2": rng.normal(size=n),
            "colour": rng.choice(["red", "blue"], size=n),
            "price": rng.normal(size=n) * 3 + 10,
            "sold": rng.choice(["yes", "no"], size=n),
            "grade": rng.choice(["A", "B", "C"], size=n),
        }
    )


def test_from_frame_builds_splits_and_specs():
    frame = small_frame()
    suite = TaskSuite.from_frame(frame, {"price": "regression", "sold": "binary", "grade": "multiclass"})
    assert suite.task_names == ("price", "sold", "grade")
    assert sum(len(suite.split(k)) for k in ("train", "val", "test")) == len(frame)
    assert "colour=red" in suite.feature_names and suite.n_features == 4
    price = suite.task("price")
    assert price.kind == "regression" and price.out_dim == 1
    assert abs(float(suite.train.y[:, 0].mean())) < 1e-5  # standardised on train
    assert suite.task("grade").out_dim == 3 and suite.task("grade").classes == ("A", "B", "C")
    assert suite.task("sold").classes == ("no", "yes")
    assert suite.train.mask.all()
    # the same input gives the same fingerprint; a different split seed does not
    again = TaskSuite.from_frame(frame, {"price": "regression", "sold": "binary", "grade": "multiclass"})
    other = TaskSuite.from_frame(frame, {"price": "regression", "sold": "binary", "grade": "multiclass"}, seed=1)
    assert suite.fingerprint() == again.fingerprint() != other.fingerprint()


def test_kinds_are_inferred_from_a_list():
    suite = TaskSuite.from_frame(small_frame(), ["price", "sold", "grade"])
    assert [t.kind for t in suite.tasks] == ["regression", "binary", "multiclass"]


def test_missing_labels_are_masked_not_dropped():
    frame = small_frame()
    frame.loc[[0, 5, 9], "sold"] = None
    with pytest.raises(InvalidSuite, match="'sold' has 3 missing labels"):
        TaskSuite.from_frame(frame, {"price": "regression", "sold": "binary"})
    suite = TaskSuite.from_frame(frame, {"price": "regression", "sold": "binary"}, allow_missing=["sold"])
    assert sum(len(suite.split(k)) for k in ("train", "val", "test")) == len(frame)
    assert sum(int((~suite.split(k).mask[:, 1]).sum()) for k in ("train", "val", "test")) == 3
    assert all(bool(suite.split(k).mask[:, 0].all()) for k in ("train", "val", "test"))


@pytest.mark.parametrize(
    "change, targets, message",
    [
        (lambda f: f.assign(sold="yes"), {"sold": "binary"}, "single class"),
        (lambda f: f.assign(price=1.0), {"price": "regression"}, "constant"),
        (lambda f: f, {"nope": "binary"}, "no column 'nope'"),
        (lambda f: f, {"price": "ordinal"}, "kind 'ordinal'"),
        (
            lambda f: f.assign(f1=np.where(np.arange(len(f)) == 3, np.nan, f.f1)),
            {"sold": "binary"},
            "'f1' has a missing",
        ),
        (lambda f: f, {"grade": "binary"}, "3 classes"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(change, targets, message):
    with pytest.raises(InvalidSuite, match=message):
        TaskSuite.from_frame(change(small_frame()), targets)


def test_from_arrays_checks_lengths():
    x = np.random.default_rng(0).normal(size=(30, 3))
    with pytest.raises(InvalidSuite, match=r"expected \(30,\)"):
        TaskSuite.from_arrays(x, {"y": np.zeros(29)}, {"y": "regression"})
    with pytest.raises(InvalidSuite, match="NaN or infinite"):
        TaskSuite.from_arrays(np.where(x > 2, np.inf, x), {"y": x[:, 0]}, {"y": "regression"})


def test_loss_and_metric_respect_masks_and_stacks():
    spec = TaskSpec("c", "multiclass", 3, ("a", "b", "c"))
    pred = torch.randn(4, 5, 3)  # a stack of 4 networks, 5 rows
    y = torch.tensor([0.0, 2.0, 1.0, 1.0, 0.0])
    mask = torch.tensor([True, True, False, True, True])
    loss = task_loss(spec, pred, y, mask)
    assert loss.shape == (4,)
    manual = torch.nn.functional.cross_entropy(pred[1][mask], y[mask].long())
    assert torch.allclose(loss[1], manual)
    pred[:, 2] = float("inf")  # an unlabelled row's prediction never reaches the loss
    assert torch.isfinite(task_loss(spec, pred, y, mask)).all()
    rows = mask.numpy()
    acc = primary_metric("multiclass", y.numpy()[rows], pred[0].numpy()[rows])
    assert acc == np.mean(pred[0].argmax(-1).numpy()[rows] == y.numpy()[rows])


def test_registry_and_unknown_names():
    assert {"synthetic", "digits", "wage"} <= set(available_suites())
    with pytest.raises(InvalidSuite, match=r"Unknown suite 'cifar'; accepted: \["):
        load_suite("cifar")
    with pytest.raises(InvalidSuite, match=r"no task\(s\) \['zzz'\].*'a0'"):
        load_suite("synthetic", tasks=["a0", "zzz"], n_samples=30)
    with pytest.raises(InvalidSuite, match=r"no parameter\(s\) \['bogus'\]"):
        load_suite("synthetic", bogus=1)
    assert tg.datasets.load_suite is load_suite


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("mnist", {"n_train": 1.5}, "'mnist' parameter n_train=1.5 must be a whole number"),
        ("synthetic", {"weight_seed": True}, "'synthetic' parameter weight_seed=True must be a whole number"),
        ("digits", {"seed": -1}, "'digits' parameter seed=-1 must be >= 0"),
    ],
)
def test_whole_number_parameters_are_checked_before_loading(name, params, message):
    with pytest.raises(InvalidSuite, match=re.escape(message)):
        load_suite(name, **params)
    assert load_suite("digits", seed=np.int64(3)).params["seed"] == 3  # numpy integers are whole numbers too


def test_synthetic_cosines_are_as_requested():
    w = synthetic_weights(clusters=(3, 2, 2), within=0.8, across=0.1, d=20, scale=0.3, weight_seed=4)
    unit = w / np.linalg.norm(w, axis=1, keepdims=True)
    cos = unit @ unit.T
    label = np.repeat([0, 1, 2], [3, 2, 2])
    expected = np.where(label[:, None] == label[None, :], 0.8, 0.1)
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(cos, expected, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), 0.3)
    with pytest.raises(InvalidSuite, match="eigenvalue"):
        synthetic_weights(clusters=(1, 1, 1), within=1.0, across=-0.9, d=5)


def test_synthetic_linear_label_correlation():
    c, sigma, p = 1.0, 0.5, 0.7
    data = synthetic_data(
        n_samples=200_000, clusters=(2, 1), within=p, across=0.2, d=10, scale=c, noise_std=sigma, n_sin=3, seed=1
    )
    corr = np.corrcoef(data["linear"].T)
    assert corr[0, 1] == pytest.approx(p * c**2 / (c**2 + sigma**2), abs=0.01)
    assert corr[0, 2] == pytest.approx(0.2 * c**2 / (c**2 + sigma**2), abs=0.01)


def test_builtin_suites_load_offline():
    syn = load_suite("synthetic", n_samples=200, clusters=(2, 2))
    assert syn.task_names == ("a0", "a1", "b0", "b1")
    assert syn.params["planted"] == [["a0", "a1"], ["b0", "b1"]]
    digits = load_suite("digits", tasks=["odd", "digit"])
    assert digits.task_names == ("odd", "digit") and digits.n_features == 64
    assert digits.task("digit").n_classes == 10
    wage = load_suite("wage")
    assert wage.task_names == ("wage", "health", "health_ins", "jobclass")
    assert len(wage.train) + len(wage.val) + len(wage.test) == 3000
    assert not any(name.startswith("region") for name in wage.feature_names)


def test_model_init_depends_on_seed_and_task_not_on_other_heads():
    suite = load_suite("synthetic", n_samples=60)
    specs = {t.name: t for t in suite.tasks}
    big = SharedTrunkNet(suite.n_features, [specs["a0"], specs["a1"], specs["b0"]], seed=3)
    small = SharedTrunkNet(suite.n_features, [specs["b0"], specs["a0"]], seed=3)
    for p, q in zip(big.shared_parameters(), small.shared_parameters()):
        assert torch.equal(p, q)
    for t in ("a0", "b0"):
        for p, q in zip(big.heads[t].parameters(), small.heads[t].parameters()):
            assert torch.equal(p, q)
    other = SharedTrunkNet(suite.n_features, [specs["a0"]], seed=4)
    assert not torch.equal(next(other.shared_parameters()), next(small.shared_parameters()))
    half = SharedTrunkNet(suite.n_features, [specs["a0"]], width=0.5, seed=3)
    assert half.trunk_layers[0].out_features == 32
    out = big(suite.train.x[:7])
    assert set(out) == {"a0", "a1", "b0"} and out["a0"].shape == (7, 1)


def test_preprocessing_is_stored_and_reproduces_the_inputs():
    rng = np.random.default_rng(0)
    raw = rng.normal(3.0, 2.0, size=(60, 3))
    suite = TaskSuite.from_arrays(
        raw, {"y": raw[:, 0]}, {"y": "regression"}, split=["train"] * 40 + ["val"] * 10 + ["test"] * 10
    )
    record = suite.preprocessing
    assert record["kind"] == "standardise" and record["columns"] == ["x0", "x1", "x2"]
    assert np.allclose(apply_preprocessing(record, raw[50:]), suite.test.x.numpy(), atol=1e-6)
    assert np.allclose(record["mean"], raw[:40].mean(axis=0))


def test_inputs_of_any_shape_images_and_token_ids():
    rng = np.random.default_rng(1)
    images = rng.normal(size=(30, 2, 4, 4))
    labels = rng.integers(0, 2, size=30)
    suite = TaskSuite.from_arrays(images, {"y": labels}, {"y": "binary"})
    assert suite.input_shape == (2, 4, 4) and suite.preprocessing["axis"] == 1 and len(suite.preprocessing["mean"]) == 2
    assert np.allclose(
        apply_preprocessing(suite.preprocessing, images)[:1].mean(),
        np.asarray(
            (images[:1] - np.asarray(suite.preprocessing["mean"]).reshape(1, 2, 1, 1))
            / np.asarray(suite.preprocessing["std"]).reshape(1, 2, 1, 1)
        ).mean(),
    )
    tokens = rng.integers(0, 50, size=(30, 7))
    text = TaskSuite.from_arrays(tokens, {"y": labels}, {"y": "binary"})
    assert text.train.x.dtype == torch.int64 and text.preprocessing == {"kind": "none"} and text.input_shape == (7,)
