"""Build the API reference from the docstrings (pdoc, numpydoc style) and fail on a broken public API.

``python scripts/api_reference.py [OUT]`` imports every module of the package, checks that every name in each
module's ``__all__`` exists and that every public module, function and class has a docstring of its own, then
writes the HTML reference to OUT (default ``build/api``) with pdoc; a pdoc warning (a name it cannot resolve, a
docstring it cannot parse) fails the build too. Exit status 1 lists every problem.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import warnings
from pathlib import Path
from types import ModuleType

import pdoc
import pdoc.render

PACKAGE = "taskgroup"


def public_modules(package: str = PACKAGE) -> list[ModuleType]:
    """The package and every submodule whose name has no leading underscore (``__main__`` would run the CLI)."""
    root = importlib.import_module(package)
    names = [package] + [
        info.name
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    return [importlib.import_module(name) for name in sorted(names)]


def own_docstring(obj: object) -> str:
    """The docstring ``obj`` itself has (not one inherited, not the signature dataclasses write for a class)."""
    doc = obj.__doc__ if isinstance(obj.__doc__, str) else ""
    if inspect.isclass(obj) and doc.startswith(f"{obj.__name__}("):
        return ""
    return doc.strip()


def api_problems(modules: list[ModuleType]) -> list[str]:
    """Every public name that does not resolve, and every public module, function or class without a docstring."""
    problems = []
    for module in modules:
        if not own_docstring(module):
            problems.append(f"{module.__name__}: the module has no docstring")
        for name in getattr(module, "__all__", []):
            try:
                obj = getattr(module, name)
            except AttributeError:
                problems.append(f"{module.__name__}.{name}: listed in __all__ but not defined")
                continue
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and not own_docstring(obj):
                problems.append(f"{module.__name__}.{name}: no docstring")
    return problems


def build(out: Path, package: str = PACKAGE) -> list[str]:
    """Write the HTML reference of ``package`` to ``out``; return pdoc's warnings."""
    pdoc.render.configure(docformat="numpy", show_source=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Every module by name: given the package alone, pdoc documents only the submodules in its __all__.
        pdoc.pdoc(*(module.__name__ for module in public_modules(package)), output_directory=out)
    # "already been added": a module named here that pdoc also reached through a package's __all__.
    return [f"pdoc: {w.message}" for w in caught if "pdoc" in w.filename and "already been added" not in str(w.message)]


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "build/api")
    modules = public_modules()
    problems = api_problems(modules)  # resolves every public name first, lazy ones included, for pdoc
    problems += build(out)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"API reference: {len(problems)} problem(s).", file=sys.stderr)
        return 1
    print(f"API reference of {len(modules)} modules written to {out}/")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
