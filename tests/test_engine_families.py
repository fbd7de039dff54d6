"""Model families and the model protocol: shapes, seeding, MMoE gates, the cnn, user factories, the profiler."""

import numpy as np
import pytest
import torch

from taskgroup.engine import (
    ConvTrunkNet,
    MMoE,
    OMoE,
    SharedTrunkNet,
    TrainConfig,
    available_families,
    build_model,
    factory_name,
    make_factory,
    profile_model,
)
from taskgroup.errors import InvalidArgument
from taskgroup.tasks import TaskSpec

TASKS = (TaskSpec("r", "regression", 1), TaskSpec("b", "binary", 2), TaskSpec("m", "multiclass", 4))
TABLE = torch.randn(5, 6)
IMAGES = torch.randn(5, 3, 8, 8)


@pytest.mark.parametrize(
    "family, example", [("mlp", TABLE), ("mmoe", TABLE), ("omoe", TABLE), ("cnn", IMAGES), ("mlp", IMAGES)]
)
def test_outputs_have_task_widths(family, example):
    net = build_model(make_factory(family), TASKS, "full", example, seed=0)
    out = net(example)
    assert {t: tuple(v.shape) for t, v in out.items()} == {"r": (5, 1), "b": (5, 1), "m": (5, 4)}
    assert len(list(net.shared_parameters())) > 0


def test_mlp_init_depends_on_seed_and_layer_not_on_other_heads():
    big = build_model(make_factory("mlp"), TASKS, "full", TABLE, seed=3)
    small = build_model(make_factory("mlp"), TASKS[1:], "full", TABLE, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(big.shared_parameters(), small.shared_parameters()))
    assert torch.equal(big.heads["m"].weight, small.heads["m"].weight)
    other = build_model(make_factory("mlp"), TASKS, "full", TABLE, seed=4)
    assert not torch.equal(big.trunk_layers[0].weight, other.trunk_layers[0].weight)
    half = build_model(make_factory("mlp", {"hidden": (8, 8)}), TASKS, "half", TABLE, seed=3)
    assert isinstance(half, SharedTrunkNet) and half.trunk_layers[0].out_features == 4
    dropped = build_model(make_factory("mlp", {"dropout": 0.2}), TASKS, "full", TABLE, seed=3)
    assert sum(isinstance(m, torch.nn.Dropout) for m in dropped.trunk) == 2
    dropped.eval()
    assert torch.allclose(dropped(TABLE)["m"], big(TABLE)["m"])  # dropout off in eval: the same function


def test_mmoe_structure_gates_and_seed():
    factory = make_factory("mmoe", {"n_experts": 3, "expert_hidden": (8,), "tower_hidden": (4,)})
    net = build_model(factory, TASKS, "full", TABLE, seed=1)
    assert isinstance(net, MMoE) and len(net.experts) == 3 and set(net.gates) == set(net.towers) == {"r", "b", "m"}
    for g in net.gate_weights(torch.randn(7, 6)).values():
        assert g.shape == (7, 3) and torch.allclose(g.sum(1), torch.ones(7))
    same = build_model(factory, TASKS, "full", TABLE, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), same.state_dict().values()))
    assert build_model(factory, TASKS, "half", TABLE, seed=1).experts[0][0].out_features == 4
    linear = build_model(make_factory("mmoe", {"n_experts": 1, "tower_hidden": ()}), TASKS, "full", TABLE, seed=0)
    assert linear(TABLE)["m"].shape == (5, 4)


def test_omoe_is_mmoe_with_one_gate_shared_by_every_task():
    options = {"n_experts": 3, "expert_hidden": (8,), "tower_hidden": (4,)}
    omoe = build_model(make_factory("omoe", options), TASKS, "full", TABLE, seed=1)
    mmoe = build_model(make_factory("mmoe", options), TASKS, "full", TABLE, seed=1)
    assert isinstance(omoe, OMoE) and list(omoe.gates) == ["shared"] and set(omoe.towers) == {"r", "b", "m"}
    x = torch.randn(7, 6)
    gates = omoe.gate_weights(x)
    assert set(gates) == {"r", "b", "m"} and gates["r"].shape == (7, 3)
    assert torch.equal(gates["r"], gates["b"]) and torch.equal(gates["r"], gates["m"])
    assert torch.allclose(gates["r"], torch.softmax(omoe.gates["shared"](x), dim=1))
    # one gate (6*3 + 3 parameters) where MMoE has one per task; experts and towers identical in shape
    n = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert n(mmoe) - n(omoe) == (len(TASKS) - 1) * (6 * 3 + 3)
    # every task's loss reaches the one gate
    loss = sum(v.sum() for v in omoe(x).values())
    loss.backward()
    assert omoe.gates["shared"].weight.grad.abs().sum() > 0
    assert factory_name(make_factory("omoe")) == "omoe" and "omoe" in available_families()


def test_cnn_needs_images():
    net = build_model(make_factory("cnn", {"hidden": (4, 8)}), TASKS, "full", IMAGES, seed=0)
    assert isinstance(net, ConvTrunkNet)
    with pytest.raises(InvalidArgument, match=r"cnn family takes images of shape \(N, C, H, W\)"):
        build_model(make_factory("cnn"), TASKS, "full", TABLE, seed=0)


class Tiny(torch.nn.Module):
    def __init__(self, tasks, width):
        super().__init__()
        self.body = torch.nn.Linear(6, width)
        self.out = torch.nn.ModuleDict({t.name: torch.nn.Linear(width, t.out_dim) for t in tasks})

    def forward(self, x):
        h = torch.relu(self.body(x))
        return {name: head(h) for name, head in self.out.items()}


def tiny(tasks, variant, example_batch):
    return Tiny(tasks, {"small": 4, "large": 16}[variant])


def test_user_factories_are_seeded_checked_and_named():
    a = build_model(tiny, TASKS, "small", TABLE, seed=2)
    b = build_model(tiny, TASKS, "small", TABLE, seed=2)
    assert torch.equal(a.body.weight, b.body.weight)
    assert factory_name(tiny) == f"{__name__}:tiny"
    assert factory_name(make_factory("mmoe")) == "mmoe"
    with pytest.raises(InvalidArgument, match="returned int"):
        build_model(lambda tasks, variant, x: 3, TASKS, "full", TABLE, seed=0)
    with pytest.raises(InvalidArgument, match=r"gives task 'm' output \(5, 1\); expected .* \(5, 4\)"):
        build_model(
            lambda tasks, variant, x: Tiny([TaskSpec(t.name, "regression") for t in tasks], 2),
            TASKS,
            "full",
            TABLE,
            seed=0,
        )
    with pytest.raises(InvalidArgument, match="apply to built-in families only"):
        make_factory(tiny, {"hidden": (3,)})
    assert TrainConfig(model=tiny).to_dict()["model"] == f"{__name__}:tiny"


def test_registry_errors_name_what_is_accepted():
    assert {"mlp", "cnn", "mmoe"} <= set(available_families())
    with pytest.raises(
        InvalidArgument, match=r"Unknown model family 'transformer'; accepted: \['cnn', 'mlp', 'mmoe', 'omoe'\]"
    ):
        make_factory("transformer")
    with pytest.raises(InvalidArgument, match=r"has no option\(s\) \['n_experts'\]"):
        make_factory("mlp", {"n_experts": 3})
    with pytest.raises(InvalidArgument, match="n_experts >= 1"):
        build_model(make_factory("mmoe", {"n_experts": 0}), TASKS, "full", TABLE, seed=0)
    with pytest.raises(InvalidArgument, match=r"dropout must be in \[0, 1\)"):
        build_model(make_factory("mmoe", {"dropout": 1.0}), TASKS, "full", TABLE, seed=0)
    with pytest.raises(InvalidArgument, match=r"variants \['full', 'half'\]; got 'tiny'"):
        build_model(make_factory("mlp"), TASKS, "tiny", TABLE, seed=0)


def test_profiler_counts_flops_params_and_measures_peak_memory():
    net = build_model(make_factory("mlp", {"hidden": (8, 8)}), TASKS, "full", TABLE, seed=0)
    cost = profile_model(net, TABLE, repeats=3)
    assert cost["flops"] == 2 * (6 * 8 + 8 * 8 + 8 * 6)
    assert cost["params"] == (6 * 8 + 8) + (8 * 8 + 8) + (8 * 6 + 6)
    # parameters + the input + at most a layer's output and its ReLU alive at once
    assert cost["memory_bytes"] == 4 * (cost["params"] + 6 + 8 + 8)
    mmoe = profile_model(
        build_model(
            make_factory("mmoe", {"n_experts": 2, "expert_hidden": (8,), "tower_hidden": ()}),
            TASKS,
            "full",
            TABLE,
            seed=0,
        ),
        TABLE,
        repeats=3,
    )
    # experts 2 x (6*8), gates 3 x (6*2), towers 8*(1+1+4): multiply-adds x 2, plus the gate mixing
    assert mmoe["flops"] >= 2 * (2 * 6 * 8 + 3 * 6 * 2 + 8 * 6) and mmoe["latency_ms"] > 0
    assert mmoe["memory_bytes"] > 4 * mmoe["params"]
    big = profile_model(
        build_model(make_factory("mlp", {"hidden": (512,)}), TASKS, "full", TABLE, seed=0), TABLE, latency=False
    )
    assert "latency_ms" not in big and big["memory_bytes"] - 4 * big["params"] >= 2 * 512 * 4
    assert np.isfinite(list(big.values())).all()
