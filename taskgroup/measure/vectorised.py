"""Training many same-size candidate networks at once, as one stack of batched matrix products.

Candidates of one size differ only in which heads are trained, so a stack of ``C`` networks is kept as
tensors with a leading dimension ``C``: trunk weights ``(C, out, in)``, and a head for *every* suite task
``(C, out_dim, in)``. A forward pass is a few batched matmuls over the same mini-batch; each network's loss
is the combination of its own active heads' losses, so a head a network does not serve gets no gradient and
never moves. The networks' parameters are disjoint and Adam is elementwise, so one Adam over the stacked
tensors performs exactly the update each network's own Adam would: with the same seed, network ``c`` starts
from the same weights (see :mod:`taskgroup.measure.models`), sees the same batches and follows the same
trajectory as :func:`taskgroup.measure.training.train_network`, up to floating-point rounding of the batched
products. Early stopping is per network: a network that stops keeps its best weights while the stack goes on.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from taskgroup.errors import InvalidArgument
from taskgroup.measure.candidates import Candidate
from taskgroup.measure.models import SharedTrunkNet
from taskgroup.measure.suite import TaskSuite, task_loss, task_metric
from taskgroup.measure.training import EarlyStopping, NetworkResult, TrainConfig, batch_order, combine_losses

__all__ = ["StackedNets", "train_stack"]


class StackedNets:
    """``C`` shared-trunk networks of one width, with heads for every suite task, as stacked tensors."""

    def __init__(self, suite: TaskSuite, n: int, config: TrainConfig, width: float, seed: int) -> None:
        # One reference network with every head: each candidate's initial weights are this network's
        # (trunk and heads are seeded per layer / per task name, independent of the head set).
        ref = SharedTrunkNet(suite.n_features, suite.tasks, config.hidden, width, seed)
        self.suite = suite
        self.n = n
        self.trunk = [
            (layer.weight.detach().expand(n, -1, -1).clone().requires_grad_(True),
             layer.bias.detach().expand(n, -1).clone().requires_grad_(True))
            for layer in ref.trunk_layers
        ]
        self.heads = [
            (ref.heads[t.name].weight.detach().expand(n, -1, -1).clone().requires_grad_(True),
             ref.heads[t.name].bias.detach().expand(n, -1).clone().requires_grad_(True))
            for t in suite.tasks
        ]

    def parameters(self) -> list[torch.Tensor]:
        return [p for pair in (*self.trunk, *self.heads) for p in pair]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of every head of every network: a list over tasks of (C, n, out_dim)."""
        (w0, b0), rest = self.trunk[0], self.trunk[1:]
        c, out0, in0 = w0.shape
        # Every network reads the same input, so the first layer is one wide GEMM (n, in) @ (in, C*out), far
        # faster on a CPU than C small products; deeper layers are block-diagonal and use baddbmm.
        h = torch.matmul(x, w0.reshape(c * out0, in0).t()).reshape(x.shape[0], c, out0).transpose(0, 1)
        h = torch.relu(h + b0.unsqueeze(1))
        for w, b in rest:
            h = torch.relu(torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
        # All heads as one product, then split per task: one kernel instead of one per task.
        w_all = torch.cat([w for w, _ in self.heads], 1)
        b_all = torch.cat([b for _, b in self.heads], 1)
        out = torch.baddbmm(b_all.unsqueeze(1), h, w_all.transpose(1, 2))
        return list(out.split([w.shape[1] for w, _ in self.heads], -1))

    def task_losses(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per network and task, the mean loss over labelled rows: shape (C, n_tasks)."""
        outs = self.forward(x)
        return torch.stack(
            [task_loss(spec, out, y[:, t], mask[:, t]) for t, (spec, out) in enumerate(zip(self.suite.tasks, outs))],
            -1,
        )

    def task_metrics(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        outs = self.forward(x)
        return torch.stack(
            [task_metric(spec, out, y[:, t], mask[:, t]) for t, (spec, out) in enumerate(zip(self.suite.tasks, outs))],
            -1,
        )

    def snapshot(self) -> list[torch.Tensor]:
        return [p.detach().clone() for p in self.parameters()]

    def keep(self, best: list[torch.Tensor], which: torch.Tensor) -> None:
        """Copy the current weights of networks ``which`` (bool, (C,)) into ``best``."""
        for saved, p in zip(best, self.parameters()):
            saved[which] = p.detach()[which]

    def load(self, state: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for p, saved in zip(self.parameters(), state):
                p.copy_(saved)


def train_stack(
    suite: TaskSuite, candidates: Sequence[Candidate], config: TrainConfig, seed: int
) -> list[NetworkResult]:
    """Train same-size candidates together; one :class:`NetworkResult` per candidate, in order.

    Raises
    ------
    InvalidArgument
        If the candidates are not all of one size variant, or name tasks the suite lacks.
    """
    candidates = list(candidates)
    if not candidates:
        return []
    variants = {c.variant for c in candidates}
    if len(variants) != 1:
        raise InvalidArgument(f"A stack holds networks of one size; got variants {sorted(variants)}.")
    for c in candidates:
        for t in c.tasks:
            suite.task_index(t)
    n = len(candidates)
    net = StackedNets(suite, n, config, candidates[0].width, seed)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    active = torch.tensor([[t.name in c.tasks for t in suite.tasks] for c in candidates])
    stopper = EarlyStopping(n, config.patience)
    alive = torch.ones(n, dtype=torch.bool)  # not failed
    reasons = [""] * n
    epochs_run = torch.zeros(n, dtype=torch.long)
    best = net.snapshot()
    train = suite.train
    start = time.perf_counter()
    for epoch in range(config.epochs):
        for rows in batch_order(len(train), config.batch_size, epoch, seed):
            per_net = combine_losses(net.task_losses(train.x[rows], train.y[rows], train.mask[rows]), active,
                                     config.reduction)
            bad = alive & ~torch.isfinite(per_net.detach())
            for c in torch.nonzero(bad).flatten().tolist():
                alive[c] = False
                reasons[c] = f"training loss became {float(per_net.detach()[c])} in epoch {epoch}"
                epochs_run[c] = epoch + 1
            # A failed network's loss is left out so its NaNs never reach the others' (disjoint) gradients.
            loss = torch.where(alive, per_net, torch.zeros_like(per_net)).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            val = combine_losses(net.task_losses(suite.val.x, suite.val.y, suite.val.mask), active, config.reduction)
        bad = alive & ~torch.isfinite(val)
        for c in torch.nonzero(bad).flatten().tolist():
            alive[c] = False
            reasons[c] = f"validation loss became {float(val[c])} in epoch {epoch}"
            epochs_run[c] = epoch + 1
        running = alive & ~stopper.stopped
        epochs_run[running] = epoch + 1
        improved = stopper.update(epoch, torch.where(alive, val, torch.full_like(val, float("inf"))))
        net.keep(best, improved & alive)
        stopper.stopped |= ~alive
        if bool(stopper.stopped.all()):
            break
    net.load(best)
    elapsed = time.perf_counter() - start
    with torch.no_grad():
        scores = {
            key: (net.task_losses(s.x, s.y, s.mask), net.task_metrics(s.x, s.y, s.mask))
            for key, s in (("val", suite.val), ("test", suite.test))
        }
    results = []
    for c, cand in enumerate(candidates):
        res = NetworkResult(cand.name, cand.tasks, cand.variant, seed, epochs=int(epochs_run[c]),
                            train_time=elapsed / n)
        if not alive[c]:
            res.status, res.reason = "failed", reasons[c]
        else:
            res.best_epoch = int(stopper.best_epoch[c])
            for t, spec in enumerate(suite.tasks):
                if spec.name in cand.tasks:
                    res.metrics[spec.name] = {
                        f"{key}_{kind}": float(values[i][c, t])
                        for key, values in scores.items()
                        for i, kind in enumerate(("loss", "metric"))
                    }
        results.append(res)
    return results
