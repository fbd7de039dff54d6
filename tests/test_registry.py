"""Every pluggable family is one Registry: names, descriptions and the CLI's choices agree."""

from __future__ import annotations

import argparse

import pytest

from taskgroup.cli import build_parser
from taskgroup.datasets.suites import SUITES, available_suites
from taskgroup.engine.families import MODEL_FAMILIES, available_families
from taskgroup.engine.weighting import LOSS_WEIGHTINGS, available_weightings
from taskgroup.errors import InvalidArgument, InvalidSuite
from taskgroup.grouping.group import GROUPING_METHODS, available_grouping_methods
from taskgroup.measure.executors import EXECUTORS
from taskgroup.registry import Registry, RegistryChoices
from taskgroup.solvers import SOLVERS, available_solvers

REGISTRIES = {
    "solvers": (SOLVERS, {"exhaustive", "bnb", "ilp", "greedy"}, InvalidArgument),
    "grouping": (GROUPING_METHODS, {"enumerate", "colgen", "greedy-merge"}, InvalidArgument),
    "families": (MODEL_FAMILIES, {"mlp", "cnn", "mmoe"}, InvalidArgument),
    "weightings": (LOSS_WEIGHTINGS, {"equal", "uncertainty"}, InvalidArgument),
    "suites": (SUITES, {"synthetic", "digits", "wage"}, InvalidSuite),
    "executors": (EXECUTORS, {"serial", "process", "dask"}, InvalidArgument),
}


def _options(command: str) -> dict[str, argparse.Action]:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {s: a for a in commands.choices[command]._actions for s in a.option_strings}


@pytest.mark.parametrize("family", sorted(REGISTRIES))
def test_every_registry_has_named_described_entries_and_lists_them_on_a_miss(family):
    registry, builtins, error = REGISTRIES[family]
    assert isinstance(registry, Registry)
    assert builtins <= set(registry.names())
    assert registry.names() == sorted(registry) == list(registry.descriptions())
    for name, description in registry.descriptions().items():
        assert registry.entry(name).name == name and name in registry
        assert description.strip() and "\n" not in description
    with pytest.raises(error, match=r"Unknown .* 'no-such-name'; accepted: \[") as info:
        registry.get("no-such-name")
    assert all(repr(name) in str(info.value) for name in registry.choices())


def test_the_old_listing_functions_read_the_registries():
    assert set(available_solvers()) == set(SOLVERS) and available_solvers()["bnb"] is SOLVERS["bnb"]
    assert set(available_grouping_methods()) == set(GROUPING_METHODS)
    assert available_families() == MODEL_FAMILIES.descriptions()
    assert available_weightings() == LOSS_WEIGHTINGS.names()
    assert available_suites() == SUITES.descriptions()


@pytest.mark.parametrize(
    "command, option, registries",
    [
        ("solve", "--method", [SOLVERS, GROUPING_METHODS]),
        ("measure", "--suite", [SUITES]),
        ("train", "--suite", [SUITES]),
        ("run", "--suite", [SUITES]),
        ("affinity", "--suite", [SUITES]),
        ("train", "--arch", [MODEL_FAMILIES]),
        ("run", "--arch", [MODEL_FAMILIES]),
        ("run", "--model", [MODEL_FAMILIES]),
        ("train", "--weighting", [LOSS_WEIGHTINGS]),
    ],
)
def test_cli_choices_are_the_registry_choices(command, option, registries):
    action = _options(command)[option]
    expected = [*registries[0].extra_names, *(name for registry in registries for name in registry.names())]
    assert list(action.choices) == expected
    assert all(name in action.choices for name in expected) and "no-such-name" not in action.choices


@pytest.mark.parametrize("command", ["measure", "run"])
def test_cli_executor_help_lists_every_registered_executor(command):
    help_text = _options(command)["--executor"].help
    assert all(f"{name}: {description}" in help_text for name, description in EXECUTORS.descriptions().items())


def test_registration_replaces_and_rejects_bad_names_and_descriptions():
    shapes: Registry[int] = Registry("shape", extra_names=["auto"])
    shapes.register("square", 4, "four equal sides")
    shapes.register("square", 5, "replaced")
    assert shapes["square"] == 5 and shapes.choices() == ["auto", "square"] and len(shapes) == 1
    with pytest.raises(
        InvalidArgument, match=r"shape name must be a non-empty string other than \['auto'\]; got 'auto'"
    ):
        shapes.register("auto", 1, "reserved")
    with pytest.raises(InvalidArgument, match="must be one non-empty line"):
        shapes.register("triangle", 3, "three\nsides")


def test_registry_choices_import_the_registry_lazily():
    choices = RegistryChoices("taskgroup.engine.weighting:LOSS_WEIGHTINGS")
    assert "equal" in choices and list(choices) == LOSS_WEIGHTINGS.choices() and len(choices) == len(LOSS_WEIGHTINGS)
