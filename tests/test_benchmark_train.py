"""benchmarks/train_mmoe.py: the parameter matching it reports is the networks' real parameter count."""

import pytest
import torch

from benchmarks.train_mmoe import MODELS, Setting
from taskgroup.engine import build_model, make_factory
from taskgroup.tasks import TaskSpec

TASKS = (TaskSpec("a0", "regression", 1), TaskSpec("a1", "regression", 1))


@pytest.mark.parametrize("expert_width", [16, 4])
def test_trained_parameters_are_the_networks_and_the_shared_bottom_matches_mmoe(expert_width):
    setting = Setting("probe", n_train=10, epochs=1, expert_width=expert_width)
    x = torch.randn(8, 100)
    counts = {}
    for model in MODELS:
        family, options = setting.options(model)
        net = build_model(make_factory(family, options), TASKS, "full", x, seed=0)
        # what receives gradient: a one-expert mixture's gates (softmax over one expert = 1) get none
        sum(out.sum() for out in net(x).values()).backward()
        counts[model] = sum(p.numel() for p in net.parameters() if p.grad is not None and p.grad.abs().sum() > 0)
        assert counts[model] == setting.trained_parameters(model)
    per_unit = 100 + 1 + 2 * setting.tower_width  # one more bottom unit costs this many parameters
    assert abs(counts["shared bottom"] - counts["MMoE"]) <= per_unit / 2
    assert counts["MMoE"] - counts["OMoE"] == 101 * setting.n_experts
