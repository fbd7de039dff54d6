"""`python -m benchmarks --quick`: every benchmark script still runs end to end (so none of them rots)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_every_benchmark_runs_in_quick_mode(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in ("solvers", "estimates", "measure", "train", "objective", "grouping", "strategies"):
        text = (tmp_path / f"{name}.md").read_text()
        assert text.startswith("#") and "|---" in text, name


def test_unknown_benchmark_name_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "speed"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "unknown benchmark(s) ['speed']" in result.stderr


def test_rerunning_one_estimates_section_keeps_the_others(tmp_path):
    kept = "## 40 tasks in planted clusters: heuristics and column generation"
    (tmp_path / "estimates.md").write_text(f"# old\n\n{kept}\n\nthe earlier table\n")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.estimates", "--quick", "--sections", "tag", "--results", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = (tmp_path / "estimates.md").read_text()
    assert f"{kept}\n\nthe earlier table\n" in text  # not replaced by "Not run"
    assert "## TAG's published matrices" in text and "Not run" in text  # the rerun section and the never-run ones
