"""Registered architectures: shapes, reuse of the measurement model, MMoE gates, registry errors."""

import pytest
import torch

from taskgroup.errors import InvalidArgument
from taskgroup.measure.models import SharedTrunkNet
from taskgroup.measure.suite import TaskSpec
from taskgroup.train.architectures import MMoE, SharedBottom, available_architectures, build_network

TASKS = (TaskSpec("r", "regression", 1), TaskSpec("b", "binary", 2), TaskSpec("m", "multiclass", 4))


@pytest.mark.parametrize("name", ["shared", "mmoe"])
def test_outputs_have_task_widths(name):
    net = build_network(name, 6, TASKS, seed=0)
    out = net(torch.randn(5, 6))
    assert {t: tuple(v.shape) for t, v in out.items()} == {"r": (5, 1), "b": (5, 1), "m": (5, 4)}


def test_shared_is_the_measurement_model_plus_dropout():
    ours = SharedBottom(6, TASKS, hidden=(8, 8), seed=3)
    theirs = SharedTrunkNet(6, TASKS, hidden=(8, 8), seed=3)
    assert isinstance(ours, SharedTrunkNet)
    for (k1, v1), (k2, v2) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)  # same seeded initial weights as the measured candidate
    dropped = SharedBottom(6, TASKS, hidden=(8, 8), dropout=0.2, seed=3)
    assert sum(isinstance(m, torch.nn.Dropout) for m in dropped.trunk) == 2
    x = torch.randn(4, 6)
    dropped.eval()
    assert torch.allclose(dropped(x)["m"], theirs(x)["m"])  # dropout off in eval: same function


def test_mmoe_structure_gates_and_seed():
    net = MMoE(6, TASKS, n_experts=3, expert_hidden=(8,), tower_hidden=(4,), seed=1)
    assert len(net.experts) == 3 and set(net.gates) == set(net.towers) == {"r", "b", "m"}
    gates = net.gate_weights(torch.randn(7, 6))
    for g in gates.values():
        assert g.shape == (7, 3) and torch.allclose(g.sum(1), torch.ones(7))
    same = MMoE(6, TASKS, n_experts=3, expert_hidden=(8,), tower_hidden=(4,), seed=1)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), same.state_dict().values()))
    half = MMoE(6, TASKS, n_experts=3, expert_hidden=(8,), tower_hidden=(4,), width=0.5)
    assert half.experts[0][0].out_features == 4


def test_mmoe_with_one_expert_and_linear_towers():
    net = MMoE(6, TASKS, n_experts=1, expert_hidden=(8,), tower_hidden=())
    assert net(torch.randn(2, 6))["m"].shape == (2, 4)


def test_registry_errors_name_what_is_accepted():
    assert {"shared", "mmoe"} <= set(available_architectures())
    with pytest.raises(InvalidArgument, match=r"Unknown architecture 'transformer'; accepted: \['mmoe', 'shared'"):
        build_network("transformer", 6, TASKS)
    with pytest.raises(InvalidArgument, match="Bad options"):
        build_network("shared", 6, TASKS, n_experts=3)
    with pytest.raises(InvalidArgument, match="n_experts >= 1"):
        build_network("mmoe", 6, TASKS, n_experts=0)
    with pytest.raises(InvalidArgument, match=r"dropout must be in \[0, 1\)"):
        build_network("mmoe", 6, TASKS, dropout=1.0)


def test_profile_reuses_the_measurement_profiler():
    from taskgroup.measure.profile import profile_network as measured
    from taskgroup.train.profiling import profile_network

    ours = profile_network(SharedBottom(6, TASKS, hidden=(8, 8), width=0.5), 6, repeats=3)
    theirs = measured(SharedTrunkNet(6, TASKS, hidden=(8, 8), width=0.5), repeats=3)
    assert ours["flops"] == theirs["flops"] and ours["parameters"] == theirs["params"]
    assert ours["memory_bytes"] == theirs["memory_bytes"]
    mmoe = profile_network(MMoE(6, TASKS, n_experts=2, expert_hidden=(8,), tower_hidden=()), 6, repeats=3)
    # experts 2 x (6*8), gates 3 x (6*2), towers 8*(1+1+4): multiply-adds x 2, plus the gate mixing
    assert mmoe["flops"] >= 2 * (2 * 6 * 8 + 3 * 6 * 2 + 8 * 6) and mmoe["latency_ms"] > 0
    assert mmoe["memory_bytes"] is None
