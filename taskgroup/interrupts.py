"""Ctrl-C as a request to stop soon and keep what is done, rather than an exception at an arbitrary line.

A long search (column generation) holds a best answer at every moment; an exception raised in the middle of a
solver call would lose it. :func:`interrupt_flag` turns the first Ctrl-C into a flag the search polls between
steps; a second Ctrl-C raises ``KeyboardInterrupt`` at once, as usual.

A native call (an OR-Tools MIP solve) runs for minutes without returning to Python, and Python runs its signal
handlers only between bytecodes of the main thread: Ctrl-C was seen when the solve returned. The solvers release
the GIL while they solve, so :func:`run_interruptibly` runs such a call in a worker thread while the calling
thread waits in short slices, in which the handlers run; on Ctrl-C it asks the call to stop. Some native code
installs its own C handler for SIGINT while it runs (CBC does, and then neither stops nor tells Python), so the
waiting thread keeps Python's handler in place.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

__all__ = ["interrupt_flag", "interrupt_requested", "run_interruptibly", "POLL_SECONDS", "STOP_GRACE_SECONDS"]

T = TypeVar("T")

# How often a thread waiting on a native call looks at the Ctrl-C flag and calls its progress hook: a Ctrl-C
# under interrupt_flag is acted on within this long.
POLL_SECONDS = 0.2
# How long a native call asked to stop is waited for. CP-SAT stops within milliseconds; SCIP not before its root
# node is done (it ran on for 17 s after the request on a 2,000-column master); past this the call is left to
# finish on its own.
STOP_GRACE_SECONDS = 1.0

# The events of the interrupt_flag blocks open now, innermost last (only the main thread opens any).
_open_flags: list[threading.Event] = []


@contextmanager
def interrupt_flag(note: str = "stopping after the current step") -> Iterator[threading.Event]:
    """An event set by the first SIGINT inside the block; the usual handler is back for the second and after.

    The first Ctrl-C prints ``note`` to stderr (and that a second one stops at once), so that the user knows the
    wait is on purpose. Outside the main thread (where Python cannot install signal handlers) the event is never
    set and Ctrl-C behaves as usual. While the event is set, :func:`interrupt_requested` is True: a native solve
    running then stops (:func:`run_interruptibly`) and no new one starts.

    Parameters
    ----------
    note : str
        What the program does after the first Ctrl-C, printed with it.

    Yields
    ------
    threading.Event
        Set by the first Ctrl-C; the block polls it to stop at a safe point.
    """
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = signal.getsignal(signal.SIGINT)

    def first(signum: int, frame: Any) -> None:
        event.set()
        signal.signal(signal.SIGINT, previous)  # a second Ctrl-C stops at once
        print(f"interrupted: {note} (Ctrl-C again to stop at once)", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, first)
    _open_flags.append(event)
    try:
        yield event
    finally:
        _open_flags.remove(event)
        signal.signal(signal.SIGINT, previous)


def interrupt_requested() -> bool:
    """Whether a Ctrl-C inside an open :func:`interrupt_flag` block asked the work to stop.

    Returns
    -------
    bool
        False outside such a block, and in threads other than the main one.
    """
    return threading.current_thread() is threading.main_thread() and any(e.is_set() for e in _open_flags)


def run_interruptibly(
    call: Callable[[], T], stop: Callable[[], bool], *, progress: Callable[[], None] | None = None
) -> T | None:
    """``call()``, run so that Ctrl-C stops it within about a second although it does not return to Python.

    ``call`` runs in a worker thread; this thread waits for it in slices of :data:`POLL_SECONDS`, in which
    Python runs its signal handlers. ``call`` must release the GIL while it works (OR-Tools' solvers do), and
    ``stop`` must ask it, from another thread, to end soon with what it has.

    - Ctrl-C under :func:`interrupt_flag` (the first one sets its flag, :func:`interrupt_requested`): ``stop()`` is
      called; the result of ``call`` comes back if it ends within :data:`STOP_GRACE_SECONDS`, else None.
    - Any other Ctrl-C (``KeyboardInterrupt``) or exception raised while waiting: ``stop()`` is called, the call
      is given the same grace to end, and the exception goes on at once after it.

    A call that does not end within the grace (``stop()`` returned False: the backend cannot be stopped) is left
    running in its daemon thread until it finishes by itself (at its own time limit, if it has one); the caller
    must not touch what it works on again. Python's SIGINT handler is kept in place meanwhile (in the main thread:
    :func:`_python_sigint`); the handlers are as before when this returns.

    Parameters
    ----------
    call : callable() -> T
        The native call.
    stop : callable() -> bool
        Asks ``call`` to stop; returns False when it cannot.
    progress : callable(), optional
        Called after each slice of waiting while ``call`` runs (the caller decides what to say, and how often).

    Returns
    -------
    T or None
        What ``call`` returned; None when it was stopped by Ctrl-C under :func:`interrupt_flag` and had not ended
        within the grace.

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C outside :func:`interrupt_flag`, or a second one.
    Exception
        Whatever ``call`` raised.
    """
    outcome: dict[str, Any] = {}
    # the wait is on this event, not on Thread.join: a KeyboardInterrupt inside join marks a running thread as
    # ended on Python 3.11 (bpo-45274), and the stop's grace was then skipped
    finished = threading.Event()

    def work() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the waiting thread, which raises it there
            outcome["error"] = exc
        finally:
            finished.set()

    with _python_sigint() as keep:
        try:
            threading.Thread(target=work, name="taskgroup-native-call", daemon=True).start()
            while not finished.is_set():
                keep()
                if finished.wait(POLL_SECONDS):
                    break
                if interrupt_requested():
                    if not _stopped(finished, stop):
                        return None
                    break
                if progress is not None:
                    progress()
        except BaseException:
            _stopped(finished, stop)
            raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _stopped(finished: threading.Event, stop: Callable[[], bool]) -> bool:
    """Ask the call to stop and wait up to the grace for ``finished``; whether it is set."""
    if not finished.is_set() and stop():
        finished.wait(STOP_GRACE_SECONDS)
    return finished.is_set()


@contextmanager
def _python_sigint() -> Iterator[Callable[[], None]]:
    """Keep Python's SIGINT handling in place while native code runs in another thread.

    Yields a function to call every so often: it puts back the C-level handler through which Python sees SIGINT,
    should native code have installed its own. The Python-level handler stays the one Python code chose: a relay
    stands in for it meanwhile and follows any change that handler makes (:func:`interrupt_flag`'s first Ctrl-C
    hands the second to the previous handler), and that choice is the handler when the block ends. Outside the
    main thread, or when SIGINT is not handled by a Python function (ignored, or the C default), nothing changes.
    """
    intended = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(intended):
        yield lambda: None
        return
    handler: Callable[[int, Any], Any] = intended

    def relay(signum: int, frame: Any) -> None:
        nonlocal handler
        try:
            handler(signum, frame)
        finally:
            chosen = signal.getsignal(signal.SIGINT)
            if chosen is not relay and callable(chosen):  # the handler chose another for the next SIGINT
                handler = chosen
                signal.signal(signal.SIGINT, relay)

    def keep() -> None:
        if signal.getsignal(signal.SIGINT) is relay:
            signal.signal(signal.SIGINT, relay)  # re-installs the C-level handler too

    signal.signal(signal.SIGINT, relay)
    try:
        yield keep
    finally:
        if signal.getsignal(signal.SIGINT) is relay:
            signal.signal(signal.SIGINT, handler)
