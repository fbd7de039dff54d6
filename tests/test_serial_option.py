"""``--serial`` (tests/conftest.py): scripts/test.sh runs the tests in two parts that together are the whole suite."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def collected(choice: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", f"--serial={choice}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return {line for line in result.stdout.splitlines() if "::" in line}


@pytest.mark.slow
def test_the_serial_part_and_the_rest_are_disjoint_and_make_the_whole_suite():
    alone, rest, everything = collected("only"), collected("without"), collected("with")
    assert alone and rest and not alone & rest
    assert alone | rest == everything
    assert "tests/test_benchmarks.py::test_every_benchmark_runs_in_quick_mode" in alone
    assert "tests/test_solver_interrupts.py::test_run_interruptibly_raises_what_the_call_raised" in alone
    assert (
        f"tests/test_serial_option.py::{test_the_serial_part_and_the_rest_are_disjoint_and_make_the_whole_suite.__name__}"
        in rest
    )


def test_an_unknown_serial_choice_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--serial=sometimes", "tests/test_serial_option.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 4 and "invalid choice: 'sometimes'" in result.stderr
