"""The one seeding rule: every random draw comes from a generator derived from ``(seed, purpose, ...)``.

Nothing here changes the caller's global random state. Batch order comes from a numpy ``Generator``
(:func:`numpy_rng`); torch draws that can only use the global generator (``nn.Module`` initialisation inside a
user's factory, dropout masks) run inside :func:`seeded`, which forks torch's global state, seeds the fork and
restores the caller's state on exit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = ["derive_seed", "numpy_rng", "torch_generator", "seeded"]


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from a base seed and labels, stable across processes and Python versions.

    Parameters
    ----------
    seed : int
        The base seed.
    *parts : object
        Labels of the purpose (each taken as its ``str``), e.g. ``"batches", epoch``.

    Returns
    -------
    int
        In ``[0, 2**63)``: from the sha256 of the seed and labels, so unlike ``hash`` it does not change between
        processes.
    """
    text = repr((int(seed), *map(str, parts))).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def numpy_rng(seed: int, *parts: object) -> np.random.Generator:
    """A numpy Generator for one purpose, e.g. ``numpy_rng(seed, "batches", epoch)``.

    Parameters
    ----------
    seed : int
        The base seed.
    *parts : object
        Labels of the purpose (see :func:`derive_seed`).

    Returns
    -------
    numpy.random.Generator
        Seeded with ``derive_seed(seed, *parts)``.
    """
    return np.random.default_rng(derive_seed(seed, *parts))


def torch_generator(seed: int, *parts: object) -> torch.Generator:
    """A CPU torch Generator for one purpose (weights drawn on the CPU, then moved).

    Parameters
    ----------
    seed : int
        The base seed.
    *parts : object
        Labels of the purpose (see :func:`derive_seed`).

    Returns
    -------
    torch.Generator
        Seeded with ``derive_seed(seed, *parts)``.
    """
    return torch.Generator().manual_seed(derive_seed(seed, *parts))


@contextmanager
def seeded(seed: int, *parts: object, device: str | torch.device = "cpu") -> Iterator[None]:
    """Run the block with torch's global generator(s) seeded from ``(seed, *parts)``; restore them afterwards.

    Parameters
    ----------
    seed : int
        The base seed.
    *parts : object
        Labels of the purpose (see :func:`derive_seed`).
    device : str or torch.device, default "cpu"
        Also fork and seed this CUDA device's generator, or seed the MPS generator.

    Yields
    ------
    None
    """
    dev = torch.device(device)
    cuda = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        value = derive_seed(seed, *parts)
        torch.manual_seed(value)  # seeds CPU and (forked) CUDA generators alike
        if dev.type == "mps":
            torch.mps.manual_seed(value)
        yield
