"""TAG lookahead affinity and gradient cosine similarity on a small shared-trunk model."""

import copy

import numpy as np
import pytest
import torch

from taskgroup.engine import TrainConfig
from taskgroup.errors import InvalidArgument
from taskgroup.estimate import AffinityHook, gradient_similarity, lookahead_affinity
from taskgroup.strategies import suite_affinity
from taskgroup.tasks import TaskSuite

TASKS = ["a", "b", "c"]


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: thread start-up dominates, and other processes share the 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TwoLayer(torch.nn.Module):
    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.trunk = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh())
        self.heads = torch.nn.ModuleDict({t: torch.nn.Linear(16, 1) for t in TASKS})

    def forward(self, x):
        h = self.trunk(x)
        return {t: head(h).squeeze(-1) for t, head in self.heads.items()}


def make_batches(n_batches=8, size=64, seed=0):
    """a and b share a target direction (b = 2a); c has an unrelated one."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(6, generator=g)
    v = torch.randn(6, generator=g)
    v = v - (v @ w) / (w @ w) * w
    batches = []
    for _ in range(n_batches):
        x = torch.randn(size, 6, generator=g)
        batches.append((x, {"a": x @ w, "b": 2 * (x @ w), "c": torch.sin(3 * (x @ v))}))
    return batches


def mse(outputs, batch):
    return {t: torch.mean((outputs[t] - batch[1][t]) ** 2) for t in TASKS}


def test_lookahead_matches_manual_step():
    model, batch, lr = TwoLayer(), make_batches(1)[0], 0.05
    before = {k: v.clone() for k, v in model.state_dict().items()}
    Z = lookahead_affinity(model, batch, mse, shared="trunk", lr=lr)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # model untouched
    base = {t: float(v.detach()) for t, v in mse(model(batch[0]), batch).items()}
    for source in TASKS:
        clone = copy.deepcopy(model)
        loss = mse(clone(batch[0]), batch)[source]
        grads = torch.autograd.grad(loss, list(clone.trunk.parameters()))
        with torch.no_grad():
            for p, g in zip(clone.trunk.parameters(), grads):
                p -= lr * g
            after = mse(clone(batch[0]), batch)
        for target in TASKS:
            assert Z.loc[source, target] == pytest.approx(1 - float(after[target]) / base[target], rel=1e-5, abs=1e-7)
    assert list(Z.index) == TASKS and Z.index.name == "source"


def test_cosine_matches_manual():
    model, batch = TwoLayer(), make_batches(1)[0]
    C = gradient_similarity(model, batch, mse, shared="trunk")
    flat = []
    for t in TASKS:
        loss = mse(model(batch[0]), batch)[t]
        grads = torch.autograd.grad(loss, list(model.trunk.parameters()))
        flat.append(torch.cat([g.reshape(-1) for g in grads]))
    for i in range(3):
        for j in range(3):
            expect = float(torch.nn.functional.cosine_similarity(flat[i], flat[j], dim=0))
            assert C.iloc[i, j] == pytest.approx(expect, abs=1e-5)
    assert np.allclose(C.to_numpy(), C.to_numpy().T)


class Heads(torch.nn.Module):
    """A user's model: a trunk and (n, 1) heads, no shared_parameters() method (named by prefix instead)."""

    def __init__(self, tasks):
        super().__init__()
        self.trunk = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh())
        self.heads = torch.nn.ModuleDict({t.name: torch.nn.Linear(16, 1) for t in tasks})

    def forward(self, x):
        h = self.trunk(x)
        return {t: head(h) for t, head in self.heads.items()}


def two_layer(tasks, variant, example_batch):
    return Heads(tasks)


def batches_as_suite():
    batches = make_batches()
    x = torch.cat([b[0] for b in batches]).numpy()
    targets = {t: torch.cat([b[1][t] for b in batches]).numpy() for t in TASKS}
    return TaskSuite.from_arrays(x, targets, {t: "regression" for t in TASKS}, standardize=False)


def test_training_run_finds_related_tasks():
    suite = batches_as_suite()
    config = TrainConfig(model=two_layer, batch_size=64, lr=0.01)
    run = suite_affinity(suite, config=config, epochs=8, every=4, shared="trunk", lookahead_lr=0.05, seed=1)
    steps = 8 * int(np.ceil(len(suite.train) / 64))
    assert run.steps == steps and run.measured_steps == list(range(0, steps, 4))
    Z, C = run.tag, run.cs
    # a and b have the same target direction: they help each other more than either helps c
    assert Z.loc["a", "b"] > Z.loc["a", "c"] and Z.loc["b", "a"] > Z.loc["c", "a"]
    assert C.loc["a", "b"] > C.loc["a", "c"]
    # the same seed gives the same numbers
    again = suite_affinity(suite, config=config, epochs=8, every=4, shared="trunk", lookahead_lr=0.05, seed=1)
    assert again.tag.equals(Z) and again.cs.equals(C)
    with pytest.raises(InvalidArgument, match="has no shared_parameters"):
        suite_affinity(suite, config=config, epochs=1)


def test_dropout_same_mask_before_and_after():
    class Dropped(TwoLayer):
        def __init__(self):
            super().__init__()
            self.trunk = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Dropout(0.5))

    model = Dropped().train()
    batch = make_batches(1)[0]
    # with a zero-length step nothing changes, so every affinity must be exactly 0
    Z = lookahead_affinity(model, batch, mse, shared="trunk", lr=1e-30)
    assert np.allclose(Z.to_numpy(), 0.0, atol=1e-6)


def test_errors():
    model, batches = TwoLayer(), make_batches(1)
    with pytest.raises(InvalidArgument, match="matches no trainable"):
        lookahead_affinity(model, batches[0], mse, shared="encoder", lr=0.1)
    with pytest.raises(InvalidArgument, match="not trainable parameters"):
        gradient_similarity(model, batches[0], mse, shared=["trunk.9.weight"])
    with pytest.raises(InvalidArgument, match="no loss for task"):
        gradient_similarity(model, batches[0], mse, shared="trunk", tasks=["a", "z"])
    with pytest.raises(InvalidArgument, match="methods"):
        AffinityHook(TASKS, methods=["hoa"])
    with pytest.raises(InvalidArgument, match="every"):
        AffinityHook(TASKS, every=0)
    with pytest.raises(InvalidArgument, match="learning rate"):
        lookahead_affinity(model, batches[0], mse, shared="trunk", lr=0)
    with pytest.raises(InvalidArgument, match="No training step had a label for every task"):
        AffinityHook(TASKS).result()
