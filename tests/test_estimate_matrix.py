"""Reading affinity/pair matrices: orientation, file formats and clear errors."""

import json

import numpy as np
import pandas as pd
import pytest

from taskgroup.errors import InvalidArgument
from taskgroup.estimate import as_affinity

NESTED = {"a": {"a": 0.0, "b": 0.3, "c": 0.1}, "b": {"a": 0.2, "b": 0.0, "c": 0.4}, "c": {"a": 0.5, "b": 0.6, "c": 0.0}}


def test_dict_orientation():
    m = as_affinity(NESTED)  # outer = source
    assert m.loc["a", "b"] == 0.3
    t = as_affinity(NESTED, orient="target")  # outer = target
    assert t.loc["b", "a"] == 0.3
    assert np.array_equal(t.to_numpy(), m.to_numpy().T)


def test_frame_csv_json_agree(tmp_path):
    m = as_affinity(NESTED)
    m.to_csv(tmp_path / "m.csv")
    (tmp_path / "m.json").write_text(json.dumps(NESTED))
    (tmp_path / "l.json").write_text(json.dumps({"tasks": list("abc"), "matrix": m.to_numpy().tolist()}))
    for other in (tmp_path / "m.csv", tmp_path / "m.json", str(tmp_path / "l.json"), m):
        assert as_affinity(other).equals(m)


def test_task_order():
    m = as_affinity(NESTED, tasks=["c", "a", "b"])
    assert list(m.index) == list(m.columns) == ["c", "a", "b"]
    assert m.loc["a", "b"] == 0.3


@pytest.mark.parametrize(
    "bad, pattern",
    [
        (pd.DataFrame(np.zeros((2, 3)), index=list("ab"), columns=list("abc")), "square"),
        (pd.DataFrame(np.zeros((2, 2)), index=list("ab"), columns=list("ax")), "differ"),
        (pd.DataFrame([[0.0, np.nan], [1.0, 0.0]], index=list("ab"), columns=list("ab")), r"source 'a', target 'b'"),
        (pd.DataFrame([[0.0, "x"], [1.0, 0.0]], index=list("ab"), columns=list("ab")), "non-numeric"),
        ({"a": {"a": 0.0, "b": 1.0}, "b": {"a": 1.0}}, r"nan at \[source 'b', target 'b'\]"),
        ({"a": 3}, "dict of task"),
        (42, "DataFrame"),
        ("no/such/file.csv", "No such"),
    ],
)
def test_bad_matrices(bad, pattern):
    with pytest.raises(InvalidArgument, match=pattern):
        as_affinity(bad)


def test_mismatched_tasks_named():
    with pytest.raises(InvalidArgument, match=r"not in the matrix \['z'\]"):
        as_affinity(NESTED, tasks=["a", "b", "z"])
    with pytest.raises(InvalidArgument, match="orient"):
        as_affinity(NESTED, orient="rows")
