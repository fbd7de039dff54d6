"""Adaptive measurement: the loop on a cheap generator, and resuming after SIGKILL through the results store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from taskgroup.errors import InvalidArgument
from taskgroup.estimate.synthetic import planted_group_losses
from taskgroup.strategies.adaptive import adaptive_select, initial_design


def test_initial_design_covers_every_task_with_small_groups():
    tasks = [f"t{i}" for i in range(11)]
    design = initial_design(tasks, 8, 3, singles=True, seed=0)
    assert design[:11] == [(t,) for t in tasks]
    groups = design[11:]
    assert len(groups) == len(set(groups)) == 8
    assert all(2 <= len(g) <= 4 for g in groups)  # a sweep's last chunk may take one extra task
    assert {t for g in groups for t in g} == set(tasks)


def test_adaptive_measures_only_within_budget_and_never_twice():
    losses = planted_group_losses(10, 2, seed=1)
    asked: list[tuple[str, ...]] = []

    def measure_groups(groups):
        asked.extend(groups)
        return {g: losses.measure(g) for g in groups}

    result = adaptive_select(measure_groups, losses.tasks, 2, max_measured=40, method="enumerate")
    assert len(asked) == len(set(asked)) == len(result.measured) <= 40
    assert result.plan is not None
    if result.converged:  # the predicted plan is then made of measured networks only, and is the answer
        assert set(result.predicted_plan.networks) <= {"+".join(g) for g in result.measured}
        assert result.plan.objective == pytest.approx(result.predicted_plan.objective)
    # the answer is scored on measured losses: evaluating its networks on the generator agrees
    for name in result.plan.networks:
        assert tuple(name.split("+")) in result.measured
    assert result.rounds[-1]["measured"] == len(result.measured)  # the last round measures nothing more


def test_adaptive_with_optimism_finds_the_planted_groups():
    losses = planted_group_losses(9, 3, seed=0)
    clusters = ["+".join(t for t, c in zip(losses.tasks, losses.labels) if c == k) for k in range(3)]

    def expected(networks):
        return sum(min(losses.expected(n.split("+"))[t] for n in networks if t in n.split("+")) for t in losses.tasks)

    result = adaptive_select(
        lambda gs: {g: losses.measure(g) for g in gs}, losses.tasks, 3, max_measured=40, method="enumerate"
    )
    assert expected(result.plan.networks) == pytest.approx(expected(clusters), rel=0.01)


def test_adaptive_rejects_a_budget_below_the_initial_design():
    with pytest.raises(InvalidArgument, match="at least 10"):
        adaptive_select(lambda gs: {}, [f"t{i}" for i in range(5)], 2, max_measured=6)


CHILD = textwrap.dedent(
    """
    import json, sys
    import taskgroup as tg
    from taskgroup.strategies.adaptive import adaptive_select, suite_measurer
    from taskgroup.measure import TrainConfig

    store, log, out = sys.argv[1:4]
    suite = tg.datasets.load_suite("synthetic")

    def trained(line):
        with open(log, "a") as f:
            f.write(line.removeprefix("trained ").replace(", ", "\\n") + "\\n")

    measure_groups = suite_measurer(suite, store, config=TrainConfig(epochs=3, patience=3), progress=False,
                                    vectorise=False, latency_repeats=0, say=trained)
    result = adaptive_select(measure_groups, suite.task_names, 2, max_measured=14, method="enumerate")
    with open(out, "w") as f:
        measured = {"+".join(g): v for g, v in result.measured.items()}
        json.dump({"plan": list(result.plan.networks), "measured": measured}, f)
    """
)


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.slow
def test_adaptive_resumes_after_sigkill_without_remeasuring(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    db, log1, log2 = tmp_path / "store.db", tmp_path / "trained1.txt", tmp_path / "trained2.txt"
    child = subprocess.Popen([sys.executable, str(script), str(db), str(log1), str(tmp_path / "never.json")], env=env)
    deadline = time.time() + 120
    while _count(db) < 4 and child.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert child.poll() is None, "the run finished before it could be interrupted"
    os.kill(child.pid, signal.SIGKILL)  # mid-way through the initial design: each network is one transaction
    child.wait()
    before = _count(db)
    with sqlite3.connect(db) as con:
        stored = {row[0] for row in con.execute("SELECT network FROM results")}
    assert 4 <= before < 14 and not (tmp_path / "never.json").exists()

    out = tmp_path / "resumed.json"
    subprocess.run([sys.executable, str(script), str(db), str(log2), str(out)], env=env, check=True)
    retrained = set(log2.read_text().split()) if log2.exists() else set()
    assert not retrained & stored, f"re-measured after resume: {sorted(retrained & stored)}"
    resumed = json.loads(out.read_text())
    assert len(resumed["measured"]) == _count(db) <= 14  # one row per network: nothing measured twice

    fresh = tmp_path / "fresh.json"
    subprocess.run(
        [sys.executable, str(script), str(tmp_path / "fresh.db"), str(tmp_path / "t3.txt"), str(fresh)],
        env=env,
        check=True,
    )
    uninterrupted = json.loads(fresh.read_text())
    assert resumed["plan"] == uninterrupted["plan"]
    assert resumed["measured"].keys() == uninterrupted["measured"].keys()
    for name, values in uninterrupted["measured"].items():
        assert resumed["measured"][name] == pytest.approx(values, rel=1e-6)
