"""One registry type for every pluggable family: solvers, grouping methods, model families, loss weightings,
suites and executors.

Each entry has a name, the registered object and a one-line description. The CLI builds its choices from the
registries (:class:`RegistryChoices` imports a registry only when argparse first asks, so torch stays out of
the start-up of commands that do not need it), and an unknown name raises the registry's error listing the
accepted names. Nothing here imports anything heavy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from taskgroup.errors import InvalidArgument, TaskgroupError

__all__ = ["Registry", "RegistryEntry", "RegistryChoices", "MethodSpec"]

T = TypeVar("T")


@dataclass(frozen=True)
class RegistryEntry(Generic[T]):
    """One registered object: its name, the object itself and a one-line description.

    Attributes
    ----------
    name : str
        The registered name.
    item : object
        The registered object.
    description : str
        One line.
    """

    name: str
    item: T
    description: str


@dataclass(frozen=True)
class MethodSpec:
    """A registered optimisation method (a solver or a grouping method): its function, whether it proves
    optimality, and a one-line description.

    Attributes
    ----------
    name : str
        The registered name (``method=``).
    function : callable
        A solver: ``function(instance, *, time_limit, **options) -> SolverResult``; a grouping method:
        ``function(scorer, k, *, time_limit, seed, **options) -> GroupingResult``.
    exact : bool
        Whether it proves optimality.
    description : str
        One line.
    """

    name: str
    function: Callable[..., Any]
    exact: bool
    description: str


class Registry(Generic[T]):
    """Objects of one kind registered by name, each with a one-line description.

    Parameters
    ----------
    kind : str
        What the names name, as the error message says it (``"solver method"``, ``"suite"``).
    error : type of TaskgroupError, optional
        The error raised for an unknown name (default :class:`~taskgroup.errors.InvalidArgument`).
    extra_names : sequence of str, optional
        Names the callers accept besides the registered ones (``"auto"``); listed in errors and CLI
        choices, never registered.

    Examples
    --------
    >>> shapes = Registry("shape")
    >>> shapes.register("square", 4, "four equal sides")
    >>> shapes["square"]
    4
    >>> shapes.names()
    ['square']
    """

    def __init__(
        self, kind: str, *, error: type[TaskgroupError] = InvalidArgument, extra_names: Sequence[str] = ()
    ) -> None:
        self.kind = kind
        self.error = error
        self.extra_names = tuple(extra_names)
        self._entries: dict[str, RegistryEntry[T]] = {}

    def register(self, name: str, item: T, description: str) -> None:
        """Register ``item`` under ``name`` (replacing an earlier registration of that name).

        Parameters
        ----------
        name : str
            The name callers pick it by.
        item : object
            What is registered.
        description : str
            One line, for listings and the CLI's help.

        Raises
        ------
        InvalidArgument
            If the name is empty or reserved (one of ``extra_names``), or the description is not one
            non-empty line.
        """
        if not isinstance(name, str) or not name or name in self.extra_names:
            raise InvalidArgument(
                f"A {self.kind} name must be a non-empty string other than {list(self.extra_names)}; got {name!r}."
            )
        if not isinstance(description, str) or not description.strip() or "\n" in description:
            raise InvalidArgument(
                f"The description of {self.kind} {name!r} must be one non-empty line; got {description!r}."
            )
        self._entries[name] = RegistryEntry(name, item, description)

    def entry(self, name: str) -> RegistryEntry[T]:
        """The entry registered under ``name``.

        Parameters
        ----------
        name : str
            A registered name.

        Returns
        -------
        RegistryEntry

        Raises
        ------
        TaskgroupError
            The registry's ``error`` class, naming the unknown name and listing the accepted ones.
        """
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self.error(f"Unknown {self.kind} {name!r}; accepted: {self.choices()}.") from None

    def get(self, name: str) -> T:
        """The object registered under ``name``; raises like :meth:`entry` for an unknown name.

        Parameters
        ----------
        name : str
            A registered name.

        Returns
        -------
        object
            The registered item.

        Raises
        ------
        TaskgroupError
            The registry's ``error`` class, for an unknown name.
        """
        return self.entry(name).item

    __getitem__ = get

    def names(self) -> list[str]:
        """The registered names, sorted.

        Returns
        -------
        list of str
        """
        return sorted(self._entries)

    def choices(self) -> list[str]:
        """What callers accept: the extra names first, then the registered names (for errors and the CLI).

        Returns
        -------
        list of str
        """
        return [*self.extra_names, *self.names()]

    def descriptions(self) -> dict[str, str]:
        """Registered names and their one-line descriptions, sorted by name.

        Returns
        -------
        dict of str to str
        """
        return {name: self._entries[name].description for name in self.names()}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"


class RegistryChoices:
    """argparse ``choices`` read from a registry that is imported on first use.

    ``RegistryChoices("taskgroup.engine.families:MODEL_FAMILIES")`` accepts the registry's :meth:`Registry.choices`;
    the module is imported only when argparse checks a given value or prints help, so a subcommand that never
    sees the option never imports it.

    Parameters
    ----------
    target : str
        ``"module:attribute"`` of the registry.
    """

    def __init__(self, target: str) -> None:
        self.target = target

    def registry(self) -> Registry:
        """The registry named by ``module:attribute``.

        Returns
        -------
        Registry
            Imported now (a module imports once; later calls are cheap).
        """
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def __contains__(self, name: object) -> bool:
        return name in self.registry().choices()

    def __iter__(self) -> Iterator[str]:
        return iter(self.registry().choices())

    def __len__(self) -> int:
        return len(self.registry().choices())
