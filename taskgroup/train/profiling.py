"""Cost of a trained network for the deployment manifest: parameters, FLOPs and latency per example.

The measurement profiler (:mod:`taskgroup.measure.profile`) is the one source of these numbers, so a deployed
``shared`` network's costs are exactly the costs its candidate was selected with. It is written for the
shared-trunk family (its memory estimate walks the trunk); for other architectures (MMoE) the same FLOP count
and the same latency timer are applied to the whole network, and memory is left out rather than guessed.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from taskgroup.measure import profile as measure_profile
from taskgroup.measure.models import SharedTrunkNet

__all__ = ["profile_network"]


def profile_network(model: nn.Module, n_features: int, *, repeats: int = 50) -> dict[str, float | None]:
    """``{"parameters", "flops", "latency_ms", "memory_bytes"}`` of ``model`` for one example (batch size 1).

    FLOPs: ``FlopCounterMode`` (a multiply-add counts 2); latency: the median of ``repeats`` timed forward
    passes on one CPU thread after warm-up; ``memory_bytes``: the measurement profiler's estimate for shared-trunk
    networks, None for other architectures.
    """
    was_training = model.training
    model.eval()
    try:
        if isinstance(model, SharedTrunkNet):
            p = measure_profile.profile_network(model, batch_size=1, repeats=repeats)
            return {"parameters": int(p["params"]), "flops": float(p["flops"]), "latency_ms": float(p["latency_ms"]),
                    "memory_bytes": float(p["memory_bytes"])}
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(1, int(n_features)))
        # the timer reads net.n_features; MMoE does not carry it, so a thin view supplies it
        timed = _WithFeatures(model, int(n_features))
        return {
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "flops": float(counter.get_total_flops()),
            "latency_ms": float(measure_profile._median_latency_ms(timed, 1, repeats)),
            "memory_bytes": None,
        }
    finally:
        model.train(was_training)


class _WithFeatures:
    """Callable wrapper exposing ``n_features`` (what the measurement latency timer needs)."""

    def __init__(self, model: nn.Module, n_features: int):
        self.model = model
        self.n_features = n_features

    def __call__(self, x: torch.Tensor):
        return self.model(x)
