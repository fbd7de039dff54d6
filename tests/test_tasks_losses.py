"""Hard, soft and distillation losses; loss weightings (equal, uncertainty) and their registry."""

import math

import pytest
import torch

from taskgroup.engine.weighting import (
    EqualWeighting,
    UncertaintyWeighting,
    available_weightings,
    make_weighting,
    register_weighting,
)
from taskgroup.errors import InvalidArgument
from taskgroup.tasks import TaskSpec
from taskgroup.tasks.losses import distillation_loss, output_to_soft, soft_loss, task_loss

MULTI = TaskSpec("m", "multiclass", 3)
BINARY = TaskSpec("b", "binary", 2)
REG = TaskSpec("r", "regression", 1)


def test_soft_loss_with_one_hot_targets_equals_task_loss():
    torch.manual_seed(0)
    out = torch.randn(8, 3)
    y = torch.randint(0, 3, (8,)).float()
    mask = torch.ones(8, dtype=torch.bool)
    one_hot = torch.nn.functional.one_hot(y.long(), 3).float()
    assert soft_loss("multiclass", out, one_hot, mask) == pytest.approx(float(task_loss(MULTI, out, y, mask)))
    logit = torch.randn(8, 1)
    yb = torch.randint(0, 2, (8,)).float()
    assert soft_loss("binary", logit, yb, mask) == pytest.approx(float(task_loss(BINARY, logit, yb, mask)))
    v = torch.randn(8, 1)
    yr = torch.randn(8)
    assert soft_loss("regression", v, yr, mask) == pytest.approx(float(task_loss(REG, v, yr, mask)))


def test_soft_loss_ignores_masked_rows_even_if_garbage():
    out = torch.tensor([[0.0, 0.0, 0.0], [float("inf"), 0.0, 0.0]])
    target = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    mask = torch.tensor([True, False])
    # KL(one-hot || uniform) = log 3
    assert float(soft_loss("multiclass", out, target, mask)) == pytest.approx(math.log(3))


def test_soft_loss_is_zero_when_the_student_matches_the_teacher():
    out = torch.tensor([[0.3, -1.0, 2.0], [0.0, 0.5, 0.1]])
    assert float(soft_loss("multiclass", out, torch.softmax(out / 2, -1), temperature=2.0)) == pytest.approx(
        0, abs=1e-6
    )
    logit = torch.tensor([[0.7], [-2.0]])
    assert float(soft_loss("binary", logit, torch.sigmoid(logit[:, 0] / 3), temperature=3.0)) == pytest.approx(
        0, abs=1e-6
    )


def test_temperature_scales_soft_loss_by_t_squared_at_uniform_logits():
    out = torch.zeros(4, 3)
    target = torch.tensor([1.0, 0.0, 0.0]).repeat(4, 1)
    mask = torch.ones(4, dtype=torch.bool)
    assert float(soft_loss("multiclass", out, target, mask, temperature=2.0)) == pytest.approx(4 * math.log(3))
    with pytest.raises(InvalidArgument, match="temperature must be > 0"):
        soft_loss("multiclass", out, target, mask, temperature=0.0)


def test_output_to_soft_forms():
    out = torch.tensor([[0.0], [2.0]])
    assert output_to_soft("regression", out).tolist() == [0.0, 2.0]
    assert output_to_soft("binary", out)[0] == pytest.approx(0.5)
    assert output_to_soft("multiclass", torch.zeros(1, 4)).sum() == pytest.approx(1.0)


def test_distillation_loss_is_the_papers_average_by_default():
    hard, soft = torch.tensor(2.0), torch.tensor(4.0)
    assert float(distillation_loss(hard, soft)) == 3.0
    assert float(distillation_loss(hard, soft, soft_weight=0.0)) == 2.0
    # a batch without the task's labels: the soft term alone, weighted by w
    assert float(distillation_loss(None, soft, soft_weight=0.25)) == 1.0
    with pytest.raises(InvalidArgument, match=r"soft_weight must be in \[0, 1\]"):
        distillation_loss(hard, soft, soft_weight=1.5)


def test_equal_weighting_sums_present_tasks():
    w = EqualWeighting(["a", "b"], {"a": "binary", "b": "regression"})
    assert float(w({"a": torch.tensor(1.0), "b": torch.tensor(2.0)})) == 3.0
    assert float(w({"b": torch.tensor(2.0)})) == 2.0


def test_uncertainty_weighting_formula_and_learned_optimum():
    w = UncertaintyWeighting(["r", "c"], {"r": "regression", "c": "binary"})
    with torch.no_grad():
        w.log_var.copy_(torch.tensor([math.log(4.0), math.log(2.0)]))
    total = w({"r": torch.tensor(3.0), "c": torch.tensor(1.0)})
    expected = 0.5 / 4.0 * 3.0 + 0.5 * math.log(4.0) + 1 / 2.0 * 1.0 + 0.5 * math.log(2.0)
    assert total.item() == pytest.approx(expected)
    # for a fixed regression loss L the optimum is σ² = L (d/ds [e^{-s} L / 2 + s / 2] = 0)
    w = UncertaintyWeighting(["r"], {"r": "regression"})
    opt = torch.optim.Adam(w.parameters(), lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        w({"r": torch.tensor(3.0)}).backward()
        opt.step()
    assert math.exp(w.log_var[0].item()) == pytest.approx(3.0, rel=0.02)
    assert w.weights()["r"] == pytest.approx(0.5 / 3.0, rel=0.02)


def test_weighting_registry(monkeypatch):
    from taskgroup.engine import weighting

    monkeypatch.setattr(weighting.LOSS_WEIGHTINGS, "_entries", dict(weighting.LOSS_WEIGHTINGS._entries))  # stays here
    assert {"equal", "uncertainty"} <= set(available_weightings())
    with pytest.raises(InvalidArgument, match=r"Unknown loss weighting 'gradnorm'; accepted: \['equal'"):
        make_weighting("gradnorm", ["a"], {"a": "binary"})

    class Half(EqualWeighting):
        def forward(self, losses):
            return 0.5 * super().forward(losses)

    register_weighting("test-half", Half, "half of each task loss (test only)")
    assert float(make_weighting("test-half", ["a"], {"a": "binary"})({"a": torch.tensor(2.0)})) == 1.0
    assert "test-half" in available_weightings()
