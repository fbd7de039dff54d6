"""TAG lookahead affinity and gradient cosine similarity, measured inside one multi-task training run.

Orientation: ``Z.loc[source, target]`` (= ``Z[source -> target]``). For each source task ``i``, the shared
parameters take one SGD step on ``L_i`` alone (task heads fixed); on the same batch,

    Z[i -> j] = 1 - L_j(theta_s - lr * grad_{theta_s} L_i) / L_j(theta_s)

is positive when a step for ``i`` lowers ``j``'s loss (Fifty et al. 2021). The cosine similarity
``CS[i, j] = cos(grad_{theta_s} L_i, grad_{theta_s} L_j)`` is symmetric. :func:`train_with_affinity` trains a
model on all tasks and averages both every ``every`` steps.

The model is any ``torch.nn.Module``; which parameters are shared is given by a name prefix, a list of
names or a predicate. Lookahead forward passes use :func:`torch.func.functional_call`, so the model itself is
never modified by a measurement, and run on copies of the buffers (batch-norm statistics) under one fixed
random state, so that dropout draws the same mask before and after the lookahead step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call

from taskgroup.errors import InvalidArgument

__all__ = [
    "SharedSpec",
    "shared_parameter_names",
    "lookahead_affinity",
    "gradient_similarity",
    "train_with_affinity",
    "AffinityRun",
    "default_forward",
]

SharedSpec = str | Sequence[str] | Callable[[str], bool]
LossFn = Callable[[Any, Any], Mapping[str, torch.Tensor]]
Forward = Callable[[Callable[..., Any], Any], Any]


def default_forward(model: Callable[..., Any], batch: Any) -> Any:
    """``model(batch[0])`` for a ``(inputs, targets)`` batch, ``model(batch["x"])`` for a dict batch."""
    if isinstance(batch, Mapping):
        return model(batch["x"])
    return model(batch[0])


def shared_parameter_names(model: torch.nn.Module, shared: SharedSpec) -> list[str]:
    """Names of the shared (trunk) parameters that require gradients.

    Parameters
    ----------
    model : torch.nn.Module
    shared : str, sequence of str, or callable
        A name prefix (``"trunk"`` matches ``"trunk.0.weight"``), an explicit list of parameter names, or a
        predicate on the name.

    Raises
    ------
    InvalidArgument
        If a listed name is not a parameter of the model, or nothing matches.
    """
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if isinstance(shared, str):
        prefix = shared.rstrip(".")
        chosen = [n for n in names if n == prefix or n.startswith(prefix + ".")]
    elif callable(shared):
        chosen = [n for n in names if shared(n)]
    elif isinstance(shared, Sequence):
        unknown = [s for s in shared if s not in set(names)]
        if unknown:
            raise InvalidArgument(
                f"shared names {unknown} are not trainable parameters of the model; parameters: {names[:8]}"
                + ("..." if len(names) > 8 else "")
            )
        chosen = list(shared)
    else:
        raise InvalidArgument(
            f"shared must be a parameter-name prefix, a list of names or a predicate; got {type(shared).__name__}."
        )
    if not chosen:
        raise InvalidArgument(f"shared={shared!r} matches no trainable parameter; parameters: {names[:8]}.")
    return chosen


@dataclass
class _Measurement:
    tasks: list[str]
    before: np.ndarray  # (n,) losses
    grads: list[torch.Tensor]  # per task, flat gradient on the shared parameters


def _measure(
    model: torch.nn.Module,
    batch: Any,
    loss_fn: LossFn,
    shared: list[str],
    tasks: Sequence[str] | None,
    forward: Forward,
    seed: int,
) -> tuple[_Measurement, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    params = {n: p.detach().clone().requires_grad_(n in set(shared)) for n, p in model.named_parameters()}
    buffers = {n: b.detach().clone() for n, b in model.named_buffers()}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        out = forward(lambda *a, **k: functional_call(model, {**params, **buffers}, a, k), batch)
        losses = loss_fn(out, batch)
    names = _task_order(losses, tasks)
    shared_tensors = [params[n] for n in shared]
    grads = []
    for i, t in enumerate(names):
        g = torch.autograd.grad(losses[t], shared_tensors, retain_graph=i < len(names) - 1, allow_unused=True)
        grads.append(torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1) for x, p in zip(g, shared_tensors)]))
    before = np.array([float(losses[t].detach()) for t in names])
    return _Measurement(names, before, grads), params, buffers


def _task_order(losses: Mapping[str, torch.Tensor], tasks: Sequence[str] | None) -> list[str]:
    if not isinstance(losses, Mapping):
        raise InvalidArgument(f"loss_fn must return a dict task -> scalar loss tensor; got {type(losses).__name__}.")
    if tasks is None:
        return list(losses)
    missing = [t for t in tasks if t not in losses]
    if missing:
        raise InvalidArgument(f"loss_fn returned no loss for task(s) {missing}; it returned {list(losses)}.")
    return list(tasks)


def lookahead_affinity(
    model: torch.nn.Module,
    batch: Any,
    loss_fn: LossFn,
    *,
    shared: SharedSpec,
    lr: float,
    tasks: Sequence[str] | None = None,
    forward: Forward = default_forward,
    seed: int = 0,
) -> pd.DataFrame:
    """TAG's lookahead affinity on one batch: ``Z.loc[source, target]``.

    Parameters
    ----------
    model : torch.nn.Module
        Shared trunk plus per-task heads; not modified.
    batch : any
        One batch, passed to ``forward`` and ``loss_fn``.
    loss_fn : callable
        ``loss_fn(outputs, batch) -> {task: scalar tensor}``.
    shared : str, sequence or callable
        The shared parameters (see :func:`shared_parameter_names`).
    lr : float
        Learning rate of the lookahead SGD step (TAG uses the training learning rate).
    tasks : sequence of str, optional
        Task order (default: the order ``loss_fn`` returns).
    forward : callable
        ``forward(model, batch) -> outputs``; default ``model(batch[0])``.
    seed : int
        Random state for the forward passes (dropout), the same before and after the step.

    Returns
    -------
    pandas.DataFrame
        ``n x n``; the diagonal is each task's effect on itself. A target whose loss is 0 before the step
        gets 0 (nothing to reduce).
    """
    _check_lr(lr)
    names = shared_parameter_names(model, shared)
    m, params, buffers = _measure(model, batch, loss_fn, names, tasks, forward, seed)
    return _frame(_lookahead(model, batch, loss_fn, names, m, params, buffers, lr, forward, seed), m.tasks)


def _lookahead(
    model: torch.nn.Module,
    batch: Any,
    loss_fn: LossFn,
    shared: list[str],
    m: _Measurement,
    params: dict[str, torch.Tensor],
    buffers: dict[str, torch.Tensor],
    lr: float,
    forward: Forward,
    seed: int,
) -> np.ndarray:
    n = len(m.tasks)
    Z = np.zeros((n, n))
    shapes = [params[s].shape for s in shared]
    sizes = [int(np.prod(s)) for s in shapes]
    with torch.no_grad():
        for i in range(n):
            step = torch.split(m.grads[i], sizes)
            moved = {s: params[s] - lr * g.reshape(shape) for s, g, shape in zip(shared, step, shapes)}
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                fresh = {k: v.clone() for k, v in buffers.items()}
                out = forward(lambda *a, **k: functional_call(model, {**params, **moved, **fresh}, a, k), batch)
                after = loss_fn(out, batch)
            for j, t in enumerate(m.tasks):
                b = m.before[j]
                Z[i, j] = 0.0 if b == 0 else 1.0 - float(after[t]) / b
    return Z


def _cosine(m: _Measurement) -> np.ndarray:
    G = torch.stack(m.grads).double()
    norms = G.norm(dim=1)
    safe = torch.where(norms > 0, norms, torch.ones_like(norms))
    C = (G @ G.T) / (safe[:, None] * safe[None, :])
    zero = norms == 0  # an undefined angle counts as unrelated
    C[zero, :] = 0.0
    C[:, zero] = 0.0
    return C.numpy()


def gradient_similarity(
    model: torch.nn.Module,
    batch: Any,
    loss_fn: LossFn,
    *,
    shared: SharedSpec,
    tasks: Sequence[str] | None = None,
    forward: Forward = default_forward,
    seed: int = 0,
) -> pd.DataFrame:
    """Cosine similarity of the per-task gradients on the shared parameters, on one batch (symmetric).

    Parameters are as in :func:`lookahead_affinity`. A task with a zero gradient gets 0 similarity.
    """
    names = shared_parameter_names(model, shared)
    m, _, _ = _measure(model, batch, loss_fn, names, tasks, forward, seed)
    return _frame(_cosine(m), m.tasks)


@dataclass
class AffinityRun:
    """What :func:`train_with_affinity` measured.

    Attributes
    ----------
    tag : DataFrame or None
        Mean lookahead affinity ``Z.loc[source, target]`` over the measured steps.
    cs : DataFrame or None
        Mean gradient cosine similarity over the measured steps.
    measured_steps : list of int
        Training steps (0-based) at which the affinities were measured.
    train_loss : list of float
        The all-tasks training loss at every step.
    """

    tag: pd.DataFrame | None
    cs: pd.DataFrame | None
    measured_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)


def train_with_affinity(
    model: torch.nn.Module,
    batches: Iterable[Any],
    loss_fn: LossFn,
    *,
    shared: SharedSpec,
    steps: int,
    lr: float = 1e-2,
    every: int = 10,
    methods: Sequence[str] = ("tag", "cs"),
    optimizer: torch.optim.Optimizer | None = None,
    lookahead_lr: float | None = None,
    tasks: Sequence[str] | None = None,
    forward: Forward = default_forward,
    reduction: str = "mean",
    seed: int = 0,
) -> AffinityRun:
    """Train ``model`` on all tasks and measure TAG and/or CS affinity every ``every`` steps.

    Parameters
    ----------
    model : torch.nn.Module
        Trained in place (this is the one multi-task run TAG needs).
    batches : iterable
        Yields batches; cycled if it runs out before ``steps``.
    loss_fn : callable
        ``loss_fn(outputs, batch) -> {task: scalar tensor}``.
    shared : str, sequence or callable
        The shared parameters (see :func:`shared_parameter_names`).
    steps : int
        Training steps, >= 1.
    lr : float
        Learning rate of the default optimizer (SGD) and, unless ``lookahead_lr`` is given, of the lookahead.
    every : int
        Measure on every ``every``-th step's batch (before that step's update), starting at step 0.
    methods : sequence of {"tag", "cs"}
    optimizer : torch.optim.Optimizer, optional
        Default: ``SGD(model.parameters(), lr)``.
    lookahead_lr : float, optional
        Learning rate of the lookahead step; default ``lr``.
    tasks : sequence of str, optional
        Task order of the matrices.
    forward : callable
        ``forward(model, batch) -> outputs``.
    reduction : {"mean", "sum"}
        How task losses combine into the training loss (the papers: mean; Standley's code: sum).
    seed : int
        Seeds torch for the run.

    Returns
    -------
    AffinityRun

    Raises
    ------
    InvalidArgument
        For an unknown method or reduction, ``steps`` or ``every`` < 1, a learning rate <= 0, an empty batch
        iterable, or a ``loss_fn`` that does not return every task.
    """
    unknown = [m for m in methods if m not in ("tag", "cs")]
    if unknown or not methods:
        raise InvalidArgument(f"methods={list(methods)!r} is not accepted; give a non-empty subset of ['tag', 'cs'].")
    if reduction not in ("mean", "sum"):
        raise InvalidArgument(f"reduction={reduction!r} is not accepted; use 'mean' or 'sum'.")
    for label, value in (("steps", steps), ("every", every)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidArgument(f"{label}={value!r} is not accepted; give an integer >= 1.")
    _check_lr(lr)
    look_lr = lr if lookahead_lr is None else lookahead_lr
    _check_lr(look_lr)
    names = shared_parameter_names(model, shared)
    torch.manual_seed(seed)
    opt = optimizer if optimizer is not None else torch.optim.SGD(model.parameters(), lr=lr)
    tag_sum = cs_sum = None
    measured: list[int] = []
    history: list[float] = []
    order: list[str] | None = list(tasks) if tasks is not None else None
    iterator = _cycle(batches)
    for step in range(steps):
        batch = next(iterator)
        if step % every == 0:
            m, params, buffers = _measure(model, batch, loss_fn, names, order, forward, seed + step)
            order = m.tasks
            if "tag" in methods:
                Z = _lookahead(model, batch, loss_fn, names, m, params, buffers, look_lr, forward, seed + step)
                tag_sum = Z if tag_sum is None else tag_sum + Z
            if "cs" in methods:
                C = _cosine(m)
                cs_sum = C if cs_sum is None else cs_sum + C
            measured.append(step)
        opt.zero_grad()
        losses = loss_fn(forward(model, batch), batch)
        order = _task_order(losses, order)
        total = torch.stack([losses[t] for t in order])
        loss = total.mean() if reduction == "mean" else total.sum()
        loss.backward()
        opt.step()
        history.append(float(loss.detach()))
    assert order is not None
    count = len(measured)
    return AffinityRun(
        tag=_frame(tag_sum / count, order) if tag_sum is not None else None,
        cs=_frame(cs_sum / count, order) if cs_sum is not None else None,
        measured_steps=measured,
        train_loss=history,
    )


def _cycle(batches: Iterable[Any]) -> Any:
    seen = False
    while True:
        for batch in batches:
            seen = True
            yield batch
        if not seen:
            raise InvalidArgument("batches yielded nothing; give an iterable with at least one batch.")


def _check_lr(lr: float) -> None:
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise InvalidArgument(f"learning rate {lr!r} is not accepted; give a finite number > 0.")


def _frame(values: np.ndarray, tasks: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(np.asarray(values, dtype=float), index=list(tasks), columns=list(tasks))
    frame.index.name, frame.columns.name = "source", "target"
    return frame
