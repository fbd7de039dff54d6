"""`python -m benchmarks --quick`: every benchmark script still runs end to end (so none of them rots)."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import BENCHMARKS, STUDIES

ROOT = Path(__file__).resolve().parent.parent


# The quick runs take ~4.5 min of CPU one after another, and the test process only waits for them; CI has two cores,
# so the driver runs twice side by side, each with half of the benchmarks. Quick runs' wall seconds (each alone on
# a quiet machine, 2026-12-06): run_time 36, solvers 28, repeats 25, selection 15, evaluation_errors 13,
# training_variants 12, serving 10, plan_distill 9 (148 together); measure 38, train 36 (two processes), estimates
# 34, grouping 23, strategies 14, objective 8 (153). run_time's measurements run process pools that take both
# cores from the other half while they run. Every benchmark still runs, through the same driver, into one results
# folder (each writes only its own table).
BESIDE_THE_REST = ("run_time", "solvers", "repeats", "serving", "evaluation_errors", *STUDIES)


@pytest.mark.slow
def test_every_benchmark_runs_in_quick_mode(tmp_path):
    names = BENCHMARKS + STUDIES  # what --quick runs
    halves = [[n for n in names if n in BESIDE_THE_REST], [n for n in names if n not in BESIDE_THE_REST]]
    assert sorted(halves[0] + halves[1]) == sorted(names)
    runs = []
    try:
        for i, half in enumerate(halves):
            # output to files, not pipes: a full pipe would stall one run while the test waits on the other
            log = tmp_path / f"driver{i}.log"
            command = [sys.executable, "-m", "benchmarks", "--quick", "--results", str(tmp_path), "--only"]
            with log.open("w") as sink:
                runs.append((subprocess.Popen([*command, ",".join(half)], cwd=ROOT, stdout=sink, stderr=sink), log))
        for process, log in runs:
            assert process.wait(timeout=1200) == 0, log.read_text()[-6000:]
    finally:
        for process, _ in runs:  # a failed run must not leave the other running for minutes
            if process.poll() is None:
                process.kill()
                process.wait()
    for name in ("solvers", "estimates", "measure", "train", "objective", "grouping", "strategies", *STUDIES):
        text = (tmp_path / f"{name}.md").read_text()
        assert text.startswith("#") and "|---" in text, name
    for name in STUDIES:  # a smoke table says so, in case one is ever written over a full run's
        assert "**Quick smoke run**" in (tmp_path / f"{name}.md").read_text(), name


@pytest.mark.parametrize("study", STUDIES)
def test_a_quick_study_refuses_a_cache_folder(study, tmp_path, capsys):
    # a quick run's stores (small suites, 1-2 epochs) must never land where a full run would resume from them
    main = importlib.import_module(f"benchmarks.{study}").main
    with pytest.raises(SystemExit) as stopped:
        main(["--quick", "--cache", str(tmp_path / "cache"), "--results", str(tmp_path)])
    assert stopped.value.code == 2 and "--quick" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unknown_benchmark_name_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "speed"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "unknown benchmark(s) ['speed']" in result.stderr
    assert "'selection', 'training_variants', 'plan_distill']" in result.stderr  # the studies are accepted names


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
