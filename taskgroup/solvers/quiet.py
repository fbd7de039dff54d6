"""Keep native solver libraries off the user's stdout.

HiGHS (inside OR-Tools) prints some messages with C ``printf`` even with its output switched off, e.g.
``HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();``. Python's ``sys.stdout``
cannot catch that, so :func:`silence_native_output` points file descriptor 1 at ``/dev/null`` around a native
call and restores it afterwards; :func:`unsilenced` restores it for a moment inside such a block (a progress line
printed while a solve runs).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

__all__ = ["silence_native_output", "unsilenced"]

_lock = threading.Lock()  # fd 1 is process-wide: one redirection at a time
_depth = 0
_saved: int | None = None  # the real stdout while it is redirected


@contextlib.contextmanager
def silence_native_output() -> Iterator[None]:
    """Redirect file descriptor 1 (stdout) to ``/dev/null`` for the duration of the block.

    Python-level output written inside the block is flushed first and is not lost: only bytes written to the
    descriptor by native code during the block are discarded. Nested uses are allowed.

    Yields
    ------
    None
    """
    global _depth, _saved
    with _lock:
        _depth += 1
        outer = _depth == 1
    saved = None
    if outer:
        try:
            sys.stdout.flush()
        except (AttributeError, ValueError, OSError):  # closed or replaced stdout: nothing to flush
            pass
        try:
            saved = os.dup(1)
        except OSError:  # no descriptor 1 (e.g. closed by the embedding process): nothing to protect
            saved = None
        if saved is not None:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.close(devnull)
            _saved = saved
    try:
        yield
    finally:
        if saved is not None:
            with _lock:
                _saved = None
            os.dup2(saved, 1)
            os.close(saved)
        with _lock:
            _depth -= 1


@contextlib.contextmanager
def unsilenced() -> Iterator[None]:
    """Inside :func:`silence_native_output`, point file descriptor 1 back at the real stdout for the block.

    What the block prints reaches the user (it is flushed before stdout is silenced again); native output written
    by another thread meanwhile does too. Outside a silenced block it does nothing.

    Yields
    ------
    None
    """
    with _lock:
        saved = _saved
        if saved is not None:
            os.dup2(saved, 1)
    try:
        yield
    finally:
        if saved is not None:
            try:
                sys.stdout.flush()
            except (AttributeError, ValueError, OSError):  # closed or replaced stdout: nothing to flush
                pass
            with _lock:
                if _saved is not None:  # still silenced: silence again
                    devnull = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(devnull, 1)
                    os.close(devnull)
