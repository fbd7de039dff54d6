"""The results store's affinities table: a miss raises NotFound naming the request and the stored matrices."""

import subprocess
import sys

import pandas as pd
import pytest

from taskgroup.errors import InvalidArgument, NotFound
from taskgroup.measure.store import ResultStore

MATRIX = pd.DataFrame([[0.0, 0.2], [0.1, 0.0]], index=["a", "b"], columns=["a", "b"])


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "a.db"
    store = ResultStore(path)
    store.save_affinity(MATRIX, suite="fp1", suite_name="digits", config="c1", method="tag", seed=0, every=10, steps=5)
    return path


def test_a_hit_returns_the_matrix(db):
    found = ResultStore(db).load_affinity(method="tag", suite="digits")
    assert found.equals(MATRIX) and found.attrs["higher_is_better"] is True


def test_a_miss_raises_not_found_naming_the_request_and_the_store(db):
    with pytest.raises(NotFound) as info:
        ResultStore(db).load_affinity(method="cs", suite="digits", seed=3)
    message = str(info.value)
    assert "method='cs', suite='digits', seed=3" in message
    assert "it holds 1: tag of suite 'digits' (suite='fp1', config='c1', seed=0, every=10)" in message
    assert isinstance(info.value, LookupError) and isinstance(info.value, InvalidArgument)


def test_a_miss_in_an_empty_store_says_how_to_fill_it(tmp_path):
    store = ResultStore(tmp_path / "empty.db")  # a new store: no matrices yet
    assert store.affinities().empty
    with pytest.raises(NotFound, match=r"it holds no affinity matrices \(measure one with 'taskgroup affinity"):
        store.load_affinity(method="cs")


def test_cli_miss_is_one_line_and_exit_2(db):
    result = subprocess.run(
        [sys.executable, "-m", "taskgroup", "solve", "--affinity", f"{db}:other:tag", "--n-networks", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "No affinity matrix with method='tag', suite='other'" in lines[0]
