"""The measurement driver: plan jobs, skip finished work, run jobs on an executor, commit each result.

``measure(suite, store, ...)`` is what ``taskgroup measure`` calls. The driver alone writes to the store,
one transaction per finished job, so killing it loses only running jobs and re-running the same call
continues where it stopped. Jobs are cut from the full candidate list in a fixed order (not from what is
left), so a resumed run trains exactly the stacks an uninterrupted run would have, and gets the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from os import PathLike
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from taskgroup.engine import can_stack
from taskgroup.errors import InvalidArgument
from taskgroup.measure.candidates import Candidate, make_candidates, seed_list
from taskgroup.measure.executors import TORCH_WORKER_MODULES, drive, open_executor, preload_workers
from taskgroup.measure.jobs import Job, run_job
from taskgroup.measure.objective import measure_objective
from taskgroup.measure.profile import profile_candidates
from taskgroup.measure.records import NetworkResult
from taskgroup.measure.store import ResultStore
from taskgroup.measure.training import TrainConfig, candidates_by_variant
from taskgroup.tasks.suite import TaskSuite

__all__ = ["measure", "plan_jobs"]


def plan_jobs(
    suite: TaskSuite,
    candidates: Sequence[Candidate],
    config: TrainConfig,
    seeds: Sequence[int],
    *,
    vectorise: bool = True,
    stack_size: int | None = None,
    workers: int = 1,
    threads: int = 1,
) -> list[Job]:
    """Cut the work into jobs: per size variant, stacks of at most ``stack_size`` candidates.

    When vectorising a variant the stacked path can train (:func:`taskgroup.engine.can_stack`), a job trains its
    candidates for every seed in one stack (repeats stack: a stack ``len(seeds)`` times as wide costs less than
    that many stacks); the default stack size spreads each variant's candidates evenly over the workers (one stack
    per worker). Otherwise a job is one network and one seed, seed by seed, so that each network is committed as it
    finishes.

    Parameters
    ----------
    suite : TaskSuite
        The data.
    candidates : sequence of Candidate
        The networks to train.
    config : TrainConfig
        How to build and train them.
    seeds : sequence of int
        The training seeds.
    vectorise : bool, default True
        Stack same-variant candidates where the stacked path can train them.
    stack_size : int, optional
        Most candidates in one stacked job (default: a variant's candidates spread evenly over ``workers``).
    workers : int, default 1
        Worker processes that will run the jobs.
    threads : int, default 1
        Torch threads each job uses.

    Returns
    -------
    list of Job
        The unstacked jobs (seed by seed), then the stacked ones.
    """
    jobs: list[Job] = []
    groups = list(candidates_by_variant(candidates).values())
    stacked = [g for g in groups if vectorise and can_stack(suite, [c.tasks for c in g], config)]
    for seed in seeds:
        for group in groups:
            if not any(group is g for g in stacked):
                jobs.extend(Job(suite, (c,), config, (int(seed),), vectorise, threads) for c in group)
    for group in stacked:
        size = stack_size or math.ceil(len(group) / max(1, workers))
        for start in range(0, len(group), size):
            chunk = tuple(group[start : start + size])
            jobs.append(Job(suite, chunk, config, tuple(int(s) for s in seeds), vectorise, threads))
    return jobs


def measure(
    suite: TaskSuite | Callable[..., Any],
    store: str | PathLike | ResultStore,
    *,
    candidates: str | Sequence[str] = "all",
    half_singles: bool = True,
    config: TrainConfig | None = None,
    seeds: int | Sequence[int] = 1,
    executor: str | Executor = "serial",
    vectorise: bool = True,
    stack_size: int | None = None,
    threads: int = 1,
    latency_repeats: int = 50,
    progress: bool = True,
    retries: int = 2,
    on_result: Callable[[list[NetworkResult]], None] | None = None,
    **objective_options: Any,
) -> pd.DataFrame:
    """Train and profile candidate networks on a suite; results go to ``store`` as they finish.

    Given a function instead of a suite, this is the black-box route
    :func:`taskgroup.measure.objective.measure_objective`: ``measure(objective, store, tasks=[...],
    candidates=..., variants=..., seeds=..., settings=..., executor=...)``.

    Parameters
    ----------
    suite : TaskSuite or callable
        The suite, or the user's ``objective(tasks, variant, seed)``.
    store : path or ResultStore
        SQLite results database (created if missing). Results already in it for this suite and
        configuration are skipped.
    candidates : "all", "pairs" or list of names
        See :func:`taskgroup.measure.candidates.make_candidates`.
    half_singles : bool
        Also measure half-size single-task networks (with "all"/"pairs").
    config : TrainConfig, optional
        Training configuration (default ``TrainConfig()``).
    seeds : int or list of int
        ``K`` means seeds 0..K-1.
    executor : str or Executor
        ``"serial"``, ``"process"``, ``"process:N"``, ``"dask://HOST:PORT"`` or an Executor.
    vectorise : bool
        Train same-size candidates as stacks (default) or one network per job.
    stack_size : int, optional
        Most candidates per job (default: spread evenly over the workers).
    threads : int
        torch threads per job (default 1: parallelism comes from the executor).
    latency_repeats : int
        Repeats of the latency measurement per network (0 skips latency).
    progress : bool
        Show a tqdm progress bar with ETA.
    retries : int
        How many times a job whose worker died is submitted again.
    on_result : callable, optional
        Called with each job's results after they are committed.
    **objective_options
        With an objective: ``tasks``, ``variants``, ``settings`` (see ``measure_objective``).

    Returns
    -------
    pandas.DataFrame
        ``ResultStore.results`` for this suite and configuration.

    Raises
    ------
    InvalidArgument
        Bad candidates, seeds or executor, before any training starts.
    MeasurementError
        A job failed for a reason other than a network diverging (which is recorded as a failed result).
    """
    if callable(suite) and not isinstance(suite, TaskSuite):
        suite_only = {
            "half_singles": half_singles is not True,
            "config": config is not None,
            "vectorise": vectorise is not True,
            "stack_size": stack_size is not None,
            "threads": threads != 1,
            "latency_repeats": latency_repeats != 50,
        }
        given = [name for name, changed in suite_only.items() if changed]
        if given:
            raise InvalidArgument(
                f"{given} apply to suites only; an objective trains however it likes "
                "(pass its own options as settings={...})."
            )
        return measure_objective(
            suite,
            store,
            candidates=candidates,
            seeds=seeds,
            executor=executor,
            progress=progress,
            retries=retries,
            on_result=on_result,
            **objective_options,
        )
    if objective_options:
        raise InvalidArgument(f"{sorted(objective_options)} apply to an objective only, not to a suite.")
    config = config or TrainConfig()
    if not isinstance(suite, TaskSuite):
        raise InvalidArgument(
            f"measure needs a TaskSuite or an objective function; got {type(suite).__name__} "
            "(see taskgroup.datasets.load_suite)."
        )
    seeds_ = seed_list(seeds)
    if stack_size is not None and stack_size < 1:
        raise InvalidArgument(f"stack_size must be >= 1; got {stack_size}.")
    cands = make_candidates(suite.task_names, candidates, half_singles=half_singles)
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    fp, cfg = suite.fingerprint(), config.hash()
    store.register_run(fp, cfg, suite.name, suite.task_names, suite.params, config.to_dict())

    uncosted = [c for c in cands if c.name not in store.costed(fp, cfg)]
    if uncosted:  # before training starts, so latency is timed on a quiet machine
        store.add_costs(
            fp,
            cfg,
            profile_candidates(suite, uncosted, config, repeats=max(1, latency_repeats), latency=latency_repeats > 0),
        )

    done = store.done(fp, cfg)
    if all((c.name, seed) in done for c in cands for seed in seeds_):
        return store.results(fp, cfg)  # all measured earlier: no executor opened, no empty progress bar
    preload_workers(TORCH_WORKER_MODULES)
    with store.writer(), open_executor(executor) as (pool, workers):
        jobs = plan_jobs(
            suite, cands, config, seeds_, vectorise=vectorise, stack_size=stack_size, workers=workers, threads=threads
        )
        todo = [j for j in jobs if any(k not in done for k in j.keys)]
        remaining = sum(sum(k not in done for k in j.keys) for j in todo)
        bar = tqdm(total=remaining, unit="net", desc=f"measure {suite.name}", disable=not progress, leave=False)

        def commit(results: list[NetworkResult]) -> None:
            bar.update(store.add_results(fp, cfg, results))
            if on_result is not None:
                on_result(results)

        try:
            drive(
                pool,
                run_job,
                todo,
                commit,
                retries=retries,
                describe=lambda job: f"{', '.join(c.name for c in job.candidates)}, seed(s) {list(job.seeds)}",
                crashed=_crashed,
            )
        finally:
            bar.close()
    return store.results(fp, cfg)


def _crashed(job: Job, reason: str) -> list[NetworkResult]:
    """A job that killed its worker every time it ran: each of its candidates failed, with the reason."""
    return [
        NetworkResult(c.name, c.tasks, c.variant, seed, status="failed", reason=f"crashed: {reason}")
        for seed in job.seeds
        for c in job.candidates
    ]
