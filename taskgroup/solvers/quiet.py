"""Keep native solver libraries off the user's stdout.

HiGHS (inside OR-Tools) prints some messages with C ``printf`` even with its output switched off, e.g.
``HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();``. Python's ``sys.stdout``
cannot catch that, so :func:`silence_native_output` points file descriptor 1 at ``/dev/null`` around a native
call and restores it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

__all__ = ["silence_native_output"]

_lock = threading.Lock()  # fd 1 is process-wide: one redirection at a time
_depth = 0


@contextlib.contextmanager
def silence_native_output() -> Iterator[None]:
    """Redirect file descriptor 1 (stdout) to ``/dev/null`` for the duration of the block.

    Python-level output written inside the block is flushed first and is not lost: only bytes written to the
    descriptor by native code during the block are discarded. Nested uses are allowed.

    Yields
    ------
    None
    """
    global _depth
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
    try:
        yield
    finally:
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
        with _lock:
            _depth -= 1
