"""Command-line options shared by several subcommands."""

from __future__ import annotations

import argparse
import ast
import json
from typing import Any

from taskgroup.errors import InvalidArgument
from taskgroup.measure.executors import EXECUTORS
from taskgroup.registry import RegistryChoices

__all__ = [
    "add_suite_param_argument",
    "parse_suite_params",
    "add_runtime_arguments",
    "apply_runtime_arguments",
    "SUITE_CHOICES",
    "FAMILY_CHOICES",
    "WEIGHTING_CHOICES",
    "executor_help",
    "add_factory_argument",
    "factory_argument",
    "add_force_argument",
    "add_adaptive_budget_arguments",
]

# Choices read from the registries when argparse first needs them (these registries import torch, which the
# planning commands never load); every option using them sets a metavar so that building the parser does not
# list them.
SUITE_CHOICES = RegistryChoices("taskgroup.datasets.suites:SUITES")
FAMILY_CHOICES = RegistryChoices("taskgroup.engine.families:MODEL_FAMILIES")
WEIGHTING_CHOICES = RegistryChoices("taskgroup.engine.weighting:LOSS_WEIGHTINGS")


def executor_help(default: str) -> str:
    """Help for ``--executor``, from the executor registry (its names take arguments, so no ``choices``)."""
    kinds = "; ".join(f"{name}: {description}" for name, description in EXECUTORS.descriptions().items())
    return f"where jobs run ({kinds}; default: {default})"


def add_runtime_arguments(
    parser: argparse.ArgumentParser,
    threads_help: str = "torch CPU threads (default: the cores available to this process, or OMP_NUM_THREADS)",
) -> None:
    """``--device`` and ``--threads``, for every subcommand that trains."""
    parser.add_argument("--device", default="cpu", help="where networks train: cpu (default), cuda, cuda:N or mps")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help=threads_help,
    )


def apply_runtime_arguments(args: argparse.Namespace) -> str:
    """Set torch's threads (before any work starts) and check the device; return the device name."""
    from taskgroup.engine.runtime import configure_threads, resolve_device

    configure_threads(args.threads)
    return resolve_device(args.device)


def add_adaptive_budget_arguments(parser: argparse.ArgumentParser, plan_help: str) -> None:
    """The two budgets of ``--strategy adaptive``: ``--max-measured K`` (alias ``--budget-networks``), the most
    networks to measure, and ``--n-networks B`` (alias ``--plan-networks``), the networks of the plan."""
    parser.add_argument(
        "--max-measured",
        "--budget-networks",
        dest="max_measured",
        type=int,
        metavar="K",
        help="--strategy adaptive: most networks to measure",
    )
    parser.add_argument("--n-networks", "--plan-networks", dest="n_networks", type=int, metavar="B", help=plan_help)


def add_suite_param_argument(parser: argparse.ArgumentParser) -> None:
    """``--suite-param KEY=VALUE`` (repeatable; ``--param`` is an alias)."""
    parser.add_argument(
        "--suite-param",
        "--param",
        dest="suite_param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a parameter of the suite loader, e.g. --suite-param n_samples=600 --suite-param 'clusters=[2,2]' "
        "(repeatable)",
    )


def parse_suite_params(items: list[str], option: str = "--suite-param") -> dict[str, Any]:
    """``["within=0.5", "clusters=[2, 1]"]`` -> ``{"within": 0.5, "clusters": [2, 1]}``.

    Values are read as JSON, then as Python literals (so ``(2, 2)`` works), and otherwise kept as strings.
    ``option`` names the option in error messages.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise InvalidArgument(f"{option} must look like KEY=VALUE; got {item!r}.")
        params[key.strip()] = _literal(text.strip())
    return params


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def add_factory_argument(parser: argparse.ArgumentParser) -> None:
    """``--model module:function``: the factory of the user's own model, for commands that load checkpoints."""
    parser.add_argument(
        "--model",
        metavar="MODULE:FUNCTION",
        help="the factory your own model was trained with (built-in families need none); taskgroup never imports "
        "a module a checkpoint names, only the one given here",
    )


def factory_argument(args: argparse.Namespace) -> Any:
    """The factory ``--model`` names, imported because the user asked for it (None without ``--model``)."""
    if not args.model:
        return None
    from taskgroup.measure.objective import load_objective

    return load_objective(args.model, option="--model")


def add_force_argument(parser: argparse.ArgumentParser) -> None:
    """``--force``: write into an output folder that holds files taskgroup did not write."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="write into an --out folder that holds files taskgroup did not write there (same names are replaced)",
    )
