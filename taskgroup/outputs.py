"""Output folders taskgroup owns: what it wrote there is listed, and it writes nothing else there.

``taskgroup run``, ``train`` and ``export`` write many files into one folder. Pointed at a folder that holds
someone else's files they would replace them (a ``plan.json``, a ``results.db``, a ``manifest.json``), and a
link planted there would make them write elsewhere. So a command first *claims* its folder
(:func:`claim_folder`): the folder must hold no symbolic link at all, nothing taskgroup did not write there and
be of the command's kind (a run folder is not an export folder) unless the user passes ``--force``; then every
file goes through :func:`output_path`, which refuses a link on the way and records the file's top-level name in
the folder's listing (:data:`LISTING`) before it is written, so an interrupted command still resumes in its own
folder.
"""

from __future__ import annotations

import json
import os
from os import PathLike
from pathlib import Path
from typing import Any

from taskgroup.errors import InvalidArgument
from taskgroup.files import atomic_write

__all__ = ["LISTING", "claim_folder", "output_path", "written_names"]

LISTING = ".taskgroup-written.json"
# files SQLite keeps beside a database while it writes, and the temporary names of atomic_write
_SIDE_SUFFIXES = ("-journal", "-wal", "-shm")


def _listing(out: Path) -> dict[str, Any]:
    path = out / LISTING
    if path.is_symlink() or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def written_names(out: str | PathLike[str]) -> set[str]:
    """The top-level names taskgroup recorded writing in ``out`` (empty when it holds no listing).

    Parameters
    ----------
    out : path
        An output folder.

    Returns
    -------
    set of str
        The names in the folder's listing (:data:`LISTING`); empty when the listing is missing, a link, unreadable
        or not the expected JSON.
    """
    names = _listing(Path(out)).get("written")
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


def _ours(name: str, listed: set[str]) -> bool:
    if name == LISTING or name in listed:
        return True
    if any(name.endswith(s) and name[: -len(s)] in listed for s in _SIDE_SUFFIXES):
        return True
    return name.startswith(".") and name.endswith(".tmp")  # an interrupted atomic_write's temporary file


def _links(out: Path) -> list[str]:
    found = []
    for root, dirs, files in os.walk(out, followlinks=False):
        for name in dirs + files:
            if os.path.islink(os.path.join(root, name)):
                found.append(os.path.relpath(os.path.join(root, name), out))
    return sorted(found)


def claim_folder(out: str | PathLike[str], kind: str, *, force: bool = False, option: str = "--out") -> Path:
    """Create ``out`` if needed and check that taskgroup may write into it; return it as a Path.

    Parameters
    ----------
    out : path
        The output folder.
    kind : str
        What the folder holds (``"run"``: a run or training folder; ``"export"``: ONNX files). A folder one kind
        of command wrote is not another's: ``export --out`` into a run folder would replace its manifest.
    force : bool
        Write into a folder that holds files taskgroup did not write (files with the names it writes are
        replaced); links are refused even then.
    option : str
        The option that named the folder, for messages.

    Returns
    -------
    Path

    Raises
    ------
    InvalidArgument
        ``out`` is a file; it holds a symbolic link anywhere inside; or (without ``force``) it holds files
        taskgroup did not write there, or it is another kind of folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InvalidArgument(f"{option} {str(out)!r} is a file; expected a folder (new or from an earlier run).")
    out.mkdir(parents=True, exist_ok=True)
    links = _links(out)
    if links:
        raise InvalidArgument(
            f"{option} {str(out)!r} holds symbolic link(s) {links[:5]}; taskgroup never writes through a link it "
            "did not create. Remove them, or use a new folder."
        )
    listing = _listing(out)
    if listing.get("kind", kind) != kind and not force:
        raise InvalidArgument(
            f"{option} {str(out)!r} is a {listing['kind']} folder; this command writes a {kind} folder and would "
            "replace its files. Use a new folder, or --force."
        )
    listed = written_names(out)
    foreign = sorted(name for name in os.listdir(out) if not _ours(name, listed))
    if foreign and not force:
        more = f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        raise InvalidArgument(
            f"{option} {str(out)!r} holds files taskgroup did not write there ({foreign[:5]}{more}); use a new or "
            "empty folder, or --force to write into it anyway (files with the names it writes are replaced)."
        )
    # with --force the files found stay unlisted: a later command without --force is refused again
    _record(out, set(), kind)
    return out


def output_path(out: str | PathLike[str], name: str) -> Path:
    """``out / name``, recorded in the folder's listing, after checking that no part of it is a link.

    ``name`` may have several parts (``"networks/a.pt"``); missing folders on the way are created.

    Parameters
    ----------
    out : path
        The output folder (claimed earlier with :func:`claim_folder`).
    name : str
        The file's name relative to ``out``.

    Returns
    -------
    Path
        ``out / name``; its first part is now in the folder's listing. The file itself is not created.

    Raises
    ------
    InvalidArgument
        ``name`` is absolute or contains ``..``; or a part of the path (the file itself included) is a symbolic
        link.
    """
    out = Path(out)
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts:
        raise InvalidArgument(f"{name!r} is not a name inside the output folder {str(out)!r}.")
    _record(out, {parts[0]})
    path = out
    for i, part in enumerate(parts):
        path = path / part
        if path.is_symlink():
            raise InvalidArgument(
                f"{str(path)!r} is a symbolic link; taskgroup never writes through a link it did not create. "
                "Remove it, or use a new folder."
            )
        if i < len(parts) - 1:
            path.mkdir(exist_ok=True)
    return path


def _record(out: Path, names: set[str], kind: str | None = None) -> None:
    listing = _listing(out)
    listed = written_names(out)
    kind = kind or listing.get("kind")
    if (out / LISTING).exists() and names <= listed and listing.get("kind") == kind:
        return
    data = {"kind": kind, "written": sorted(listed | names)}
    atomic_write(out / LISTING, lambda p: p.write_text(json.dumps(data, indent=1), encoding="utf-8"))
