"""The public API follows the glossary in docs/concepts.md, with no compatibility shims."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import taskgroup as tg
from taskgroup.errors import InvalidArgument, InvalidSuite
from taskgroup.validation import check_number

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_PACKAGES = [
    "taskgroup",
    "taskgroup.solvers",
    "taskgroup.estimate",
    "taskgroup.grouping",
    "taskgroup.strategies",
    "taskgroup.measure",
    "taskgroup.train",
    "taskgroup.datasets",
    "taskgroup.engine",
    "taskgroup.tasks",
]
# old names no public signature may use: one name per concept (docs/concepts.md)
RENAMED = {"normalize", "progress_callback", "k", "plan_networks", "budget_networks", "on_round", "on_trained"}


def public_callables() -> dict[str, object]:
    """Every function in a public package's ``__all__`` and every public method of a class there."""
    found: dict[str, object] = {}
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
            elif inspect.isclass(obj) and obj.__module__.startswith("taskgroup"):
                for attr, value in vars(obj).items():
                    if attr.startswith("_") and not (attr == "__init__" and not dataclasses.is_dataclass(obj)):
                        continue
                    value = getattr(value, "__func__", value)
                    if inspect.isfunction(value):
                        found.setdefault(f"{obj.__module__}.{obj.__qualname__}.{attr}", value)
    return found


def glossary() -> dict[str, str]:
    """The parameter-name table of docs/concepts.md: name -> its 'type, default' column."""
    text = (ROOT / "docs" / "concepts.md").read_text()
    section = text.split("## Parameter names", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|[^|]*\| ([^|]*) \|$", section, re.M)}


def _annotation(parameter: inspect.Parameter) -> str:
    """The annotation as written, whether the module postpones annotations (a string) or not (an object)."""
    annotation = parameter.annotation
    return annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)


# What each glossary name requires of a parameter so named.
RULES = {
    "budget": lambda p: p.kind is not p.KEYWORD_ONLY or "int" in _annotation(p),
    "cost": lambda p: (
        "str" in _annotation(p) and "float" not in _annotation(p) and p.default in (None, "flops", p.empty)
    ),
    "n_networks": lambda p: _annotation(p).startswith("int"),
    "max_measured": lambda p: _annotation(p).startswith("int"),
    "higher_is_better": lambda p: "bool" in _annotation(p) and p.default in (False, None, p.empty),
    "cost_value": lambda p: "float" in _annotation(p),
    "time_limit": lambda p: p.default is None and _annotation(p) == "float | None",
    "progress": lambda p: _annotation(p) == "bool",
    "say": lambda p: "Callable[[str], None]" in _annotation(p),
    "seed": lambda p: "int" in _annotation(p),
    "method": lambda p: p.kind is p.KEYWORD_ONLY,
    "normalise": lambda p: _annotation(p) == "bool",
}


def test_the_glossary_in_the_docs_is_the_one_the_tests_check():
    assert set(glossary()) == set(RULES)
    assert glossary()["time_limit"].endswith("default None")


def test_public_signatures_follow_the_glossary():
    callables = public_callables()
    assert len(callables) > 100  # the scan really sees the API
    broken = []
    for qualname, function in callables.items():
        for parameter in inspect.signature(function).parameters.values():
            rule = RULES.get(parameter.name)
            if rule is not None and not rule(parameter):
                broken.append(f"{qualname}({parameter.name}: {_annotation(parameter)} = {parameter.default!r})")
            if parameter.name in RENAMED:
                broken.append(f"{qualname}({parameter.name}) uses an old name")
    assert broken == []


def test_data_first_destination_second():
    for qualname, function in public_callables().items():
        if function.__name__.startswith(("save_", "write_", "plot_")):
            first = next(iter(inspect.signature(function).parameters))
            assert first not in {"path", "out"}, qualname


@pytest.mark.parametrize(
    "function, first",
    [
        (tg.solve, 2),
        (tg.frontier, 2),
        (tg.plot_frontier, 2),
        (tg.grouping.group, 2),
        (tg.grouping.select_groups, 2),
        (tg.grouping.group_problem, 1),
        (tg.estimate.hoa, 1),
        (tg.estimate.esa_select, 2),
    ],
)
def test_arguments_after_the_first_one_or_two_are_keyword_only(function, first):
    kinds = [p.kind for p in inspect.signature(function).parameters.values() if p.kind is not p.VAR_KEYWORD]
    assert all(k is inspect.Parameter.POSITIONAL_OR_KEYWORD for k in kinds[:first])
    assert all(k is inspect.Parameter.KEYWORD_ONLY for k in kinds[first:])


@pytest.mark.parametrize(
    "value, options, message",
    [
        (-1, dict(minimum=0, exclusive=True, optional=True), "a number > 0 or None; got -1."),
        (0, dict(minimum=0, exclusive=True), "a number > 0; got 0."),
        (1.5, dict(minimum=1, integer=True), "an integer >= 1; got 1.5."),
        (True, dict(integer=True), "an integer; got True."),
        (float("nan"), dict(), "a number; got nan."),
        ("3", dict(minimum=0), "a number >= 0; got '3'."),
        (1.5, dict(minimum=0, maximum=1, exclusive=True), "a number > 0 and < 1; got 1.5."),
        (2, dict(maximum=1), "a number <= 1; got 2."),
    ],
)
def test_one_message_template_for_numbers(value, options, message):
    with pytest.raises(InvalidArgument) as info:
        check_number(value, "x", "f", **options)
    assert str(info.value) == f"The 'x' parameter of f must be {message}"


def test_accepted_numbers_pass_through_and_the_error_class_is_chosen():
    assert check_number(None, "t", "f", optional=True) is None
    assert check_number(np.int64(3), "k", "f", minimum=1, integer=True) == 3
    assert check_number(0.0, "x", "f", minimum=0) == 0.0
    with pytest.raises(InvalidSuite, match="The 'n' parameter of load"):
        check_number(-2, "n", "load", minimum=0, error=InvalidSuite)


def test_library_checks_use_the_template():
    problem = tg.datasets.standley2020(1, "val")
    with pytest.raises(
        InvalidArgument,
        match=r"^The 'time_limit' parameter of solve must be a number > 0 or None; "
        r"got -1\.$",
    ):
        tg.solve(problem, 2.5, time_limit=-1)
    with pytest.raises(InvalidArgument, match=r"^The 'time_limit' parameter of frontier must be"):
        tg.frontier(problem, time_limit=0)


def test_no_compatibility_shims():
    """Pre-1.0 there is nothing to keep compatible: old names, argument orders and positional options fail."""
    problem = tg.datasets.standley2020(1, "val")
    with pytest.raises(TypeError):
        tg.solve(problem, 2.5, "bnb")  # method is keyword-only
    with pytest.raises(TypeError):
        tg.estimate.hoa(problem, cost=2.0)  # the cost amount is cost_value
    for module in ("taskgroup.validation", "taskgroup.plan"):
        source = inspect.getsource(importlib.import_module(module))
        assert "DeprecationWarning" not in source and "for one version" not in source
