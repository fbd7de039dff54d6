"""The stacked fast path: many same-size ``mlp`` networks trained at once as batched matrix products.

Networks of one size differ only in which heads are trained, so a stack of ``C`` networks is kept as tensors
with a leading dimension ``C``: trunk weights ``(C, out, in)`` and a head for *every* suite task
``(C, out_dim, in)``. A forward pass is a few batched matmuls over the same mini-batch; each network's loss is
the reduction of its own heads' losses, so a head a network does not serve gets no gradient and never moves.
The networks' parameters are disjoint and Adam is elementwise, so one Adam over the stacked tensors performs
exactly the update each network's own Adam would: with the same seed, network ``c`` starts from the weights
:func:`~taskgroup.engine.families.build_model` gives it alone (the ``mlp`` family seeds each layer and head by
name), sees the batches of :func:`~taskgroup.engine.loop.batch_plan` and follows the trajectory of
:func:`~taskgroup.engine.loop.fit`, up to floating-point rounding of the batched products. Early stopping is
per network (:class:`~taskgroup.engine.stopping.EarlyStopping` over a vector).

Only what the stack can reproduce exactly is stacked (:func:`can_stack`): the ``mlp`` family without dropout,
equal loss weighting, early stopping on the plain loss, joint batches, no soft targets, inputs held in memory.
Anything else trains one network at a time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import cast

import torch

from taskgroup.engine.batching import choose_batching
from taskgroup.engine.config import TrainConfig
from taskgroup.engine.families import BuiltinFactory, SharedTrunkNet, build_model
from taskgroup.engine.loop import FitResult, batch_plan, labelled_rows, score
from taskgroup.engine.stopping import EarlyStopping
from taskgroup.errors import InvalidArgument
from taskgroup.tasks.losses import task_loss
from taskgroup.tasks.suite import TaskSuite

__all__ = ["StackedNets", "can_stack", "train_stack"]


def can_stack(suite: TaskSuite, networks: Sequence[Sequence[str]], config: TrainConfig) -> bool:
    """Whether :func:`train_stack` gives these networks the results of one-at-a-time training.

    True when every split is in memory, the model is the ``mlp`` family without dropout, the loss weighting is
    ``equal``, early stopping watches the plain loss and each network's training batches are joint.

    Parameters
    ----------
    suite : TaskSuite
        The data.
    networks : sequence of sequence of str
        Each network's tasks.
    config : TrainConfig
        How they would be trained.

    Returns
    -------
    bool
    """
    if not all(split.in_memory for split in suite.splits.values()):
        return False  # the stack evaluates whole splits at once
    factory = config.factory()
    if not (isinstance(factory, BuiltinFactory) and factory.family == "mlp" and not factory.options.get("dropout")):
        return False
    if config.weighting != "equal" or config.stopping != "loss":
        return False
    for tasks in networks:
        sub = suite.subset(list(tasks))
        if choose_batching(labelled_rows(sub.train, sub.tasks), config.batching) != "joint":
            return False
    return True


class StackedNets:
    """``C = S * n`` shared-trunk networks of one variant, ``n`` for each of ``S`` seeds, with heads for every
    suite task, as stacked tensors (seed-major: networks ``s*n .. s*n+n-1`` have seed ``seeds[s]``).

    Every network starts from the initial weights its seed gives a lone ``mlp`` network (see
    :meth:`SharedTrunkNet.reset_parameters <taskgroup.engine.families.SharedTrunkNet.reset_parameters>`).

    Parameters
    ----------
    suite : TaskSuite
        The data; each network has a head for every task of it.
    n : int
        Networks per seed.
    config : TrainConfig
        Builds the reference networks (the ``mlp`` family) and names the device.
    variant : str
        The networks' size variant.
    seeds : sequence of int
        One group of ``n`` networks per seed.
    """

    def __init__(self, suite: TaskSuite, n: int, config: TrainConfig, variant: str, seeds: Sequence[int]) -> None:
        # One reference network with every head per seed: each network's initial weights are its seed's (trunk
        # and heads are seeded per layer / per task name, independent of the head set).
        refs: list[SharedTrunkNet] = []
        for s in seeds:
            ref = build_model(config.factory(), suite.tasks, variant, suite.example_batch(), s)
            assert isinstance(ref, SharedTrunkNet)
            refs.append(ref)
        device = torch.device(config.device)
        self.suite = suite
        self.n = n
        self.n_seeds = len(refs)

        def stack(tensors: list[torch.Tensor]) -> torch.Tensor:
            return torch.cat([t.detach().to(device).expand(n, *t.shape) for t in tensors]).requires_grad_(True)

        layers = [list(r.trunk_layers) for r in refs]
        self.trunk = [
            (stack([ls[k].weight for ls in layers]), stack([cast(torch.Tensor, ls[k].bias) for ls in layers]))
            for k in range(len(layers[0]))
        ]
        heads = [[r.heads[t.name] for r in refs] for t in suite.tasks]
        self.heads = [
            (stack([cast(torch.Tensor, h.weight) for h in hs]), stack([cast(torch.Tensor, h.bias) for h in hs]))
            for hs in heads
        ]

    def parameters(self) -> list[torch.Tensor]:
        """Every stacked weight and bias, trunk layers first, then the heads.

        Returns
        -------
        list of torch.Tensor
            Leaf tensors with a leading dimension C, for the optimiser.
        """
        return [p for pair in (*self.trunk, *self.heads) for p in pair]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of every head of every network: a list over tasks of (C, rows, out_dim).

        ``x`` holds one batch per seed, shape (S, rows, ...), or one batch all networks read, (rows, ...).

        Parameters
        ----------
        x : torch.Tensor
            The inputs, as above.

        Returns
        -------
        list of torch.Tensor
            One per suite task, in suite order.
        """
        if x.dim() == self.suite.train.x.dim():  # one batch for all: the same rows for every seed
            x = x.unsqueeze(0).expand(self.n_seeds, *x.shape)
        x = x.reshape(x.shape[0], x.shape[1], -1)
        (w0, b0), rest = self.trunk[0], self.trunk[1:]
        c, out0, in0 = w0.shape
        # The networks of one seed read the same input, so the first layer is one wide product per seed,
        # (rows, in) @ (in, n*out), far faster on a CPU than n small products; deeper layers are block-diagonal
        # and use baddbmm.
        wide = w0.reshape(self.n_seeds, self.n * out0, in0).transpose(1, 2)
        h = torch.bmm(x, wide).reshape(self.n_seeds, x.shape[1], self.n, out0).permute(0, 2, 1, 3)
        h = torch.relu(h.reshape(c, x.shape[1], out0) + b0.unsqueeze(1))
        for w, b in rest:
            h = torch.relu(torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2)))
        # All heads as one product, then split per task: one kernel instead of one per task.
        w_all = torch.cat([w for w, _ in self.heads], 1)
        b_all = torch.cat([b for _, b in self.heads], 1)
        out = torch.baddbmm(b_all.unsqueeze(1), h, w_all.transpose(1, 2))
        return list(out.split([w.shape[1] for w, _ in self.heads], -1))

    def task_losses(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per network and task, the mean loss over labelled rows: shape (C, n_tasks).

        ``x``, ``y`` and ``mask`` hold one batch per seed (leading dimension S) or one batch for all networks.

        Parameters
        ----------
        x : torch.Tensor
            Inputs.
        y : torch.Tensor
            Targets, one column per suite task.
        mask : torch.Tensor of bool
            Which targets are labelled.

        Returns
        -------
        torch.Tensor
            Shape (C, n_tasks).
        """
        outs = self.forward(x)
        if y.dim() == 3:  # per seed: each network reads its seed's rows
            y, mask = y.repeat_interleave(self.n, 0), mask.repeat_interleave(self.n, 0)
        return torch.stack(
            [
                task_loss(spec, out, y[..., t], mask[..., t])
                for t, (spec, out) in enumerate(zip(self.suite.tasks, outs))
            ],
            -1,
        )

    def snapshot(self) -> list[torch.Tensor]:
        """A detached copy of :meth:`parameters` (e.g. the best weights so far).

        Returns
        -------
        list of torch.Tensor
        """
        return [p.detach().clone() for p in self.parameters()]

    def keep(self, best: list[torch.Tensor], which: torch.Tensor) -> None:
        """Copy the current weights of networks ``which`` (bool, (C,)) into ``best``.

        Parameters
        ----------
        best : list of torch.Tensor
            A :meth:`snapshot`, updated in place.
        which : torch.Tensor of bool, shape (C,)
            The networks whose weights are copied.
        """
        which = which.to(best[0].device)
        for saved, p in zip(best, self.parameters()):
            saved[which] = p.detach()[which]

    def load(self, state: list[torch.Tensor]) -> None:
        """Overwrite every network's weights with ``state``.

        Parameters
        ----------
        state : list of torch.Tensor
            A :meth:`snapshot`.
        """
        with torch.no_grad():
            for p, saved in zip(self.parameters(), state):
                p.copy_(saved)


def _reduce(losses: torch.Tensor, active: torch.Tensor, reduction: str) -> torch.Tensor:
    # where() rather than multiply: an inactive head's loss may be inf/NaN and must not leak in.
    total = torch.where(active, losses, torch.zeros_like(losses)).sum(-1)
    return total / active.sum(-1).clamp(min=1) if reduction == "mean" else total


def train_stack(
    suite: TaskSuite,
    networks: Sequence[Sequence[str]],
    variant: str,
    config: TrainConfig,
    seed: int | Sequence[int],
) -> list[tuple[FitResult, dict[str, dict[str, dict[str, float]]]]]:
    """Train networks of one variant together, each once per seed.

    Several seeds (training repeats) stack too: each seed's networks start from that seed's weights and read that
    seed's batches (:func:`~taskgroup.engine.loop.batch_plan`), so every (network, seed) follows the trajectory
    it would alone, and ``S`` seeds cost one stack ``S`` times as wide instead of ``S`` stacks.

    Parameters
    ----------
    suite : TaskSuite
    networks : sequence of task-name tuples
        The tasks each network serves.
    variant : str
    config : TrainConfig
        Must satisfy :func:`can_stack`.
    seed : int or sequence of int
        One seed, or several (each network is trained once per seed).

    Returns
    -------
    list of (FitResult, scores)
        One per (seed, network), seed-major (all networks of the first seed, then the next seed's); for one seed,
        one per network in order. ``scores[split][task]`` holds ``loss``, ``metric`` and their bootstrap
        errors ``loss_se``, ``metric_se`` (:func:`~taskgroup.engine.loop.score`) for the val and test splits
        (empty for a failed network).

    Raises
    ------
    InvalidArgument
        If the configuration cannot be stacked, a network names a task the suite lacks, or no seed is given.
    """
    networks = [tuple(t) for t in networks]
    seeds = [int(seed)] if isinstance(seed, int) else [int(s) for s in seed]
    if not seeds:
        raise InvalidArgument("train_stack needs at least one seed; got none.")
    if not networks:
        return []
    if not can_stack(suite, networks, config):
        raise InvalidArgument(
            "These networks cannot be stacked (stacking needs the mlp family without dropout, "
            "equal weighting and joint batches); train them one at a time."
        )
    n = len(networks) * len(seeds)
    device = torch.device(config.device)
    net = StackedNets(suite, len(networks), config, variant, seeds)
    active = torch.tensor([[t.name in tasks for t in suite.tasks] for tasks in networks] * len(seeds), device=device)
    # foreach: one kernel per update op over all stacked tensors (the same elementwise arithmetic as fit's Adam)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True)
    stopper = EarlyStopping(n, config.patience)
    best = net.snapshot()
    alive = torch.ones(n, dtype=torch.bool)
    reasons = [""] * n
    epochs_run = torch.zeros(n, dtype=torch.long)
    train, val = suite.train, suite.val
    labelled = labelled_rows(train, suite.tasks)
    val_x, val_y, val_mask = val.x.to(device), val.y.to(device), val.mask.to(device)
    start = time.perf_counter()
    for epoch in range(config.epochs):
        # Joint batches are chunks of a permutation of every row, so all seeds take the same number of steps of the
        # same sizes; step k reads each seed's own k-th batch.
        plans = [batch_plan(len(train), labelled, config, "joint", s, epoch) for s in seeds]
        for steps in zip(*plans, strict=True):
            rows = torch.stack([torch.as_tensor(idx) for _, idx in steps])
            per_net = _reduce(
                net.task_losses(train.inputs(rows).to(device), train.y[rows].to(device), train.mask[rows].to(device)),
                active,
                config.reduction,
            )
            bad = alive & ~torch.isfinite(per_net.detach().cpu())
            for c in torch.nonzero(bad).flatten().tolist():
                alive[c] = False
                reasons[c] = f"training loss became {float(per_net.detach()[c])} in epoch {epoch}"
                epochs_run[c] = epoch + 1
            # A failed network's loss is left out so its NaNs never reach the others' (disjoint) gradients.
            loss = torch.where(alive.to(device), per_net, torch.zeros_like(per_net)).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            val_loss = _reduce(net.task_losses(val_x, val_y, val_mask), active, "sum").cpu()
        bad = alive & ~torch.isfinite(val_loss)
        for c in torch.nonzero(bad).flatten().tolist():
            alive[c] = False
            reasons[c] = f"validation loss became {float(val_loss[c])} in epoch {epoch}"
            epochs_run[c] = epoch + 1
        running = alive & ~stopper.stopped
        epochs_run[running] = epoch + 1
        improved = stopper.update(epoch, torch.where(alive, val_loss, torch.full_like(val_loss, float("inf"))))
        net.keep(best, improved & alive)
        stopper.stopped |= ~alive
        if bool(stopper.stopped.all()):
            break
    net.load(best)
    elapsed = time.perf_counter() - start
    outputs = {}
    with torch.no_grad():
        for key in ("val", "test"):
            outputs[key] = [o.cpu().numpy() for o in net.forward(suite.split(key).x.to(device))]
    results = []
    for c in range(n):
        seed_c, tasks = seeds[c // len(networks)], networks[c % len(networks)]
        fit_result = FitResult(epochs=int(epochs_run[c]), train_time=elapsed / n)
        scores: dict[str, dict[str, dict[str, float]]] = {}
        if not alive[c]:
            fit_result.status, fit_result.reason = "failed", reasons[c]
        else:
            fit_result.best_epoch = int(stopper.best_epoch[c])
            for key, outs in outputs.items():
                mine = {spec.name: outs[t][c] for t, spec in enumerate(suite.tasks) if spec.name in tasks}
                scores[key] = score(mine, suite.split(key), suite.tasks, detail=True, errors=True, seed=seed_c)
        results.append((fit_result, scores))
    return results
