"""One check for numeric parameters, with one message template, and the name checks problems share.

``check_number(-1, "time_limit", "solve", minimum=0, exclusive=True, optional=True)`` raises
``InvalidArgument("The 'time_limit' parameter of solve must be a number > 0 or None; got -1.")``: every public
function checks its numbers through it, so the same fault reads the same everywhere.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from taskgroup.errors import InvalidArgument, InvalidProblem, TaskgroupError

__all__ = ["check_number", "check_unique", "number_text"]


def check_number(
    value: Any,
    name: str,
    function: str,
    *,
    minimum: float | None = None,
    exclusive: bool = False,
    maximum: float | None = None,
    integer: bool = False,
    optional: bool = False,
    error: type[TaskgroupError] = InvalidArgument,
) -> Any:
    """Return ``value`` if it is an accepted number for parameter ``name`` of ``function``; raise otherwise.

    Parameters
    ----------
    value : object
        What the caller passed.
    name, function : str
        The parameter and the function, as the message names them.
    minimum : float, optional
        The smallest accepted value (``exclusive``: the value must be greater).
    exclusive : bool
        Whether ``minimum`` itself (and ``maximum``, when given) is refused.
    maximum : float, optional
        The largest accepted value.
    integer : bool
        Accept integers only (booleans are never numbers here).
    optional : bool
        Accept None too.
    error : type of TaskgroupError
        The class raised (default InvalidArgument).

    Returns
    -------
    object
        ``value`` itself, unchanged.

    Raises
    ------
    TaskgroupError
        ``error("The 'NAME' parameter of FUNCTION must be WHAT; got VALUE.")``.
    """
    if value is None and optional:
        return value
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and (integer or math.isfinite(value))
    if ok and minimum is not None:
        ok = value > minimum if exclusive else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if exclusive else value <= maximum
    if not ok:
        what = "an integer" if integer else "a number"
        if minimum is not None:
            what += f" {'>' if exclusive else '>='} {minimum:g}"
        if maximum is not None:
            what += f"{' and' if minimum is not None else ''} {'<' if exclusive else '<='} {maximum:g}"
        if optional:
            what += " or None"
        raise error(f"The {name!r} parameter of {function} must be {what}; got {value!r}.")
    return value


def number_text(x: Any) -> str:
    """A number as users write it (``nan``, ``0.5``), not numpy's ``np.float64(0.5)``.

    Parameters
    ----------
    x : object
        A number (anything else is shown by its ``repr``).

    Returns
    -------
    str
        For error messages.
    """
    try:
        return repr(float(x))
    except (TypeError, ValueError):
        return repr(x)


def check_unique(names: Sequence[str], what: str) -> None:
    """Raise when a name appears twice.

    Parameters
    ----------
    names : sequence of str
        The names.
    what : str
        What they name (``"task"``, ``"network"``), for the message.

    Raises
    ------
    InvalidProblem
        Naming the repeated name.
    """
    seen = set()
    for n in names:
        if n in seen:
            raise InvalidProblem(f"The {what} name {n!r} appears more than once; {what} names must be unique.")
        seen.add(n)
