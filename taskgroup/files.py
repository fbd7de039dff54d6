"""Opening the user's files: one place that turns operating-system errors into one clear line; and writing
files without following links planted where they go or destroying the inputs of the same command.

A path the user gave may be missing, a folder, unreadable, or not text; each case is an
:class:`~taskgroup.errors.InvalidArgument` that names the path, what was expected and what was found.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskgroup.errors import InvalidArgument, InvalidProblem, TaskgroupError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["input_file", "read_text", "read_csv_table", "describe_os_error", "atomic_write", "output_file"]

_REASONS = {
    errno.ENOENT: "does not exist",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOTDIR: "has a part that is not a folder",
    errno.EACCES: "cannot be accessed (permission denied)",
    errno.EPERM: "cannot be accessed (operation not permitted)",
    errno.EROFS: "is on a read-only file system",
    errno.EEXIST: "already exists and is not a folder",
    errno.ENOSPC: "cannot be written: no space left on the device",
}


def describe_os_error(exc: OSError) -> str:
    """``'path' is a folder, not a file`` — an OSError as one line a user can act on.

    Parameters
    ----------
    exc : OSError
        The error raised by the operating system.

    Returns
    -------
    str
        The file's name (or "a file") and the reason, one sentence; a missing file whose folder is missing too is
        described by the missing folder.
    """
    reason = _REASONS.get(exc.errno or -1, exc.strerror or str(exc))
    name = exc.filename if exc.filename is not None else "a file"
    if exc.errno == errno.ENOENT and exc.filename is not None:
        parent = Path(exc.filename).parent
        if not parent.exists():  # "x.png does not exist" would mislead when writing into a missing folder
            return f"{str(name)!r} is in a folder that does not exist ({str(parent)!r})."
    return f"{str(name)!r} {reason}."


def input_file(path: str | PathLike[str], what: str = "file") -> Path:
    """``path`` as a Path, if it names an existing regular file; else an error saying what it is instead.

    Parameters
    ----------
    path : path
        The file the user named.
    what : str, default "file"
        What the file is, for messages (``"problem file"``).

    Returns
    -------
    Path

    Raises
    ------
    InvalidArgument
        ``path`` does not exist, is a folder, or is not a regular file.
    """
    p = Path(path)
    if not p.exists():
        raise InvalidArgument(f"No such {what}: {str(path)!r}.")
    if p.is_dir():
        raise InvalidArgument(f"The {what} {str(path)!r} is a folder; expected a file.")
    if not p.is_file():
        raise InvalidArgument(f"The {what} {str(path)!r} is not a regular file.")
    return p


def read_text(path: str | PathLike[str], what: str = "file") -> str:
    """The UTF-8 text of ``path``, with one clear error for a missing, unreadable or non-text file.

    Parameters
    ----------
    path : path
        The file to read.
    what : str, default "file"
        What the file is, for messages.

    Returns
    -------
    str
        The file's whole text.

    Raises
    ------
    InvalidArgument
        ``path`` is not an existing regular file, cannot be read, or is not UTF-8 text.
    """
    p = input_file(path, what)
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"The {what} {str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start})."
        ) from None
    except OSError as exc:
        raise InvalidArgument(f"Cannot read the {what}: {describe_os_error(exc)}") from None


def read_csv_table(
    path: str | PathLike[str], what: str = "table", error: type[TaskgroupError] = InvalidProblem, **kwargs: Any
) -> pd.DataFrame:
    """A CSV file as a DataFrame, with one clear error for an empty, missing, binary or malformed file.

    ``error`` is raised for content that is not a CSV table; OS-level faults raise InvalidArgument.

    Parameters
    ----------
    path : path
        The CSV file.
    what : str, default "table"
        What the file is, for messages.
    error : type of TaskgroupError, default InvalidProblem
        The error raised for content that is not a CSV table.
    **kwargs
        Passed to :func:`pandas.read_csv`.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    InvalidArgument
        ``path`` is not an existing regular file or cannot be read.
    TaskgroupError
        Of type ``error``: the file holds NUL bytes, is empty, or pandas cannot parse it.
    """
    import pandas as pd  # lazy: reading plain text files must not need pandas

    p = input_file(path, what)
    try:
        with p.open("rb") as fh:
            head = fh.read(8192)
    except OSError as exc:
        raise InvalidArgument(f"Cannot read the {what}: {describe_os_error(exc)}") from None
    if b"\x00" in head:
        raise error(f"The {what} {str(path)!r} is not a text CSV file (it contains NUL bytes); is it binary?")
    try:
        return pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError:
        raise error(f"The {what} {str(path)!r} is empty; expected a CSV header line and data rows.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        message = " ".join(str(exc).split())
        raise error(f"Could not read the {what} {str(path)!r} as CSV: {message}") from None
    except OSError as exc:
        raise InvalidArgument(f"Cannot read the {what}: {describe_os_error(exc)}") from None


# ---------------------------------------------------------------------- writing
def _refuse_link(path: Path) -> None:
    """Refuse a symbolic link where taskgroup writes: writing would go wherever it points."""
    if path.is_symlink():
        raise InvalidArgument(
            f"{str(path)!r} is a symbolic link (to {os.readlink(path)!r}); taskgroup never writes through a link it "
            "did not create. Remove it, or write somewhere else."
        )


def atomic_write(path: str | PathLike[str], write: Callable[[Path], Any]) -> None:
    """Call ``write(tmp)`` on a fresh temporary file beside ``path``, then rename it onto ``path``.

    An interrupted write never leaves a half-written file under the real name; the temporary name is new
    (created exclusively, so a planted link cannot stand in for it), and the rename replaces a directory entry
    rather than writing through whatever ``path`` was.

    Parameters
    ----------
    path : path
        The file to (re)place.
    write : callable
        Called with the temporary file's Path; writes the whole content there. Whatever it raises propagates,
        after the temporary file is removed and ``path`` left as it was.

    Raises
    ------
    InvalidArgument
        ``path`` is a symbolic link or a folder.
    """
    path = Path(path)
    _refuse_link(path)
    if path.is_dir():
        raise InvalidArgument(f"{str(path)!r} is a folder; expected a file name to write.")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def output_file(
    path: str | PathLike[str], *, inputs: Sequence[str | PathLike[str]] = (), option: str = "--out"
) -> Path:
    """``path`` checked as a file a command may write: not a link, not a folder, not one of its ``inputs``.

    Parameters
    ----------
    path : path
        The file the command is to write.
    inputs : sequence of path
        The files the command reads; ``path`` may not be one of them.
    option : str, default "--out"
        The option that named ``path``, for messages.

    Returns
    -------
    Path
        ``path``, unchanged; nothing is created.

    Raises
    ------
    InvalidArgument
        ``path`` is a symbolic link, a folder, or the same file as one of ``inputs``; naming the option and the
        path.
    """
    path = Path(path)
    _refuse_link(path)
    if path.is_dir():
        raise InvalidArgument(f"{option} {str(path)!r} is a folder; expected a file name.")
    if path.exists():
        for source in inputs:
            if Path(source).exists() and os.path.samefile(path, source):
                raise InvalidArgument(
                    f"{option} {str(path)!r} is the file this command reads ({str(source)!r}); writing it would "
                    "destroy the input. Choose another name."
                )
    return path
