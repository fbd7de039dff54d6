"""Which candidate networks to measure: task sets x size variants, and their names.

A candidate is named by its tasks joined with ``+`` in suite order, plus ``@variant`` for any variant but
"full": ``a0+a1``, ``b0@half``. Standley et al. measured every non-empty task subset at full size and every
single task at half size; that is ``which="all"`` (the default) for the built-in model families, whose
variants are ``taskgroup.engine.families.VARIANTS``. A user's objective names its own variants.

This module does not import torch (the built-in variants are looked up only when needed).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import combinations

from taskgroup.errors import InvalidArgument
from taskgroup.naming import RESERVED, network_name, split_network_name

__all__ = ["Candidate", "make_candidates", "parse_candidate", "check_names", "seed_list"]


@dataclass(frozen=True, order=True)
class Candidate:
    """One network to train: the tasks it serves (suite order) and its size variant.

    Attributes
    ----------
    tasks : tuple of str
        The tasks the network is trained on and serves, in the suite's order.
    variant : str
        Its size variant (``"full"`` by default; ``"half"`` for the built-in families' half-width network).
    """

    tasks: tuple[str, ...]
    variant: str = "full"

    @property
    def name(self) -> str:
        return network_name(self.tasks, self.variant)

    @property
    def width(self) -> float:
        """The width multiplier of a built-in model family's variant."""
        from taskgroup.engine.families import VARIANTS  # lazy: torch

        return VARIANTS[self.variant]


def _builtin_variants() -> tuple[str, ...]:
    from taskgroup.engine.families import VARIANTS  # lazy: torch

    return tuple(VARIANTS)


def check_names(kind: str, names: Sequence[str]) -> list[str]:
    """Task or variant names as a list, refused if empty, repeated, not strings or containing + @ ,.

    Parameters
    ----------
    kind : str
        What the names are (``"Task"``, ``"Variant"``), for messages.
    names : sequence of str
        The names.

    Returns
    -------
    list of str

    Raises
    ------
    InvalidArgument
        No name, a name that is not a non-blank string or contains a reserved character, or a repeated name.
    """
    names = list(names)
    bad = [n for n in names if not isinstance(n, str) or not n.strip() or any(c in n for c in RESERVED)]
    if not names or bad:
        raise InvalidArgument(
            f"{kind} names must be non-empty strings without {' '.join(RESERVED)}; got {bad or names!r}."
        )
    if len(set(names)) != len(names):
        raise InvalidArgument(f"{kind} names repeat: {names!r}.")
    return names


def parse_candidate(text: str, tasks: Sequence[str], variants: Collection[str] | None = None) -> Candidate:
    """``"a0+a1"`` -> Candidate(("a0", "a1")); ``"b0@half"`` -> the half-size network for b0.

    ``variants`` are the accepted variants (default: the built-in model families').

    Parameters
    ----------
    text : str
        The candidate's name: tasks joined by ``+``, optionally ``@variant``.
    tasks : sequence of str
        The suite's tasks, in order.
    variants : collection of str, optional
        The accepted variants.

    Returns
    -------
    Candidate
        Its tasks in the order of ``tasks``.

    Raises
    ------
    InvalidArgument
        Unknown task or variant, or a repeated task, naming what is accepted.
    """
    accepted = tuple(variants) if variants is not None else _builtin_variants()
    parsed, variant = split_network_name(text)
    if variant not in accepted:
        raise InvalidArgument(f"Candidate {text!r} has variant {variant!r}; accepted variants are {list(accepted)}.")
    names = list(parsed)
    unknown = [t for t in names if t not in tasks]
    if not names or unknown:
        raise InvalidArgument(
            f"Candidate {text!r} names unknown task(s) {unknown or names}; the tasks are {list(tasks)} "
            "(write a candidate as 'task1+task2' or 'task1@half')."
        )
    if len(set(names)) != len(names):
        raise InvalidArgument(f"Candidate {text!r} repeats a task.")
    return Candidate(tuple(t for t in tasks if t in names), variant)


# Candidate networks one measurement may hold: each is trained, so even this many is days of work; far more
# (2^25 subsets of 25 tasks) would exhaust memory just listing them.
MAX_CANDIDATES = 10_000


def make_candidates(
    tasks: Sequence[str],
    which: str | Sequence[str] = "all",
    *,
    half_singles: bool = True,
    variants: Sequence[str] | None = None,
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
        With "all" or "pairs" and built-in variants, add a half-size network for every single task (as
        Standley et al.).
    variants : sequence of str, optional
        A user's own variants (the objective route): "all" and "pairs" give every subset in each of them,
        and a list may name only them. Default: the built-in model families' variants.

    Returns
    -------
    list of Candidate
        Ordered by variant (full first, then as given), then size, then suite order; no repeats.

    Raises
    ------
    InvalidArgument
        More than :data:`MAX_CANDIDATES` candidates (counted before any is built), or a bad name in a list.
    """
    tasks = list(tasks)
    if variants is not None:
        variants = check_names("Variant", variants)
    if isinstance(which, str) and which in ("all", "pairs"):
        sizes = range(1, len(tasks) + 1) if which == "all" else range(1, min(2, len(tasks)) + 1)
        count = sum(math.comb(len(tasks), k) for k in sizes) * (len(variants) if variants is not None else 1)
        count += len(tasks) if variants is None and half_singles else 0
        if count > MAX_CANDIDATES:
            raise InvalidArgument(
                f"Candidates {which!r} over {len(tasks)} tasks are {count:,} networks; at most {MAX_CANDIDATES:,} "
                "are measured in one go. Measure adaptively (strategy='adaptive' of taskgroup.measure.measure: "
                "some networks measured, the rest predicted), measure 'pairs' (HOA), or name the networks to "
                "measure (--candidates 'a+b,c')."
            )
        subsets = [tuple(c) for k in sizes for c in combinations(tasks, k)]
        if variants is not None:
            ordered = sorted(variants, key=lambda v: v != "full")  # stable: "full" first, others as given
            return [Candidate(s, v) for v in ordered for s in subsets]
        out = [Candidate(s) for s in subsets]
        if half_singles:
            out += [Candidate((t,), "half") for t in tasks]
        return out
    if isinstance(which, str):
        which = [w for w in which.split(",") if w.strip()]
    if not which:
        raise InvalidArgument("The candidate list is empty; give 'all', 'pairs' or names like 'a+b,c@half'.")
    out = []
    for text in which:
        cand = parse_candidate(text, tasks, variants)
        if cand not in out:
            out.append(cand)
    return out


def seed_list(seeds: int | Sequence[int]) -> list[int]:
    """``K`` -> seeds 0..K-1; a list of distinct integers as given.

    Parameters
    ----------
    seeds : int or sequence of int
        A count, or the seeds themselves.

    Returns
    -------
    list of int

    Raises
    ------
    InvalidArgument
        A count below 1, no seed, or a repeated seed.
    """
    seeds_out = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seeds_out or len(set(seeds_out)) != len(seeds_out):
        raise InvalidArgument(f"seeds must be a positive count or distinct integers; got {seeds!r}.")
    return seeds_out
