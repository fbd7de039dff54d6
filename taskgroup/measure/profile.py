"""Inference cost of a candidate network: FLOPs, parameters, CPU latency, memory.

Costs depend only on the architecture (tasks served, size variant, trunk widths), never on the trained
weights, so each candidate is profiled once per configuration.

Columns (per network):

- ``flops``: floating-point operations per example of one forward pass, counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (a multiply-add counts as 2) at batch size 1;
- ``params``: number of parameters;
- ``latency_ms``: median wall time of a forward pass at ``batch_size`` over ``repeats`` runs, after warm-up,
  on one CPU thread (so concurrent work on other cores disturbs it least);
- ``memory_bytes``: parameters plus the largest layer input+output at ``batch_size``, in float32 bytes: the
  peak memory of an inference pass that frees activations as it goes (computed, not sampled, because the
  CPU allocator does not report a reliable peak);
- ``snt``: Standley et al.'s unit, the width multiplier (1 for a full-size network, 0.5 for half).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence

import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

from taskgroup.errors import InvalidArgument
from taskgroup.measure.candidates import Candidate
from taskgroup.measure.models import SharedTrunkNet
from taskgroup.measure.store import COST_COLUMNS, normalise_costs  # torch-free: the store reads them
from taskgroup.measure.suite import TaskSuite

__all__ = ["COST_COLUMNS", "profile_network", "profile_candidates", "normalise_costs"]


def profile_network(net: SharedTrunkNet, *, batch_size: int = 1, repeats: int = 50, latency: bool = True) -> dict[str, float]:
    """FLOPs per example, parameters, median latency (ms) and memory bytes of one network."""
    if batch_size < 1 or repeats < 1:
        raise InvalidArgument(f"batch_size and repeats must be >= 1; got {batch_size} and {repeats}.")
    net = net.eval()
    x1 = torch.zeros(1, net.n_features)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x1)
    flops = float(counter.get_total_flops())
    params = float(sum(p.numel() for p in net.parameters()))
    widths = [net.n_features] + [layer.out_features for layer in net.trunk_layers]
    head_out = sum(h.out_features for h in net.heads.values())
    peak_act = max([a + b for a, b in zip(widths, widths[1:])] + [widths[-1] + head_out])
    memory = 4.0 * (params + batch_size * peak_act)
    result = {"flops": flops, "params": params, "memory_bytes": memory, "snt": float(net.width)}
    if latency:
        result["latency_ms"] = _median_latency_ms(net, batch_size, repeats)
    return result


def _median_latency_ms(net: SharedTrunkNet, batch_size: int, repeats: int) -> float:
    x = torch.randn(batch_size, net.n_features, generator=torch.Generator().manual_seed(0))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            for _ in range(max(3, repeats // 10)):  # warm-up: allocator and kernel selection
                net(x)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                net(x)
                times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return 1000.0 * statistics.median(times)


def profile_candidates(
    suite: TaskSuite,
    candidates: Sequence[Candidate],
    hidden: Sequence[int],
    *,
    batch_size: int = 1,
    repeats: int = 50,
    latency: bool = True,
) -> pd.DataFrame:
    """One row per candidate: network, variant, tasks and the cost columns."""
    rows = []
    for cand in candidates:
        net = SharedTrunkNet(suite.n_features, [suite.task(t) for t in cand.tasks], hidden, cand.width, seed=0)
        rows.append({"network": cand.name, "variant": cand.variant, "tasks": "+".join(cand.tasks),
                     **profile_network(net, batch_size=batch_size, repeats=repeats, latency=latency)})
    return pd.DataFrame(rows)
