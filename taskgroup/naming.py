"""How networks are named: task names joined by ``+``, and ``@variant`` for any size variant but "full".

``network_name(("a", "b"), "half") == "a+b@half"`` and ``split_network_name("a+b@half") == (("a", "b"), "half")``.
Every module that builds or reads a network name goes through these functions, so the convention lives here only.
Task and variant names therefore cannot contain ``+``, ``@`` or ``,`` (the CLI separates lists with commas).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "TASK_SEPARATOR",
    "VARIANT_SEPARATOR",
    "RESERVED",
    "FULL",
    "network_name",
    "split_network_name",
    "network_variant",
    "is_full_size",
]

TASK_SEPARATOR = "+"
VARIANT_SEPARATOR = "@"
RESERVED = (TASK_SEPARATOR, VARIANT_SEPARATOR, ",")
FULL = "full"


def network_name(tasks: Iterable[str], variant: str = FULL) -> str:
    """The name of a network on ``tasks`` (in the order given) at size ``variant``: ``"a+b"``, ``"b@half"``.

    Parameters
    ----------
    tasks : iterable of str
        Task names, joined by ``+`` as given (not checked).
    variant : str, default "full"
        The size variant; ``"full"`` adds no suffix.

    Returns
    -------
    str
    """
    base = TASK_SEPARATOR.join(tasks)
    return base if variant == FULL else f"{base}{VARIANT_SEPARATOR}{variant}"


def split_network_name(name: str) -> tuple[tuple[str, ...], str]:
    """Inverse of :func:`network_name`: ``"a+b@half"`` -> ``(("a", "b"), "half")``; no suffix means "full".

    Names are split as written (surrounding spaces are stripped from each part); checking the parts against a
    suite's tasks is the caller's job.

    Parameters
    ----------
    name : str
        A network name.

    Returns
    -------
    (tuple of str, str)
        The task names (empty parts dropped) and the variant.
    """
    base, _, variant = name.strip().partition(VARIANT_SEPARATOR)
    tasks = tuple(t.strip() for t in base.split(TASK_SEPARATOR) if t.strip())
    return tasks, variant.strip() or FULL


def network_variant(name: str) -> str:
    """The size variant in a network name (``"a+b@half"`` -> "half"; a name without ``@`` is "full").

    Parameters
    ----------
    name : str
        A network name.

    Returns
    -------
    str
    """
    return split_network_name(name)[1]


def is_full_size(name: str) -> bool:
    """Whether the name has no variant suffix (a full-size network).

    Parameters
    ----------
    name : str
        A network name.

    Returns
    -------
    bool
        True also for an explicit ``@full``.
    """
    return network_variant(name) == FULL
