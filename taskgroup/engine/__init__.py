"""The one training engine: configuration, model protocol and families, the loop and its hooks, the stacked
fast path, early stopping, seeding, profiling, device and threads.

- :class:`TrainConfig` (``config.py``): one configuration, one set of defaults.
- :func:`build_model`, :func:`make_factory`, families ``mlp``, ``cnn``, ``mmoe``, ``omoe``
  (``families.py``): the model
  protocol ``build(tasks, variant, example_batch) -> nn.Module`` returning ``{task: output}``.
- :func:`fit`, :func:`predict`, :func:`score`, :class:`Hook` (``loop.py``): the training loop.
- :func:`train_stack` (``stacked.py``): many ``mlp`` networks at once, with the loop's results.
- :class:`EarlyStopping` (``stopping.py``), :func:`derive_seed`, :func:`seeded` (``seeding.py``).
- :func:`profile_model` (``profile.py``): FLOPs, parameters, latency, measured peak memory.
- :func:`configure_threads`, :func:`resolve_device` (``runtime.py``).
- batch schedules (``batching.py``), loss weightings (``weighting.py``).
"""

from taskgroup.engine.config import TrainConfig
from taskgroup.engine.families import (
    VARIANTS,
    ConvTrunkNet,
    MMoE,
    ModelFactory,
    OMoE,
    SharedTrunkNet,
    available_families,
    build_model,
    factory_name,
    make_factory,
    register_family,
)
from taskgroup.engine.loop import Batch, FitResult, Hook, fit, predict, score
from taskgroup.engine.profile import COST_KEYS, profile_model
from taskgroup.engine.runtime import configure_threads, default_threads, resolve_device
from taskgroup.engine.seeding import derive_seed, numpy_rng, seeded
from taskgroup.engine.stacked import can_stack, train_stack
from taskgroup.engine.stopping import EarlyStopping
from taskgroup.engine.weighting import (
    EqualWeighting,
    LossWeighting,
    UncertaintyWeighting,
    available_weightings,
    make_weighting,
    register_weighting,
)

__all__ = [
    "TrainConfig",
    "ModelFactory",
    "VARIANTS",
    "SharedTrunkNet",
    "ConvTrunkNet",
    "MMoE",
    "OMoE",
    "available_families",
    "build_model",
    "factory_name",
    "make_factory",
    "register_family",
    "Batch",
    "FitResult",
    "Hook",
    "fit",
    "predict",
    "score",
    "can_stack",
    "train_stack",
    "EarlyStopping",
    "COST_KEYS",
    "profile_model",
    "configure_threads",
    "default_threads",
    "resolve_device",
    "derive_seed",
    "numpy_rng",
    "seeded",
    "LossWeighting",
    "EqualWeighting",
    "UncertaintyWeighting",
    "available_weightings",
    "make_weighting",
    "register_weighting",
]
