"""The API reference build (scripts/api_reference.py) fails on a broken public API."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("api_reference", ROOT / "scripts" / "api_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def broken_package(tmp_path, monkeypatch):
    package = tmp_path / "brokenpkg"
    package.mkdir()
    (package / "__init__.py").write_text('"""A package."""\n')
    (package / "good.py").write_text(
        textwrap.dedent('''
        """Documented."""
        __all__ = ["documented"]

        def documented():
            """Has a docstring."""
    ''')
    )
    (package / "bad.py").write_text(
        textwrap.dedent("""
        from dataclasses import dataclass

        __all__ = ["undocumented", "Record", "missing"]

        def undocumented():
            pass

        @dataclass
        class Record:
            x: int
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "brokenpkg"
    for name in [n for n in sys.modules if n.startswith("brokenpkg")]:
        del sys.modules[name]


def test_every_missing_docstring_and_unresolved_public_name_is_a_problem(broken_package):
    script = _script()
    modules = script.public_modules(broken_package)
    assert [m.__name__ for m in modules] == ["brokenpkg", "brokenpkg.bad", "brokenpkg.good"]
    assert script.api_problems(modules) == [
        "brokenpkg.bad: the module has no docstring",
        "brokenpkg.bad.undocumented: no docstring",
        "brokenpkg.bad.Record: no docstring",  # the signature dataclasses write is not a docstring
        "brokenpkg.bad.missing: listed in __all__ but not defined",
    ]


def test_pdoc_warnings_fail_the_build(broken_package, tmp_path):
    warnings = _script().build(tmp_path / "api", broken_package)
    assert any("'missing'" in w and "does not resolve" in w for w in warnings)
    assert (tmp_path / "api" / "brokenpkg" / "good.html").is_file()


@pytest.mark.slow
def test_the_taskgroup_reference_builds_without_problems(tmp_path):
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "api_reference.py"), str(tmp_path / "api")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "api" / "taskgroup" / "plan.html").is_file()
    assert "Frontier" in (tmp_path / "api" / "taskgroup" / "plan.html").read_text()
