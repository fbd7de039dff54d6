"""Where jobs run: in this process, in a local process pool, or on a Dask cluster.

Every executor is a :class:`concurrent.futures.Executor`, so the runner has one code path. Chosen by one
argument (as Optuna chooses storage): ``"auto"`` (a process pool of one worker per available core, serial on
one core), ``"serial"``, ``"process"`` (one worker per core) or ``"process:N"``,
``"dask://HOST:PORT"`` (a running ``dask.distributed`` scheduler, used through ``Client.get_executor()``), or
an Executor instance the caller manages. :func:`drive` is the one loop that submits jobs, retries jobs whose
worker died, and hands each finished job's results to the caller (who commits them): the suite route and the
objective route both use it. Nothing here imports torch.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from taskgroup.errors import InvalidArgument, MeasurementError
from taskgroup.registry import Registry

__all__ = ["SerialExecutor", "EXECUTORS", "open_executor", "check_executor", "drive", "EXECUTOR_HELP"]

J = TypeVar("J")
R = TypeVar("R")

# Exceptions that mean "the worker went away", not "the job is wrong": the job is submitted again.
_WORKER_LOST = {"KilledWorker", "CommClosedError", "CancelledError", "FutureCancelledError"}

EXECUTOR_HELP = "'auto', 'serial', 'process', 'process:N' or 'dask://HOST:PORT'"


class SerialExecutor(Executor):
    """Runs each job when its result is asked for, in this process (lazily, so progress shows per job)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = _LazyFuture(fn, args, kwargs)
        return future


class _LazyFuture(Future):
    def __init__(self, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        super().__init__()
        self._call = (fn, args, kwargs)

    def result(self, timeout: float | None = None) -> Any:
        if not self.done():
            fn, args, kwargs = self._call
            try:
                self.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - delivered to the caller like any executor
                self.set_exception(exc)
        return super().result(timeout)


@contextmanager
def _open_serial(argument: str) -> Iterator[tuple[Executor, int]]:
    if argument:
        raise InvalidArgument(f"Executor 'serial:{argument}': serial takes no argument ({EXECUTOR_HELP}).")
    yield SerialExecutor(), 1


@contextmanager
def _open_process(argument: str) -> Iterator[tuple[Executor, int]]:
    if not argument:
        workers = os.cpu_count() or 1
    elif argument.isdigit() and int(argument) >= 1:
        workers = int(argument)
    else:
        raise InvalidArgument(
            f"Executor 'process:{argument}': the worker count must be a positive integer ({EXECUTOR_HELP})."
        )
    # spawn, not fork: forking a process that has started torch's thread pools can deadlock.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool, workers


@contextmanager
def _open_auto(argument: str) -> Iterator[tuple[Executor, int]]:
    # Networks are small: two one-thread workers train two networks in the time one two-thread network takes,
    # and a core taken by another process slows one worker instead of stalling both threads (issue 24).
    if argument:
        raise InvalidArgument(f"Executor 'auto:{argument}': auto takes no argument ({EXECUTOR_HELP}).")
    from taskgroup.engine.runtime import available_cores

    cores = available_cores()
    if cores == 1:
        yield SerialExecutor(), 1
        return
    with _open_process(str(cores)) as opened:
        yield opened


@contextmanager
def _open_dask(argument: str) -> Iterator[tuple[Executor, int]]:
    if not argument.startswith("//") or len(argument) == 2:
        raise InvalidArgument(f"Executor 'dask:{argument}': give the scheduler as dask://HOST:PORT.")
    try:
        from distributed import Client
    except ImportError:
        raise InvalidArgument("The Dask executor needs dask.distributed: pip install 'taskgroup[dask]'.") from None
    address = "tcp:" + argument
    try:
        client = Client(address, timeout="10s")
    except OSError as exc:
        raise InvalidArgument(f"Cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        workers = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()) or 1
        # pure=False: two submissions of the same job are two runs (a retry must really rerun).
        yield client.get_executor(pure=False), workers
    finally:
        client.close()


ExecutorOpener = Callable[[str], AbstractContextManager[tuple[Executor, int]]]

EXECUTORS: Registry[ExecutorOpener] = Registry("executor")
"""The executor registry: ``open(argument)`` yields ``(executor, workers)``; ``"NAME:ARGUMENT"`` picks one."""

EXECUTORS.register("auto", _open_auto, "a process pool, one worker per available core (serial on one core)")
EXECUTORS.register("serial", _open_serial, "one job at a time in this process")
EXECUTORS.register("process", _open_process, "a local process pool, one worker per core or process:N")
EXECUTORS.register("dask", _open_dask, "a running dask.distributed scheduler, dask://HOST:PORT")


@contextmanager
def open_executor(spec: str | Executor) -> Iterator[tuple[Executor, int]]:
    """The executor named by ``spec`` and its number of parallel workers; shut down on exit if we made it.

    Parameters
    ----------
    spec : str or concurrent.futures.Executor
        ``"NAME"`` or ``"NAME:ARGUMENT"`` with NAME registered in :data:`EXECUTORS` (``serial``,
        ``process``, ``process:N``, ``dask://HOST:PORT``), or an Executor the caller manages.

    Raises
    ------
    InvalidArgument
        An unknown executor name or a bad argument, naming what is accepted.
    """
    if isinstance(spec, Executor):
        yield spec, 1 if isinstance(spec, SerialExecutor) else getattr(spec, "_max_workers", os.cpu_count() or 1)
        return
    check_executor(spec)
    name, _, argument = spec.partition(":")
    with EXECUTORS.get(name)(argument) as opened:
        yield opened


def check_executor(spec: object) -> None:
    """Refuse an executor spec that :func:`open_executor` could never open (an unknown name or not a string),
    without opening anything: settings are checked before any work or files."""
    if isinstance(spec, Executor):
        return
    if not isinstance(spec, str):
        raise InvalidArgument(f"executor must be {EXECUTOR_HELP} or a concurrent.futures.Executor; got {spec!r}.")
    if spec.partition(":")[0] not in EXECUTORS:
        raise InvalidArgument(f"Unknown executor {spec!r}; accepted: {EXECUTOR_HELP}.")


def drive(
    pool: Executor,
    run: Callable[[J], R],
    jobs: Sequence[J],
    commit: Callable[[R], None],
    *,
    retries: int,
    describe: Callable[[J], str],
) -> None:
    """Run ``run(job)`` for every job on ``pool`` and pass each result to ``commit`` as it finishes.

    A job whose worker died is submitted again, at most ``retries`` times; any other exception stops the
    run with a :class:`MeasurementError` naming the job (``describe(job)``), after the results committed so
    far. ``run`` must be importable by name (it is pickled to process and Dask workers).
    """
    attempts: dict[int, int] = {}
    pending: dict[Future, int] = {pool.submit(run, job): i for i, job in enumerate(jobs)}
    try:
        while pending:
            for future in _finished(pending, serial=isinstance(pool, SerialExecutor)):
                index = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - sorted into "worker lost" and "job broken" below
                    if type(exc).__name__ in _WORKER_LOST and attempts.get(index, 0) < retries:
                        attempts[index] = attempts.get(index, 0) + 1
                        pending[pool.submit(run, jobs[index])] = index
                        continue
                    raise MeasurementError(
                        f"Job {index} ({describe(jobs[index])}) failed: {type(exc).__name__}: {exc}. "
                        "Finished results are kept; rerun to resume."
                    ) from exc
                commit(result)
                break  # re-enter as_completed with the (possibly resubmitted) pending set
    finally:
        for future in pending:
            future.cancel()


def _finished(pending: dict[Future, int], serial: bool) -> Iterable[Future]:
    if serial:  # lazy futures complete only when asked, in submission order
        return iter(list(pending)[:1])
    return as_completed(list(pending))
