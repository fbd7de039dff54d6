"""The training configuration taskgroup uses for a suite unless told otherwise."""

from __future__ import annotations

from typing import Any

from taskgroup.engine.config import TrainConfig

__all__ = ["default_model", "default_train_config"]

# The built-in families' settings for image suites: two small conv layers, then dense layers on the flattened
# map (positions matter for stroke tasks such as slant) ending in a narrow 16-unit layer, where features cluster
# by class so that a head trained on few labels can read a union of classes off them (docs/measure.md, mnist),
# and batches small enough for ~50 steps an epoch.
_IMAGE_MODEL = {"hidden": (8, 16), "options": {"dense": (64, 16)}, "batch_size": 32}


def default_model(suite: Any) -> str:
    """The family ``taskgroup run`` measures a suite with: ``cnn`` for image inputs ``(C, H, W)``, else ``mlp``.

    Parameters
    ----------
    suite : TaskSuite
        Its ``input_shape`` decides.

    Returns
    -------
    str
    """
    return "cnn" if len(suite.input_shape) == 3 else "mlp"


def default_train_config(suite: Any, family: str | None = None, **changes: Any) -> TrainConfig:
    """The training configuration taskgroup uses for ``suite`` unless told otherwise, with ``changes`` applied.

    ``family`` None means :func:`default_model`. The ``cnn`` family gets the image settings every command shares
    (conv channels 8 and 16, dense layers of 64 and 16 units, batches of 32; docs/measure.md says why); ``changes``
    (the options a user gave) override them. ``taskgroup run``, ``measure``, ``train`` and ``affinity`` all build
    their configuration here, so an image suite is trained the same way whichever command trains it.

    Parameters
    ----------
    suite : TaskSuite
        The suite to train.
    family : str, optional
        The model family.
    **changes
        TrainConfig fields to set.

    Returns
    -------
    TrainConfig

    Raises
    ------
    InvalidArgument
        A value TrainConfig does not accept, or an unknown family or option.
    """
    family = family or default_model(suite)
    config = TrainConfig(model=family)
    if family == "cnn":
        config = config.replace(**_IMAGE_MODEL)
    return config.replace(**changes)
