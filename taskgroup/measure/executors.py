"""Where jobs run: in this process, in a local process pool, or on a Dask cluster.

Every executor is a :class:`concurrent.futures.Executor`, so the runner has one code path. Chosen by one
argument (as Optuna chooses storage): ``"auto"`` (a process pool of one worker per available core and at least
:data:`AUTO_MIN_WORKERS`, serial on one core), ``"serial"``, ``"process"`` (one worker per core) or ``"process:N"``,
``"dask://HOST:PORT"`` (a running ``dask.distributed`` scheduler, used through ``Client.get_executor()``), or
an Executor instance the caller manages. :func:`drive` is the one loop that submits jobs, retries jobs whose
worker died, and hands each finished job's results to the caller (who commits them): the suite route and the
objective route both use it. Nothing here imports torch.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from taskgroup.errors import InvalidArgument, MeasurementError
from taskgroup.registry import Registry

__all__ = [
    "SerialExecutor",
    "RestartingProcessPool",
    "EXECUTORS",
    "open_executor",
    "check_executor",
    "drive",
    "EXECUTOR_HELP",
    "AUTO_MIN_WORKERS",
    "auto_workers",
    "TORCH_WORKER_MODULES",
    "worker_context",
    "preload_workers",
]

J = TypeVar("J")
R = TypeVar("R")

# Exceptions that mean "the worker went away", not "the job is wrong": the job is submitted again.
_WORKER_LOST = {"KilledWorker", "CommClosedError", "CancelledError", "FutureCancelledError"}

EXECUTOR_HELP = "'auto', 'serial', 'process', 'process:N' or 'dask://HOST:PORT'"


class SerialExecutor(Executor):
    """Runs each job when its result is asked for, in this process (lazily, so progress shows per job)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """A future that calls ``fn(*args, **kwargs)`` when its result is first asked for.

        Parameters
        ----------
        fn : callable
            The job.
        *args, **kwargs
            Its arguments.

        Returns
        -------
        concurrent.futures.Future
            Its exception, if any, is raised by ``result()``.
        """
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
    pool = RestartingProcessPool(workers)
    try:
        yield pool, workers
    except BaseException:
        pool.stop_now()  # Ctrl-C or a failed run: the workers' jobs are abandoned, so end them at once
        raise
    pool.shutdown(wait=True)


def _start_worker() -> None:
    # Ctrl-C reaches every process of the terminal's group; workers leave it to the driver, which commits what
    # finished and then ends them (a worker's KeyboardInterrupt would be a traceback per worker instead).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker waiting for its next job never sees the driver die (every worker holds the job queue's write end
    # too, so no end-of-file comes): a driver killed outright (SIGKILL, the out-of-memory killer) left its
    # workers waiting forever. Each worker therefore ends once the driver is gone. The driver, not the worker's
    # parent: a worker forked by the fork server is the server's child, and the server waits for its children.
    threading.Thread(target=_end_with_the_driver, daemon=True, name="driver-watch").start()


def _end_with_the_driver() -> None:
    driver = multiprocessing.parent_process()  # the process that started this one, whoever forked it
    if driver is None:
        return
    driver.join()  # a pipe that only the driver holds open: end-of-file when it ends, however it ends
    os._exit(1)  # nobody is left to take the result of the job in hand


# What the workers of the suite route and of plan training import (torch's optimisers import torch._dynamo on their
# first step: 1.3 s). Workers fork from a server process (multiprocessing's forkserver) that imported these once, so a
# pool starts without each worker importing torch again: four workers on two cores took 6.2 s to start when spawned
# and 2.4 s from the server, and every later pool of the same process 0.05 s.
TORCH_WORKER_MODULES = ("taskgroup.measure.jobs", "taskgroup.train.units", "torch._dynamo")


def worker_context() -> multiprocessing.context.BaseContext:
    """How pool workers start: forked from a server process (never from this process, whose torch thread pools may
    be running: forking those can deadlock), or spawned where the platform has no forkserver (Windows).

    Returns
    -------
    multiprocessing.context.BaseContext
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    return multiprocessing.get_context("forkserver")


def preload_workers(modules: Sequence[str]) -> None:
    """Have the server that pool workers fork from import ``modules`` when it starts, with this process's first
    pool (a server already started keeps what it has). The objective route does not call it: a user's training
    script may not use torch, and its workers should not carry it.

    Parameters
    ----------
    modules : sequence of str
        Importable module names (one that fails to import is skipped, and imported by each worker that needs it).
    """
    context = worker_context()
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(list(modules))


class RestartingProcessPool(Executor):
    """A process pool that can be replaced once a worker has died, and stopped at once.

    A worker that dies (a segfault, ``os.abort``, the out-of-memory killer) breaks a ``ProcessPoolExecutor`` for
    good: every job in it fails with ``BrokenProcessPool``. :func:`drive` then calls :meth:`restart` and runs
    the jobs that were in flight again, one at a time, to find the one that kills its worker.

    Parameters
    ----------
    workers : int
        Worker processes (started by :func:`worker_context`; they ignore Ctrl-C, which the driver handles).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._processes: dict[int, Any] = {}
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=worker_context(), initializer=_start_worker)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        """Submit ``fn(*args, **kwargs)`` to the current pool (``fn`` and its arguments must pickle).

        Parameters
        ----------
        fn : callable
            The job.
        *args, **kwargs
            Its arguments.

        Returns
        -------
        concurrent.futures.Future
        """
        future = self._pool.submit(fn, *args, **kwargs)
        self._processes.update(getattr(self._pool, "_processes", None) or {})  # to read exit codes after a crash
        return future

    def exit_codes(self, wait: float = 5.0) -> list[int]:
        """Exit codes of the workers that have ended abnormally (negative: the signal that ended them), once the
        pool is broken (its workers are ending: each is waited for, so that its code is known).

        Parameters
        ----------
        wait : float, default 5.0
            Seconds to wait for the workers' codes, in all. A forked worker's code comes through the fork
            server, which a loaded machine can take more than half a second to schedule.

        Returns
        -------
        list of int
            Nonzero exit codes of the pool's workers that ended within ``wait``.
        """
        deadline = time.monotonic() + wait
        for process in self._processes.values():
            process.join(max(0.0, deadline - time.monotonic()))
        return [p.exitcode for p in self._processes.values() if p.exitcode not in (None, 0)]

    def restart(self) -> None:
        """Replace a broken pool by a new one (the old one's workers are already ended)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._processes = {}
        self._pool = self._new_pool()

    def stop_now(self, grace: float = 1.0) -> None:
        """Cancel queued jobs and end the workers within about ``2 * grace`` seconds (SIGTERM, then SIGKILL).

        Parameters
        ----------
        grace : float, default 1.0
            Seconds to wait for each worker after SIGTERM, and again after SIGKILL.
        """
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(grace)
            if process.is_alive():
                process.kill()
                process.join(grace)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the current pool down, as :meth:`concurrent.futures.Executor.shutdown`.

        Parameters
        ----------
        wait : bool, default True
            Wait for the running jobs to finish.
        cancel_futures : bool, default False
            Cancel the jobs not yet started.
        """
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


# ``auto``'s fewest workers on a machine of two or more cores. Beside one other busy process, w workers get
# w / (w + 1) of the cores, whatever their number (the kernel shares the CPU by runnable process), so the run takes
# (w + 1) / w of its quiet time: 1.5x with one worker per core on 2 cores, 1.25x with 4 (issue 24).
AUTO_MIN_WORKERS = 4


def auto_workers(cores: int) -> int:
    """How many workers ``auto`` starts on ``cores`` available cores: 1 (in this process) on one core, else
    ``max(cores, AUTO_MIN_WORKERS)``.

    A network's numbers do not depend on the worker count (one torch thread each, seeded per network), and on a
    quiet machine more workers than cores cost little time (about 7 % for the default run on 2 cores), so on small
    machines ``auto`` starts more of them: a process that keeps one core busy then slows the run by at most 1.25x
    instead of 1.5x. On one core a pool would only add processes.

    Parameters
    ----------
    cores : int
        The cores available to this process (:func:`~taskgroup.engine.runtime.available_cores`).

    Returns
    -------
    int
    """
    return 1 if cores <= 1 else max(cores, AUTO_MIN_WORKERS)


@contextmanager
def _open_auto(argument: str) -> Iterator[tuple[Executor, int]]:
    # Networks are small: one-thread workers train several networks in the time one many-thread network takes, and
    # a core taken by another process slows one worker of several instead of stalling every thread (issue 24).
    if argument:
        raise InvalidArgument(f"Executor 'auto:{argument}': auto takes no argument ({EXECUTOR_HELP}).")
    from taskgroup.engine.runtime import available_cores

    workers = auto_workers(available_cores())
    if workers == 1:
        yield SerialExecutor(), 1
        return
    with _open_process(str(workers)) as opened:
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

EXECUTORS.register(
    "auto", _open_auto, f"a process pool, one worker per core and at least {AUTO_MIN_WORKERS} (serial on one core)"
)
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

    Yields
    ------
    (concurrent.futures.Executor, int)
        The executor and its number of parallel workers (for a caller's executor: 1 for a SerialExecutor, else
        its ``_max_workers`` or the CPU count).

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
    without opening anything: settings are checked before any work or files.

    Parameters
    ----------
    spec : object
        An executor spec string or an Executor.

    Raises
    ------
    InvalidArgument
        Not a string or an Executor, or an unknown executor name.
    """
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
    crashed: Callable[[J, str], R] | None = None,
) -> None:
    """Run ``run(job)`` for every job on ``pool`` and pass each result to ``commit`` as it finishes.

    A job whose worker died is submitted again, at most ``retries`` times. In a local process pool a dying
    worker fails every job in the pool; the pool is restarted, the jobs that were running then are run again
    one at a time (so that the one that kills its worker is known), and the others are submitted again as they
    were. Once a job has killed ``retries + 1`` workers, or a Dask worker was lost that often, ``crashed(job,
    reason)`` gives the failed result to commit for it and every other job goes on; without ``crashed`` a
    :class:`MeasurementError` names it. Any other exception stops the run with a :class:`MeasurementError`
    naming the job (``describe(job)``), after the results committed so far. On Ctrl-C the results that have
    finished are committed before the interrupt goes on. ``run`` must be importable by name (it is pickled to
    process and Dask workers).

    Parameters
    ----------
    pool : concurrent.futures.Executor
        Where the jobs run.
    run : callable
        ``run(job) -> result``.
    jobs : sequence
        The jobs, submitted in this order.
    commit : callable
        Called with each result as it finishes (in the calling process).
    retries : int
        Resubmissions of a job whose worker was lost.
    describe : callable
        ``describe(job) -> str``, for messages.
    crashed : callable, optional
        ``crashed(job, reason) -> result`` for a job that keeps losing its worker.

    Raises
    ------
    MeasurementError
        A job raised, or (without ``crashed``) lost its worker more than ``retries`` times.
    """
    attempts: dict[int, int] = {}
    pending: dict[Future, int] = {}
    quarantine: list[int] = []  # jobs that may have been running when a worker died: each runs alone
    held: list[int] = []  # jobs that were queued then: submitted again once the quarantine is over

    def submit(index: int) -> None:
        pending[pool.submit(run, jobs[index])] = index

    def gave_up(index: int, reason: str) -> None:
        if crashed is None:
            raise MeasurementError(
                f"Job {index} ({describe(jobs[index])}) failed: {reason}. Finished results are kept; rerun to resume."
            )
        commit(crashed(jobs[index], reason))

    for i in range(len(jobs)):
        submit(i)
    try:
        while pending or quarantine or held:
            if quarantine and not pending:
                submit(quarantine.pop(0))
            elif held and not quarantine:
                for i in held:
                    submit(i)
                held.clear()
            for future in _finished(pending, serial=isinstance(pool, SerialExecutor)):
                order = list(pending.values())  # submission order: the pool runs the earliest first
                index = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - sorted into "worker lost" and "job broken" below
                    if isinstance(pool, RestartingProcessPool) and type(exc).__name__ == "BrokenProcessPool":
                        pending.clear()
                        _after_crash(pool, order, quarantine, held, attempts, retries, gave_up)
                        break
                    if type(exc).__name__ in _WORKER_LOST:
                        attempts[index] = attempts.get(index, 0) + 1
                        if attempts[index] <= retries:
                            submit(index)
                        else:
                            gave_up(index, f"its worker was lost {attempts[index]} times ({type(exc).__name__})")
                        break
                    raise MeasurementError(
                        f"Job {index} ({describe(jobs[index])}) failed: {type(exc).__name__}: {exc}. "
                        "Finished results are kept; rerun to resume."
                    ) from exc
                commit(result)
                break  # re-enter as_completed with the (possibly resubmitted) pending set
    except KeyboardInterrupt:
        # what finished while we waited is kept, as the interrupt message says
        for future in [f for f in pending if f.done() and not f.cancelled() and f.exception() is None]:
            commit(future.result())
        raise
    finally:
        for future in pending:
            future.cancel()


def _after_crash(
    pool: RestartingProcessPool,
    broken: list[int],
    quarantine: list[int],
    held: list[int],
    attempts: dict[int, int],
    retries: int,
    gave_up: Callable[[int, str], None],
) -> None:
    """A worker of ``pool`` died and every job in it failed (``broken``, in submission order): restart the
    pool; a job that ran alone is blamed, else the jobs that may have been running are each run alone next."""
    codes = pool.exit_codes()
    pool.restart()
    if len(broken) == 1:  # it ran by itself: it killed its worker
        index = broken[0]
        attempts[index] = attempts.get(index, 0) + 1
        if attempts[index] > retries:
            how = f" (exit code {codes[0]}{_signal_name(codes[0])})" if codes else ""
            gave_up(index, f"the worker process running it died {attempts[index]} times{how}")
        else:
            quarantine.insert(0, index)
        return
    # the pool feeds its workers in submission order, plus one queued call: only the first workers + 1 can
    # have been running; the others were waiting and are innocent
    running = pool.workers + 1
    quarantine[:0] = broken[:running]
    held.extend(broken[running:])


def _signal_name(code: int) -> str:
    if code >= 0:
        return ""
    try:
        return f", {signal.Signals(-code).name}"
    except ValueError:
        return ""


def _finished(pending: dict[Future, int], serial: bool) -> Iterable[Future]:
    if serial:  # lazy futures complete only when asked, in submission order
        return iter(list(pending)[:1])
    return as_completed(list(pending))
