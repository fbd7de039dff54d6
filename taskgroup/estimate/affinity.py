"""TAG lookahead affinity and gradient cosine similarity, measured inside one multi-task training run.

Orientation: ``Z.loc[source, target]`` (= ``Z[source -> target]``). For each source task ``i``, the shared
parameters take one SGD step on ``L_i`` alone (task heads fixed); on the same batch,

    Z[i -> j] = 1 - L_j(theta_s - lr * grad_{theta_s} L_i) / L_j(theta_s)

is positive when a step for ``i`` lowers ``j``'s loss (Fifty et al. 2021). The cosine similarity
``CS[i, j] = cos(grad_{theta_s} L_i, grad_{theta_s} L_j)`` is symmetric. :class:`AffinityHook` measures both
every ``every`` steps of the engine's one training loop (:func:`taskgroup.engine.fit`) and averages them.

The model is any ``torch.nn.Module``; which parameters are shared is given by the model's
``shared_parameters()`` method, a name prefix, a list of names or a predicate. Lookahead forward passes use
:func:`torch.func.functional_call`, so the model itself is never modified by a measurement, and run on copies of
the buffers (batch-norm statistics) under one fixed random state, so that dropout draws the same mask before and
after the lookahead step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.func import functional_call

from taskgroup.engine.loop import Hook
from taskgroup.errors import InvalidArgument

__all__ = [
    "SharedSpec",
    "shared_parameter_names",
    "lookahead_affinity",
    "gradient_similarity",
    "AffinityHook",
    "AffinityRun",
    "default_forward",
]

SharedSpec = str | Sequence[str] | Callable[[str], bool]
LossFn = Callable[[Any, Any], Mapping[str, torch.Tensor]]
Forward = Callable[[Callable[..., Any], Any], Any]


def default_forward(model: Callable[..., Any], batch: Any) -> Any:
    """``model(batch[0])`` for a ``(inputs, targets)`` batch, ``model(batch["x"])`` for a dict batch.

    Parameters
    ----------
    model : callable
        The network.
    batch : sequence or mapping
        A batch as the data loader yields it.

    Returns
    -------
    object
        What the model returns (its task outputs).
    """
    if isinstance(batch, Mapping):
        return model(batch["x"])
    return model(batch[0])


def shared_parameter_names(model: torch.nn.Module, shared: SharedSpec | None = None) -> list[str]:
    """Names of the shared (trunk) parameters that require gradients.

    Parameters
    ----------
    model : torch.nn.Module
    shared : str, sequence of str, callable, or None
        A name prefix (``"trunk"`` matches ``"trunk.0.weight"``), an explicit list of parameter names, a
        predicate on the name, or None: the parameters the model's ``shared_parameters()`` method yields.

    Returns
    -------
    list of str
        The parameter names, in the model's order.

    Raises
    ------
    InvalidArgument
        If a listed name is not a parameter of the model, nothing matches, or ``shared`` is None and the model
        has no ``shared_parameters()`` method.
    """
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if shared is None:
        method = getattr(model, "shared_parameters", None)
        if not callable(method):
            raise InvalidArgument(
                f"{type(model).__name__} has no shared_parameters() method; define one, or name the shared "
                "parameters with shared='trunk' (a name prefix), a list of names or a predicate."
            )
        ids = {id(p) for p in method()}
        chosen = [n for n, p in model.named_parameters() if p.requires_grad and id(p) in ids]
    elif isinstance(shared, str):
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
        grads.append(
            torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1) for x, p in zip(g, shared_tensors)])
        )
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
    shared: SharedSpec | None = None,
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
                # called at once, inside this iteration: the closure sees this iteration's moved and fresh
                out = forward(
                    lambda *a, **k: functional_call(model, {**params, **moved, **fresh}, a, k),  # noqa: B023
                    batch,
                )
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
    shared: SharedSpec | None = None,
    tasks: Sequence[str] | None = None,
    forward: Forward = default_forward,
    seed: int = 0,
) -> pd.DataFrame:
    """Cosine similarity of the per-task gradients on the shared parameters, on one batch (symmetric).

    Parameters are as in :func:`lookahead_affinity`. A task with a zero gradient gets 0 similarity.

    Parameters
    ----------
    model, batch, loss_fn, shared, tasks, forward, seed
        As :func:`lookahead_affinity`.

    Returns
    -------
    pandas.DataFrame
        ``matrix.loc[source, target]``, symmetric, in [-1, 1].
    """
    names = shared_parameter_names(model, shared)
    m, _, _ = _measure(model, batch, loss_fn, names, tasks, forward, seed)
    return _frame(_cosine(m), m.tasks)


@dataclass
class AffinityRun:
    """What an affinity run measured.

    Attributes
    ----------
    tag : DataFrame or None
        Mean lookahead affinity ``Z.loc[source, target]`` over the measured steps.
    cs : DataFrame or None
        Mean gradient cosine similarity over the measured steps.
    measured_steps : list of int
        Training steps (0-based) at which the affinities were measured.
    steps : int
        Training steps the run took.
    """

    tag: pd.DataFrame | None
    cs: pd.DataFrame | None
    measured_steps: list[int] = field(default_factory=list)
    steps: int = 0


class AffinityHook(Hook):
    """TAG and/or CS probes on the engine's training loop: measure every ``every`` steps, before the update.

    Attach it to :func:`taskgroup.engine.fit` (``hooks=[hook]``) and read :meth:`result` afterwards. A step whose
    batch lacks a label for some task is not measured (the affinity needs every task's loss on one batch).

    Parameters
    ----------
    tasks : sequence of str
        Task order of the matrices.
    shared : str, sequence or callable, optional
        The shared parameters (see :func:`shared_parameter_names`); default: the model's
        ``shared_parameters()``.
    methods : sequence of {"tag", "cs"}
    every : int
        Measure on every ``every``-th step's batch, starting at step 0.
    lookahead_lr : float
        SGD step of the lookahead (TAG uses the training learning rate).
    seed : int
        Random state of the probe's forward passes (dropout), the same before and after the lookahead step.
    """

    def __init__(
        self,
        tasks: Sequence[str],
        *,
        shared: SharedSpec | None = None,
        methods: Sequence[str] = ("tag", "cs"),
        every: int = 10,
        lookahead_lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        unknown = [m for m in methods if m not in ("tag", "cs")]
        if unknown or not methods:
            raise InvalidArgument(
                f"methods={list(methods)!r} is not accepted; give a non-empty subset of ['tag', 'cs']."
            )
        if not isinstance(every, int) or isinstance(every, bool) or every < 1:
            raise InvalidArgument(f"every={every!r} is not accepted; give an integer >= 1.")
        _check_lr(lookahead_lr)
        self.tasks = list(tasks)
        self.shared = shared
        self.methods = tuple(methods)
        self.every = every
        self.lookahead_lr = lookahead_lr
        self.seed = seed
        self.tag_sum: np.ndarray | None = None
        self.cs_sum: np.ndarray | None = None
        self.measured: list[int] = []
        self.steps = 0

    def on_step(self, step: int, model: torch.nn.Module, batch: Any, losses_of: Any) -> None:
        """Measure the affinity on this step's batch every ``every`` steps (batches with a label for every task).

        Parameters
        ----------
        step : int
            The training step (from 0).
        model : torch.nn.Module
            The network being trained.
        batch : Batch
            The step's batch.
        losses_of : callable
            The training loop's per-task losses of a model output.
        """
        self.steps = step + 1
        if step % self.every or not all(bool(batch.mask[:, c].any()) for c in range(batch.mask.shape[1])):
            return
        names = shared_parameter_names(model, self.shared)

        def forward(call: Callable[..., Any], b: Any) -> Any:
            return call(b.x)

        def loss_fn(outputs: Any, _b: Any) -> Mapping[str, torch.Tensor]:
            return losses_of(outputs)

        m, params, buffers = _measure(model, batch, loss_fn, names, self.tasks, forward, self.seed + step)
        if "tag" in self.methods:
            Z = _lookahead(
                model, batch, loss_fn, names, m, params, buffers, self.lookahead_lr, forward, self.seed + step
            )
            self.tag_sum = Z if self.tag_sum is None else self.tag_sum + Z
        if "cs" in self.methods:
            C = _cosine(m)
            self.cs_sum = C if self.cs_sum is None else self.cs_sum + C
        self.measured.append(step)

    def result(self) -> AffinityRun:
        """The mean matrices over the measured steps.

        Returns
        -------
        AffinityRun
            ``.tag`` / ``.cs`` and the measured steps.

        Raises
        ------
        InvalidArgument
            If no step was measured (no batch had a label for every task, or the run was shorter than one step).
        """
        count = len(self.measured)
        if not count:
            raise InvalidArgument(
                "No training step had a label for every task, so no affinity was measured; use "
                "larger batches or more epochs."
            )
        return AffinityRun(
            tag=_frame(self.tag_sum / count, self.tasks) if self.tag_sum is not None else None,
            cs=_frame(self.cs_sum / count, self.tasks) if self.cs_sum is not None else None,
            measured_steps=list(self.measured),
            steps=self.steps,
        )


def _check_lr(lr: float) -> None:
    if not (isinstance(lr, (int, float)) and np.isfinite(lr) and lr > 0):
        raise InvalidArgument(f"learning rate {lr!r} is not accepted; give a finite number > 0.")


def _frame(values: np.ndarray, tasks: Sequence[str]) -> pd.DataFrame:
    frame = pd.DataFrame(np.asarray(values, dtype=float), index=list(tasks), columns=list(tasks))
    frame.index.name, frame.columns.name = "source", "target"
    return frame
