"""A unit of work sent to an executor: train some candidates of one size, once per seed.

Jobs are plain picklable data and :func:`run_job` is importable by name, so the same job runs in this
process, in a local process pool or on a Dask worker. A job returns results; it never writes to the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from taskgroup.engine.runtime import configure_threads
from taskgroup.measure.candidates import Candidate
from taskgroup.measure.records import NetworkResult
from taskgroup.measure.training import TrainConfig, train_candidates
from taskgroup.tasks.suite import TaskSuite

__all__ = ["Job", "run_job"]


@dataclass(frozen=True)
class Job:
    """Train ``candidates`` (all one size variant) once per seed of ``seeds``; stacked, all seeds in one stack,
    if ``vectorise`` (and possible).

    Attributes
    ----------
    suite : TaskSuite
        The data.
    candidates : tuple of Candidate
        The networks to train, all of one variant.
    config : TrainConfig
        How to build and train them.
    seeds : tuple of int
        The training seeds.
    vectorise : bool
        Stack the candidates where possible.
    threads : int
        Torch threads while the job runs.
    """

    suite: TaskSuite
    candidates: tuple[Candidate, ...]
    config: TrainConfig
    seeds: tuple[int, ...]
    vectorise: bool = True
    threads: int = 1

    @property
    def keys(self) -> list[tuple[str, int]]:
        """The (network, seed) store keys this job produces."""
        return [(c.name, s) for s in self.seeds for c in self.candidates]


def run_job(job: Job) -> list[NetworkResult]:
    """Run one job and return one result per candidate (failed networks included, not raised).

    Parameters
    ----------
    job : Job
        The job; torch runs on ``job.threads`` threads during it (the previous count is restored).

    Returns
    -------
    list of NetworkResult
        One per (seed, candidate), seed-major.
    """
    import torch

    # Thread count is part of the job: a pool of k workers on k cores should not oversubscribe. In the driver's
    # own process (serial executor) the caller's setting comes back afterwards.
    previous = torch.get_num_threads()
    configure_threads(max(1, int(job.threads)))
    try:
        return train_candidates(job.suite, job.candidates, job.config, job.seeds, stack=job.vectorise)
    finally:
        torch.set_num_threads(previous)
