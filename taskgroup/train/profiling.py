"""Cost of a trained network for the deployment manifest: parameters, FLOPs and measured latency per example.

FLOPs come from PyTorch's ``FlopCounterMode`` (2 per multiply-add), latency is the median of repeated timed
forward passes on one example. When ``taskgroup.measure.profile`` (the measurement profiler) is available its
functions are used, so the manifest and the measured candidate costs are the same numbers.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["profile_network", "count_parameters"]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _flops(model: nn.Module, x: torch.Tensor) -> int:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    return int(counter.get_total_flops())


def _latency_ms(model: nn.Module, x: torch.Tensor, repeats: int = 50, warmup: int = 5) -> float:
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(x)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    times.sort()
    return 1000.0 * times[len(times) // 2]


def profile_network(model: nn.Module, n_features: int) -> dict[str, float]:
    """``{"parameters", "flops", "latency_ms"}`` of ``model`` for one example, in eval mode."""
    was_training = model.training
    model.eval()
    x = torch.zeros(1, int(n_features))
    result = {"parameters": count_parameters(model), "flops": _flops(model, x), "latency_ms": _latency_ms(model, x)}
    model.train(was_training)
    return result
