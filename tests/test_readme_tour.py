"""Every command of the README's tour runs exactly as written (issue 9): the Python blocks, then the shell lines.

The tour reads a `losses.csv` and a `customers.csv` of the user's own; the test writes them (one row per network and
task, with `cost`, `flops` and `latency_ms` columns, as the tour describes; a small table with `churn` and `spend`
columns) and runs everything in a fresh folder, in order, so that
each command finds the files the earlier ones wrote. Slow: it measures and trains on the digits suite.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def tour_blocks() -> list[tuple[str, str]]:
    text = README.read_text()
    tour = text[text.index("## A short tour") :]
    tour = tour[: tour.index("\n## ", 1)]
    return re.findall(r"```(python|bash)\n(.*?)```", tour, flags=re.S)


def write_losses(path: Path) -> None:
    rows = []
    for name, tasks, size in [
        ("a", "a", 1.0),
        ("b", "b", 1.0),
        ("c", "c", 1.0),
        ("a_half", "a", 0.5),
        ("ab", "ab", 1.2),
        ("bc", "bc", 1.2),
        ("abc", "abc", 1.5),
    ]:
        for t in tasks:
            rows.append(
                {
                    "network": name,
                    "task": t,
                    "loss": 0.5 - 0.05 * len(tasks) + 0.01 * (t == "c"),
                    "cost": size,
                    "flops": 1e6 * size,
                    "latency_ms": 0.8 * size,
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)


def write_customers(path: Path) -> None:
    """A small table of the kind the tour's `--suite csv` line reads: two features, a text column, two targets."""
    rng = np.random.default_rng(0)
    n = 300
    frame = pd.DataFrame(
        {"age": rng.integers(18, 80, n), "visits": rng.poisson(3, n), "plan": rng.choice(["basic", "pro"], n)}
    )
    frame["spend"] = 20 + 3 * frame.visits + 15 * (frame.plan == "pro") + rng.normal(0, 5, n)
    frame["churn"] = (rng.random(n) < 1 / (1 + np.exp(0.5 * frame.visits - 1))).astype(int)
    frame.to_csv(path, index=False)


def test_the_tour_has_python_and_shell_blocks():
    kinds = [kind for kind, _ in tour_blocks()]
    assert "python" in kinds and "bash" in kinds


@pytest.mark.slow
def test_every_tour_command_runs_as_written(tmp_path, monkeypatch):
    write_losses(tmp_path / "losses.csv")
    write_customers(tmp_path / "customers.csv")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for kind, code in tour_blocks():
        if kind == "python":
            exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own code
            continue
        for line in code.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            argv = shlex.split(line)
            assert argv[0] == "taskgroup", line
            result = subprocess.run(
                [sys.executable, "-m", "taskgroup", *argv[1:]], capture_output=True, text=True, timeout=1200
            )
            assert "Traceback" not in result.stderr, (line, result.stderr)
            assert result.returncode == 0, (line, result.stderr[-2000:])
