"""Which candidate networks to measure: task sets x size variants, and their names.

A candidate is named by its tasks joined with ``+`` in suite order, plus ``@half`` for the half-size
variant: ``a0+a1``, ``b0@half``. Standley et al. measured every non-empty task subset at full size and every
single task at half size; that is ``which="all"`` (the default).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from taskgroup.errors import InvalidArgument
from taskgroup.engine.families import VARIANTS

__all__ = ["Candidate", "make_candidates", "parse_candidate"]


@dataclass(frozen=True, order=True)
class Candidate:
    """One network to train: the tasks it serves (suite order) and its size variant."""

    tasks: tuple[str, ...]
    variant: str = "full"

    @property
    def name(self) -> str:
        base = "+".join(self.tasks)
        return base if self.variant == "full" else f"{base}@{self.variant}"

    @property
    def width(self) -> float:
        return VARIANTS[self.variant]


def parse_candidate(text: str, tasks: Sequence[str]) -> Candidate:
    """``"a0+a1"`` -> Candidate(("a0", "a1")); ``"b0@half"`` -> the half-size network for b0.

    Raises
    ------
    InvalidArgument
        Unknown task or variant, or a repeated task, naming what is accepted.
    """
    base, _, variant = text.strip().partition("@")
    variant = variant or "full"
    if variant not in VARIANTS:
        raise InvalidArgument(f"Candidate {text!r} has variant {variant!r}; accepted variants are {list(VARIANTS)}.")
    names = [t.strip() for t in base.split("+") if t.strip()]
    unknown = [t for t in names if t not in tasks]
    if not names or unknown:
        raise InvalidArgument(
            f"Candidate {text!r} names unknown task(s) {unknown or names}; the tasks are {list(tasks)} "
            "(write a candidate as 'task1+task2' or 'task1@half')."
        )
    if len(set(names)) != len(names):
        raise InvalidArgument(f"Candidate {text!r} repeats a task.")
    return Candidate(tuple(t for t in tasks if t in names), variant)


def make_candidates(
    tasks: Sequence[str],
    which: str | Sequence[str] = "all",
    *,
    half_singles: bool = True,
) -> list[Candidate]:
    """The candidate networks for a task list.

    Parameters
    ----------
    tasks : sequence of str
        The suite's tasks, in order.
    which : "all", "pairs", or a list of candidate names
        ``"all"``: every non-empty subset (2^n - 1 networks); ``"pairs"``: every single task and every pair
        (what HOA needs); a list: exactly those candidates (``"a+b"``, ``"c@half"``).
    half_singles : bool
        With "all" or "pairs", add a half-size network for every single task (as Standley et al.).

    Returns
    -------
    list of Candidate
        Ordered by variant (full first), then size, then suite order; no repeats.
    """
    tasks = list(tasks)
    if isinstance(which, str) and which in ("all", "pairs"):
        sizes = range(1, len(tasks) + 1) if which == "all" else range(1, min(2, len(tasks)) + 1)
        out = [Candidate(tuple(c)) for k in sizes for c in combinations(tasks, k)]
        if half_singles:
            out += [Candidate((t,), "half") for t in tasks]
        return out
    if isinstance(which, str):
        which = [w for w in which.split(",") if w.strip()]
    if not which:
        raise InvalidArgument("The candidate list is empty; give 'all', 'pairs' or names like 'a+b,c@half'.")
    out = []
    for text in which:
        cand = parse_candidate(text, tasks)
        if cand not in out:
            out.append(cand)
    return out
