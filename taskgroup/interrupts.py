"""Ctrl-C as a request to stop soon and keep what is done, rather than an exception at an arbitrary line.

A long search (column generation) holds a best answer at every moment; an exception raised in the middle of a
solver call would lose it. :func:`interrupt_flag` turns the first Ctrl-C into a flag the search polls between
steps; a second Ctrl-C raises ``KeyboardInterrupt`` at once, as usual.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["interrupt_flag"]


@contextmanager
def interrupt_flag(note: str = "stopping after the current step") -> Iterator[threading.Event]:
    """An event set by the first SIGINT inside the block; the usual handler is back for the second and after.

    The first Ctrl-C prints ``note`` to stderr (and that a second one stops at once), so that the user knows the
    wait is on purpose. Outside the main thread (where Python cannot install signal handlers) the event is never
    set and Ctrl-C behaves as usual.

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
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)
