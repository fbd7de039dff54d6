"""The one profiler: FLOPs, parameters, latency and measured peak memory of one forward pass.

Costs depend only on the architecture, never on the trained weights, so a network is profiled once, from the
built module, whatever family or user factory built it. Keys (:data:`COST_KEYS`), all for one example:

- ``flops``: floating-point operations of a forward pass, counted by ``torch.utils.flop_counter.FlopCounterMode``
  (a multiply-add counts as 2);
- ``params``: number of parameters;
- ``latency_ms``: median wall time of a forward pass over ``repeats`` runs after warm-up, on one CPU thread on
  the CPU (so concurrent work on other cores disturbs it least), synchronised on a GPU;
- ``memory_bytes``: the parameters' and buffers' bytes plus the *measured* peak of live tensor bytes during a
  forward pass (the input included): every tensor an operator allocates is counted while it lives
  (:class:`PeakMemory`), so activations freed on the way are not, views are not counted twice, and the answer
  is the same on every device.
"""

from __future__ import annotations

import statistics
import time
import weakref
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from taskgroup.errors import InvalidArgument

__all__ = ["COST_KEYS", "COST_UNITS", "PeakMemory", "profile_model"]

COST_KEYS: tuple[str, ...] = ("flops", "params", "latency_ms", "memory_bytes")
COST_UNITS: dict[str, str] = {
    "flops": "floating-point operations for one example (FlopCounterMode; a multiply-add is 2)",
    "params": "number of parameters",
    "latency_ms": "median wall time of one forward pass on one example (one CPU thread on the CPU)",
    "memory_bytes": "parameter and buffer bytes + measured peak live tensor bytes of a one-example forward pass",
}


def _storage_key(t: torch.Tensor) -> tuple[str, int]:
    return (str(t.device), t.untyped_storage().data_ptr())


class PeakMemory(TorchDispatchMode):
    """Count the bytes of tensors that operators allocate while they are alive; ``peak`` is the maximum.

    An operator's output that shares storage with one of its inputs (a view, an in-place result) is not a new
    allocation; storages are released when the last tensor using them is freed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._refs: dict[tuple[str, int], int] = {}
        self._bytes: dict[tuple[str, int], int] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        inputs = {_storage_key(a) for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            key = _storage_key(t)
            if key not in self._refs:
                if key in inputs:
                    continue  # a view of something that existed before
                self._refs[key] = 0
                self._bytes[key] = t.untyped_storage().nbytes()
                self.live += self._bytes[key]
                self.peak = max(self.peak, self.live)
            self._refs[key] += 1
            weakref.finalize(t, self._release, key)
        return out

    def _release(self, key: tuple[str, int]) -> None:
        self._refs[key] -= 1
        if self._refs[key] == 0:
            self.live -= self._bytes.pop(key)
            del self._refs[key]


def profile_model(
    model: nn.Module, example_input: torch.Tensor, *, repeats: int = 50, latency: bool = True
) -> dict[str, float]:
    """FLOPs, parameters, memory bytes and (with ``latency``) median latency of ``model`` for one example.

    Parameters
    ----------
    model : nn.Module
        Profiled in eval mode on the device its parameters are on (its mode is restored afterwards).
    example_input : Tensor, shape (n, ...)
        Inputs of the right shape and dtype; the first row is used.
    repeats : int
        Timed forward passes (the median is reported).
    latency : bool
        Time the model (otherwise ``latency_ms`` is left out).

    Returns
    -------
    dict of str to float
        ``flops`` and ``params`` of one forward pass on one example, ``memory_bytes`` (parameters, buffers, the
        input and the pass's peak), and ``latency_ms`` with ``latency``.

    Raises
    ------
    InvalidArgument
        ``repeats`` below 1.
    """
    if repeats < 1:
        raise InvalidArgument(f"repeats must be >= 1; got {repeats}.")
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = example_input[:1].to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        held = sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])
        with torch.no_grad():
            x_copy = x.clone()  # the input is part of what a forward pass holds
            with PeakMemory() as memory:
                model(x_copy)
        result = {
            "flops": float(counter.get_total_flops()),
            "params": float(sum(p.numel() for p in model.parameters())),
            "memory_bytes": float(held + x_copy.numel() * x_copy.element_size() + memory.peak),
        }
        if latency:
            result["latency_ms"] = _median_latency_ms(model, x, repeats, device)
        return result
    finally:
        model.train(was_training)


def _median_latency_ms(model: nn.Module, x: torch.Tensor, repeats: int, device: torch.device) -> float:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    threads = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for _ in range(max(3, repeats // 10)):  # warm-up: allocator and kernel selection
                model(x)
            sync()
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                model(x)
                sync()
                times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return 1000.0 * statistics.median(times)
