"""The package's shape: no import cycle among taskgroup modules, no module over 600 lines.

Imports are read with ``ast`` from every module, imports inside functions included: a cycle deferred into a
function is still a cycle of responsibilities. Excepted: imports under ``if TYPE_CHECKING:`` (annotations only)
and a package importing its own submodules (its ``__init__`` re-exporting them). ``from package import name``
counts as an import of the module the package takes ``name`` from (its re-export or lazy-name table), so a
module reaching another through a package's ``__init__`` is followed to the module it really needs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "taskgroup"
MAX_LINES = 600


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, whether it is a package's ``__init__``)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _type_checking_nodes(tree: ast.Module) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _reexports(package: str) -> dict[str, str]:
    """Names a package's ``__init__`` takes from its modules: ``from m import name`` and lazy tables
    (a dict literal of ``"name": "taskgroup.module"``)."""
    tree = ast.parse(MODULES[package][0].read_text())
    names: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = node.module
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values):
                if (
                    isinstance(key, ast.Constant)
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                    and value.value.startswith("taskgroup")
                ):
                    names[key.value] = value.value
    return names


REEXPORTS = {name: _reexports(name) for name, (_, is_package) in MODULES.items() if is_package}


def _owner(dotted: str) -> str | None:
    """The taskgroup module a dotted name lives in (the longest prefix that is a module)."""
    while dotted and dotted not in MODULES:
        dotted = dotted.rpartition(".")[0]
    return dotted or None


def _target(module: str, name: str) -> str | None:
    """What ``from module import name`` imports: a submodule, the module a package re-exports it from, or
    the module itself."""
    if f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    source = REEXPORTS.get(module, {}).get(name)
    if source is not None and source != module:
        return _target(source, name) if source in REEXPORTS else _owner(source)
    return _owner(module)


def import_graph() -> nx.DiGraph:
    """Module -> the taskgroup modules it imports, anywhere in its code (see the module docstring)."""
    graph = nx.DiGraph()
    for module, (path, is_package) in MODULES.items():
        graph.add_node(module)
        tree = ast.parse(path.read_text())
        skipped = _type_checking_nodes(tree)
        package = module if is_package else module.rpartition(".")[0]
        targets: set[str | None] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(_owner(a.name) for a in node.names if a.name.startswith("taskgroup"))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.startswith("taskgroup"):
                    targets.update(_target(source, a.name) for a in node.names)
        for target in targets - {None, module}:
            if is_package and target.startswith(module + "."):
                continue  # a package importing its own submodules
            graph.add_edge(module, target)
    return graph


def test_the_graph_sees_function_level_and_reexported_imports():
    graph = import_graph()
    # taskgroup.pipeline imports the strategies inside run_pipeline, from the package: the edge goes to the
    # registry's module, not to the package
    assert graph.has_edge("taskgroup.pipeline", "taskgroup.strategies")
    assert graph.has_edge("taskgroup.strategies.full", "taskgroup.estimate.pairs")
    assert graph.has_edge("taskgroup.solvers.solve", "taskgroup.solvers.ilp")


def test_no_import_cycle():
    cycles = sorted(sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1)
    assert cycles == [], f"import cycles among taskgroup modules: {cycles}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_600_lines(module):
    lines = len(MODULES[module][0].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it (at most {MAX_LINES})"
