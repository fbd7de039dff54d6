"""Plain-Python objectives (no torch) for the black-box route's tests: importable by name, so process-pool and
Dask workers and ``taskgroup measure --objective objective_examples:...`` can load them."""

from __future__ import annotations

import math
import os
import sys
import time

# Tasks in the same cluster help each other; tasks of different clusters hurt each other.
CLUSTER = {"a": 0, "b": 0, "c": 1, "d": 1}


def grouped_losses(tasks, variant, seed):
    """Deterministic losses: lower when a group keeps to one cluster, higher for the "small" variant."""
    clusters = {CLUSTER.get(t, 2) for t in tasks}
    base = 1.0 - 0.1 * (len(tasks) - 1) if len(clusters) == 1 else 1.0 + 0.2 * len(tasks)
    return {t: base + 0.01 * seed + (0.3 if variant == "small" else 0.0) + 0.001 * i for i, t in enumerate(tasks)}


def full_result(tasks, variant, seed, delay=0.0):
    """The full form: val, test and a cost in FLOPs; ``delay`` seconds of pretend training."""
    time.sleep(delay)
    val = grouped_losses(tasks, variant, seed)
    return {
        "val": val,
        "test": {t: v + 0.5 for t, v in val.items()},
        "cost": {"flops": 1e6 * (0.5 if variant == "small" else 1.0) * (1 + 0.1 * (len(tasks) - 1))},
    }


def plain(tasks, variant, seed):
    """The short form: a plain {task: loss} mapping (read as validation losses, every network costs 1)."""
    return grouped_losses(tasks, variant, seed)


def misbehaving(tasks, variant, seed):
    """Fails in a different way for some candidates; every other candidate gets a good result."""
    name = "+".join(tasks)
    if name == "a+c":
        raise RuntimeError("CUDA out of memory (pretend)")
    if name == "b+c":
        return {"val": {"b": math.nan, "c": 1.0}}
    if name == "a+b+c":
        return {"val": {"a": 1.0}}  # misses b and c
    if name == "b":
        return {"val": {"b": "0.5"}}  # a string, not a number
    if name == "c":
        return [0.5]
    if name == "a+b":
        return {"val": {"a": 1.0, "b": 1.0}, "train": {}}  # an unknown field
    return grouped_losses(tasks, variant, seed)


def with_settings(tasks, variant, seed, epochs):
    """Needs a setting: the loss falls with the epochs trained (what ESA's short runs look like)."""
    return {t: v + 1.0 / epochs for t, v in grouped_losses(tasks, variant, seed).items()}


def crashing(tasks, variant, seed):
    """Kills its own process (as a segfault would) for the network a+b; every other candidate is fine."""
    if list(tasks) == ["a", "b"]:
        os.abort()
    return grouped_losses(tasks, variant, seed)


def exiting(tasks, variant, seed):
    """Calls sys.exit(0) for the single-task network a, as a training script's main() might."""
    if list(tasks) == ["a"]:
        sys.exit(0)
    return grouped_losses(tasks, variant, seed)


def failing_while(tasks, variant, seed, flag):
    """Fails while the file ``flag`` exists (a passing fault: a busy GPU), else the usual losses."""
    if os.path.exists(flag):
        raise RuntimeError("the GPU is busy (pretend)")
    return grouped_losses(tasks, variant, seed)


def slow_groups(tasks, variant, seed, folder):
    """Single tasks return at once; a group writes its worker's pid into ``folder`` and trains for a minute."""
    if len(tasks) == 1:
        return grouped_losses(tasks, variant, seed)
    with open(os.path.join(folder, f"{os.getpid()}.pid"), "w") as f:
        f.write("+".join(tasks))
    time.sleep(60)
    return grouped_losses(tasks, variant, seed)


def reporting_modules(tasks, variant, seed, folder):
    """Writes, per call, whether torch is imported in the process running it (the user's script imports none)."""
    with open(os.path.join(folder, f"{'+'.join(tasks)}.modules"), "w") as f:
        f.write("torch" if "torch" in sys.modules else "no torch")
    return grouped_losses(tasks, variant, seed)
