"""TAG/CS on the measurement module's suites, ESA through the runner, and the command line."""

import pytest
import torch

import taskgroup as tg
from taskgroup.cli import main
from taskgroup.engine import TrainConfig
from taskgroup.errors import InvalidArgument
from taskgroup.measure.store import ResultStore
from taskgroup.strategies import cs_affinity, esa_measure, suite_affinity


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def suite():
    return tg.datasets.load_suite("synthetic", n_samples=900)


def test_suite_affinity_finds_planted_clusters(suite):
    suite = tg.datasets.load_suite("synthetic")  # 3000 rows: 3 epochs are enough to see the clusters
    run = suite_affinity(suite, epochs=3, every=3)
    assert list(run.tag.index) == list(suite.task_names)
    for matrix in (run.tag, run.cs):
        plan = tg.grouping.group(matrix, 2)
        assert {frozenset(n.split("+")) for n in plan.networks} == {frozenset(c) for c in suite.params["planted"]}
    again = cs_affinity(suite, epochs=3, every=3)
    assert again.equals(run.cs)  # seeded


def test_suite_affinity_errors(suite):
    with pytest.raises(InvalidArgument, match="TaskSuite"):
        suite_affinity("synthetic")
    with pytest.raises(InvalidArgument, match="epochs"):
        suite_affinity(suite, epochs=0)


def test_esa_measure_trains_only_chosen(suite, tmp_path):
    db = tmp_path / "r.db"
    full = TrainConfig(epochs=5, hidden=(16, 16))
    measured = esa_measure(suite, db, 2.0, full=full, fraction=0.4)
    result, short = measured  # a named tuple: unpacking keeps working
    assert measured.result is result and measured.short_problem is short
    assert short.n_networks == 2**5 - 1 + 5 and short.predicted[short.serves].all()
    assert result.selection.optimal and result.trained == result.selection.networks
    stored = tg.measure.ResultStore(db).results(suite.fingerprint(), full.hash())
    assert set(stored["network"]) == set(result.trained)  # full training only for the chosen networks
    with pytest.raises(InvalidArgument, match=r"The 'fraction' parameter of ESA must be a number > 0 and < 1"):
        esa_measure(suite, db, 2.0, fraction=1.5)


def test_cli_affinity_and_solve(tmp_path, capsys):
    db = str(tmp_path / "a.db")
    assert main(["affinity", "--suite", "synthetic", "--method", "tag", "--epochs", "2", "--store", db]) == 0
    assert "stored in" in capsys.readouterr().out
    assert main(["affinity", "--suite", "synthetic", "--method", "tag", "--epochs", "2", "--store", db]) == 0
    assert "not retrained" in capsys.readouterr().out
    store = ResultStore(db)
    assert len(store.affinities()) == 1 and store.load_affinity(method="tag", suite="synthetic").shape == (5, 5)
    assert main(["solve", "--affinity", f"{db}:synthetic:tag", "--n-networks", "2", "--method", "colgen"]) == 0
    assert "optimal plan by colgen" in capsys.readouterr().out
    csv = tmp_path / "m.csv"
    tg.datasets.tag2021("taskonomy", "pairs").to_csv(csv)
    assert (
        main(["solve", "--affinity", str(csv), "--n-networks", "2", "--singletons", "diagonal", "--lower-is-better"])
        == 0
    )
    assert "objective 0.5093" in capsys.readouterr().out
    assert main(["solve", "--affinity", "tag2021:celeba:tag", "--n-networks", "3", "--method", "ilp"]) == 0
    assert "score -831.946" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["solve", "--affinity", "tag2021:celeba:tag"], "--n-networks"),
        (["solve", "--n-networks", "2"], "arguments are required: --budget"),
        (["solve", "--affinity", "tag2021:celeba:tag", "--n-networks", "2", "--budget", "2"], "drop --budget"),
        (["solve", "--affinity", "tag2021:mnist:tag", "--n-networks", "2"], "Unknown TAG dataset"),
        (["solve", "--affinity", "nope.csv", "--n-networks", "2"], "No such"),
        (
            ["solve", "--affinity", "tag2021:celeba:tag", "--n-networks", "0"],
            "--n-networks must be a whole number >= 1; got 0",
        ),
        (
            ["affinity", "--suite", "synthetic", "--n-networks", "-1"],
            "--n-networks must be a whole number >= 1; got -1",
        ),
    ],
)
def test_cli_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err
