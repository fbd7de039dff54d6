"""Training candidate networks with the engine, and what one (candidate, seed) produced.

The engine (:mod:`taskgroup.engine`) does the training; this module turns a candidate into an engine run and
its outcome into a :class:`NetworkResult` for the store. Same-size candidates that the stacked fast path can
reproduce exactly are trained together (:func:`taskgroup.engine.train_stack`), others one at a time
(:func:`taskgroup.engine.fit`). The trainer never touches the results store; the runner does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskgroup.checkpoints import checkpoint_bytes, network_config
from taskgroup.engine import FitResult, TrainConfig, build_model, can_stack, fit, predict, score, train_stack
from taskgroup.measure.candidates import Candidate
from taskgroup.measure.records import NetworkResult
from taskgroup.tasks.suite import TaskSuite

__all__ = ["TrainConfig", "NetworkResult", "train_candidate", "train_candidates", "candidates_by_variant"]


def _result(
    candidate: Candidate, seed: int, fitted: FitResult, scores: dict[str, dict[str, dict[str, Any]]]
) -> NetworkResult:
    result = NetworkResult(
        candidate.name,
        candidate.tasks,
        candidate.variant,
        seed,
        fitted.status,
        fitted.reason,
        fitted.epochs,
        fitted.best_epoch,
        fitted.train_time,
    )
    if fitted.status == "ok":
        for key, per_task in scores.items():
            for task, values in per_task.items():
                # val_loss, val_loss_se (bootstrap), val_metric, every metric by name, the calibration (engine.score);
                # the metrics on every resample (arrays) go to the store's replicates table
                row = result.metrics.setdefault(task, {})
                row.update({f"{key}_{name}": value for name, value in values.items() if name != "replicates"})
                replicates = result.replicates.setdefault(task, {})
                replicates.update({f"{key}_{name}": value for name, value in values.get("replicates", {}).items()})
    return result


def train_candidate(suite: TaskSuite, candidate: Candidate, config: TrainConfig, seed: int) -> NetworkResult:
    """Train one candidate alone with :func:`taskgroup.engine.fit` (the reference for the stacked path).

    A network whose training or validation loss becomes NaN or infinite is returned with ``status="failed"``.

    Parameters
    ----------
    suite : TaskSuite
        The data; the network sees only the candidate's tasks.
    candidate : Candidate
        The tasks and size variant to train.
    config : TrainConfig
        How to build and train it.
    seed : int
        Seed of initialisation and batch order (and of the bootstrap of the errors).

    Returns
    -------
    NetworkResult
        Its per-task validation and test losses and metrics with their bootstrap errors, and its trained weights
        (none of them when it failed).
    """
    sub = suite.subset(list(candidate.tasks))
    factory = config.factory()
    model = build_model(factory, sub.tasks, candidate.variant, sub.example_batch(), seed)
    fitted = fit(model, sub.train, sub.tasks, config, val=sub.val, seed=seed)
    scores = {}
    checkpoint = None
    if fitted.status == "ok":
        # the weights travel with the result: the plan deploys this network rather than train another draw
        built = network_config(factory, sub.tasks, candidate.variant, sub.example_batch(), seed)
        checkpoint = checkpoint_bytes(model, built, fitted.summary())
        scores = {
            key: score(
                predict(model, sub.split(key), device=config.device),
                sub.split(key),
                sub.tasks,
                detail=True,
                errors=True,
                seed=seed,
            )
            for key in ("val", "test")
        }
    result = _result(candidate, seed, fitted, scores)
    result.checkpoint = checkpoint
    return result


def train_candidates(
    suite: TaskSuite,
    candidates: Sequence[Candidate],
    config: TrainConfig,
    seed: int | Sequence[int],
    *,
    stack: bool = True,
) -> list[NetworkResult]:
    """Train candidates once per seed (``seed``: one seed or several), stacking same-variant ones (all seeds in
    one stack) when ``stack`` and the configuration allow it.

    Parameters
    ----------
    suite : TaskSuite
        The data.
    candidates : sequence of Candidate
        The networks to train.
    config : TrainConfig
        How to build and train them.
    seed : int or sequence of int
        One seed, or several (each candidate is trained once per seed).
    stack : bool, default True
        Train same-variant candidates together as one stacked model where possible; otherwise one at a time.

    Returns
    -------
    list of NetworkResult
        One per (seed, candidate), seed-major, candidates in the given order.
    """
    seeds = [int(seed)] if isinstance(seed, int) else [int(s) for s in seed]
    results: dict[tuple[int, Candidate], NetworkResult] = {}
    for variant, group in candidates_by_variant(candidates).items():
        tasks = [c.tasks for c in group]
        if stack and can_stack(suite, tasks, config):
            trained = iter(train_stack(suite, tasks, variant, config, seeds))
            for s in seeds:
                for cand in group:
                    fitted, scores = next(trained)
                    results[s, cand] = _result(cand, s, fitted, scores)
        else:
            for s in seeds:
                for cand in group:
                    results[s, cand] = train_candidate(suite, cand, config, s)
    return [results[s, c] for s in seeds for c in candidates]


def candidates_by_variant(candidates: Sequence[Candidate]) -> dict[str, list[Candidate]]:
    """Group candidates by size variant (only same-size networks can be stacked).

    Parameters
    ----------
    candidates : sequence of Candidate

    Returns
    -------
    dict of str to list of Candidate
        Variants in order of first appearance; candidates in their given order.
    """
    out: dict[str, list[Candidate]] = {}
    for c in candidates:
        out.setdefault(c.variant, []).append(c)
    return out
