"""The measurement driver: plan jobs, skip finished work, run jobs on an executor, commit each result.

``measure(suite, store, ...)`` is what ``taskgroup measure`` calls. The driver alone writes to the store,
one transaction per finished job, so killing it loses only running jobs and re-running the same call
continues where it stopped. Jobs are cut from the full candidate list in a fixed order (not from what is
left), so a resumed run trains exactly the stacks an uninterrupted run would have, and gets the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor, Future, as_completed
from os import PathLike

import pandas as pd
from tqdm.auto import tqdm

from taskgroup.errors import InvalidArgument, MeasurementError
from taskgroup.measure.candidates import Candidate, make_candidates
from taskgroup.measure.executors import SerialExecutor, open_executor
from taskgroup.measure.jobs import Job, run_job
from taskgroup.measure.profile import profile_candidates
from taskgroup.measure.store import ResultStore
from taskgroup.measure.training import NetworkResult, TrainConfig, candidates_by_variant
from taskgroup.tasks.suite import TaskSuite

__all__ = ["measure", "plan_jobs"]

# Exceptions that mean "the worker went away", not "the job is wrong": the job is submitted again.
_WORKER_LOST = {"KilledWorker", "CommClosedError", "CancelledError", "FutureCancelledError"}


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
    """Cut the work into jobs: per seed and size variant, stacks of at most ``stack_size`` candidates.

    The default stack size spreads each variant's candidates evenly over the workers (one stack per worker)
    when vectorising, and is 1 (one network per job) otherwise.
    """
    jobs = []
    for seed in seeds:
        for _, group in candidates_by_variant(candidates).items():
            size = stack_size or (math.ceil(len(group) / max(1, workers)) if vectorise else 1)
            for start in range(0, len(group), size):
                jobs.append(Job(suite, tuple(group[start:start + size]), config, int(seed), vectorise, threads))
    return jobs


def measure(
    suite: TaskSuite,
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
) -> pd.DataFrame:
    """Train and profile candidate networks on a suite; results go to ``store`` as they finish.

    Parameters
    ----------
    suite : TaskSuite
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
    config = config or TrainConfig()
    if not isinstance(suite, TaskSuite):
        raise InvalidArgument(f"measure needs a TaskSuite; got {type(suite).__name__} (see taskgroup.datasets.load_suite).")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list or len(set(seed_list)) != len(seed_list):
        raise InvalidArgument(f"seeds must be a positive count or distinct integers; got {seeds!r}.")
    if stack_size is not None and stack_size < 1:
        raise InvalidArgument(f"stack_size must be >= 1; got {stack_size}.")
    cands = make_candidates(suite.task_names, candidates, half_singles=half_singles)
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    fp, cfg = suite.fingerprint(), config.hash()
    store.register_run(fp, cfg, suite.name, suite.task_names, suite.params, config.to_dict())

    uncosted = [c for c in cands if c.name not in store.costed(fp, cfg)]
    if uncosted:  # before training starts, so latency is timed on a quiet machine
        store.add_costs(fp, cfg, profile_candidates(suite, uncosted, config,
                                                    repeats=max(1, latency_repeats), latency=latency_repeats > 0))

    with open_executor(executor) as (pool, workers):
        jobs = plan_jobs(suite, cands, config, seed_list, vectorise=vectorise, stack_size=stack_size,
                         workers=workers, threads=threads)
        done = store.done(fp, cfg)
        todo = [j for j in jobs if any(k not in done for k in j.keys)]
        remaining = sum(sum(k not in done for k in j.keys) for j in todo)
        bar = tqdm(total=remaining, unit="net", desc=f"measure {suite.name}", disable=not progress, leave=False)
        try:
            _drive(pool, todo, store, fp, cfg, bar, retries, on_result)
        finally:
            bar.close()
    return store.results(fp, cfg)


def _drive(pool: Executor, jobs: list[Job], store: ResultStore, fp: str, cfg: str, bar: tqdm, retries: int,
           on_result: Callable[[list[NetworkResult]], None] | None) -> None:
    attempts: dict[int, int] = {}
    pending: dict[Future, int] = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
    try:
        while pending:
            for future in _finished(pending, serial=isinstance(pool, SerialExecutor)):
                index = pending.pop(future)
                try:
                    results = future.result()
                except Exception as exc:  # noqa: BLE001 - sorted into "worker lost" and "job broken" below
                    if type(exc).__name__ in _WORKER_LOST and attempts.get(index, 0) < retries:
                        attempts[index] = attempts.get(index, 0) + 1
                        pending[pool.submit(run_job, jobs[index])] = index
                        continue
                    raise MeasurementError(
                        f"Job {index} ({', '.join(c.name for c in jobs[index].candidates)}, seed {jobs[index].seed}) "
                        f"failed: {type(exc).__name__}: {exc}. Finished results are kept; rerun to resume."
                    ) from exc
                new = store.add_results(fp, cfg, results)
                bar.update(new)
                if on_result is not None:
                    on_result(results)
                break  # re-enter as_completed with the (possibly resubmitted) pending set
    finally:
        for future in pending:
            future.cancel()


def _finished(pending: dict[Future, int], serial: bool) -> Iterable[Future]:
    if serial:  # lazy futures complete only when asked, in submission order
        return iter(list(pending)[:1])
    return as_completed(list(pending))
