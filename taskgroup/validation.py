"""One check for numeric parameters, with one message template, and keyword renames that keep the old name.

``check_number(-1, "time_limit", "solve", minimum=0, exclusive=True, optional=True)`` raises
``InvalidArgument("The 'time_limit' parameter of solve must be a number > 0 or None; got -1.")``: every public
function checks its numbers through it, so the same fault reads the same everywhere. :func:`renamed_parameters`
keeps a renamed keyword working for one version with a DeprecationWarning naming the new one, and
:func:`keyword_only_after` does the same for arguments that became keyword-only.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from taskgroup.errors import InvalidArgument, InvalidProblem, TaskgroupError

__all__ = ["check_number", "check_unique", "number_text", "renamed_parameters", "keyword_only_after"]

F = TypeVar("F", bound=Callable[..., Any])


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


def renamed_parameters(**renames: str) -> Callable[[F], F]:
    """Accept each old keyword in ``renames`` (old=new) for one version, with a DeprecationWarning.

    Examples
    --------
    >>> @renamed_parameters(cost="cost_value")
    ... def f(*, cost_value=1.0):
    ...     return cost_value
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise InvalidArgument(
                            f"{function.__name__} got both {old!r} and its new name {new!r}; give {new!r} only."
                        )
                    warnings.warn(
                        f"The {old!r} parameter of {function.__name__} is renamed {new!r}; the old name "
                        "will be removed in the next version.",
                        DeprecationWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def keyword_only_after(count: int) -> Callable[[F], F]:
    """Accept, for one version and with a DeprecationWarning, positional values for keyword-only parameters.

    The decorated function takes ``count`` positional parameters; extra positional values are given, in order,
    to its keyword-only parameters (which were positional before).
    """

    def decorate(function: F) -> F:
        keyword_only = [p.name for p in inspect.signature(function).parameters.values() if p.kind is p.KEYWORD_ONLY]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > count:
                extra = args[count:]
                names = keyword_only[: len(extra)]
                if len(names) < len(extra):
                    raise InvalidArgument(
                        f"{function.__name__} takes {count} positional argument(s) and the "
                        f"keyword arguments {keyword_only}; got {len(args)} positional."
                    )
                warnings.warn(
                    f"Pass {', '.join(repr(n) for n in names)} to {function.__name__} by keyword "
                    f"({names[0]}=...); positional use will be refused in the next version.",
                    DeprecationWarning,
                    stacklevel=2,
                )
                for name, value in zip(names, extra):
                    if name in kwargs:
                        raise InvalidArgument(f"{function.__name__} got {name!r} both by position and by keyword.")
                    kwargs[name] = value
                args = args[:count]
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


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
