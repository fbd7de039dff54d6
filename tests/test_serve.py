"""From plan to serving (issue 13): ONNX export of every architecture against PyTorch, predictions from raw
inputs (Python and the real `taskgroup` command, checkpoints and ONNX files), every bad-input class with its
exact message, checksums of ONNX files, and the plan's cost on this machine; plus the manifest's own bad-input
cases (issue 9 item 12)."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import taskgroup as tg
from taskgroup.engine import TrainConfig, predict
from taskgroup.errors import ExportError, InvalidArgument, ManifestError, MissingDependency
from taskgroup.plan import Plan, PlanNetwork
from taskgroup.report import plan_cost_section
from taskgroup.serve import export_onnx, measure_plan_cost, read_plan_cost, read_raw_inputs
from taskgroup.serve import predict as serve_predict
from taskgroup.serve.onnx_export import EXPORT_TOLERANCE
from taskgroup.serve.plan_cost import PLAN_NAME
from taskgroup.tasks import TaskSuite
from taskgroup.train import RunConfig, TeacherConfig, predict_tasks, read_manifest, train_plan

FAST = TrainConfig(epochs=3, lr=3e-3, batch_size=64)
COLUMNS = ["x0", "x1", "x2", "x3", "x4"]


def run(*args):
    return subprocess.run([sys.executable, "-m", "taskgroup", *args], capture_output=True, text=True, timeout=300)


def one_error_line(result, message):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def make_plan(networks, assignment):
    return Plan(
        networks=tuple(networks),
        assignment=dict(assignment),
        task_losses={t: 0.0 for t in assignment},
        objective=0.0,
        cost={"cost": float(len(networks))},
        details=tuple(
            PlanNetwork(n, tuple(ts), tuple(t for t in ts if assignment.get(t) == n), {"cost": 1.0 + 0.5 * k})
            for k, (n, ts) in enumerate(networks.items())
        ),
    )


PLAN = make_plan({"r+b": ("r", "b"), "b+m@half": ("b", "m")}, {"r": "r+b", "b": "r+b", "m": "b+m@half"})


@pytest.fixture(scope="module")
def table_suite():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 5)) * [1, 2, 3, 4, 5] + [0, 10, 0, -5, 1]
    targets = {
        "r": 2 * x[:, 0] + 10 + 0.1 * rng.normal(size=240),
        "b": np.where(x[:, 1] > 10, "yes", "no"),
        "m": np.array(["lo", "mid", "hi"], dtype=object)[np.digitize(x[:, 2], [-1.5, 1.5])],
    }
    return TaskSuite.from_arrays(
        x, targets, {"r": "regression", "b": "binary", "m": "multiclass"}, feature_names=COLUMNS, name="tiny"
    )


@pytest.fixture(scope="module")
def image_suite():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(160, 2, 6, 6)) + np.array([0.5, -2.0]).reshape(1, 2, 1, 1)
    targets = {"bright": np.where(x[:, 0].mean(axis=(1, 2)) > 0.5, "light", "dark"), "level": x[:, 1].mean(axis=(1, 2))}
    return TaskSuite.from_arrays(x, targets, {"bright": "binary", "level": "regression"}, name="tiny-images")


def raw_rows(suite, split="val"):
    """The split's raw inputs (before the suite's standardisation), as a user would hold them."""
    pre = suite.preprocessing
    x = suite.split(split).x.numpy().astype(np.float64)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return x * np.asarray(pre["std"]).reshape(shape) + np.asarray(pre["mean"]).reshape(shape)


@pytest.fixture(scope="module")
def mlp_run(table_suite, tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp")
    return Path(train_plan(PLAN, table_suite, out, RunConfig(fit=FAST, baselines=False)).manifest)


@pytest.fixture(scope="module")
def mlp_onnx(mlp_run, table_suite, tmp_path_factory):
    return export_onnx(mlp_run, tmp_path_factory.mktemp("mlp-onnx"), inputs=raw_rows(table_suite))


def trained_manifest(kind, table_suite, image_suite, out):
    if kind == "mmoe":
        config = RunConfig(
            fit=FAST.replace(model="mmoe", options={"n_experts": 2, "expert_hidden": [8]}), baselines=False
        )
        return train_plan(PLAN, table_suite, out, config).manifest, table_suite
    if kind == "distilled":
        config = RunConfig(
            fit=FAST, distill=True, teacher=TeacherConfig(n_teachers=2), teacher_tasks=("m",), baselines=False
        )
        return train_plan(PLAN, table_suite, out, config).manifest, table_suite
    plan = make_plan({"bright+level": ("bright", "level")}, {"bright": "bright+level", "level": "bright+level"})
    config = RunConfig(fit=FAST.replace(model="cnn", hidden=(4, 8)), baselines=False)
    return train_plan(plan, image_suite, out, config).manifest, image_suite


def check_export(manifest_path, onnx_manifest, suite):
    """onnxruntime equals PyTorch on every network and head, at several batch sizes (the batch axis is dynamic)."""
    manifest_path, onnx_manifest = Path(manifest_path), Path(onnx_manifest)
    source, exported = read_manifest(manifest_path), read_manifest(onnx_manifest)
    assert exported["version"] == 2 and source["version"] == 1
    assert exported["export"]["format"] == "onnx" and exported["export"]["tolerance"] == EXPORT_TOLERANCE
    assert exported["assignment"] == source["assignment"] and exported["preprocessing"] == source["preprocessing"]
    x = suite.test.x.numpy()
    for entry in exported["networks"]:
        file = onnx_manifest.parent / entry["onnx"]
        assert entry["sha256"] == tg.checkpoints.sha256_file(file) and "checkpoint" not in entry
        assert set(entry["outputs"]) == set(entry["trained_tasks"])
        assert 0 <= entry["max_abs_diff"] <= 1e-4
        network = tg.train.load_network(manifest_path, entry["name"])
        session = tg.onnx_runtime.onnx_session(file)
        assert [o.name for o in session.get_outputs()] == list(entry["outputs"].values())
        for rows in (x[:1], x[:7], x):
            want = predict(network, rows)
            got = tg.onnx_runtime.run_session(session, entry, rows)
            for task in entry["trained_tasks"]:
                np.testing.assert_allclose(got[task], want[task], **EXPORT_TOLERANCE)
    # the served tasks through the whole manifest: ONNX files and checkpoints agree
    ours, theirs = predict_tasks(onnx_manifest, x), predict_tasks(manifest_path, x)
    for task in source["assignment"]:
        np.testing.assert_allclose(ours[task], theirs[task], **EXPORT_TOLERANCE)


def test_shared_mlp_exports_to_onnx_that_matches_pytorch(mlp_run, mlp_onnx, table_suite):
    check_export(mlp_run, mlp_onnx, table_suite)
    assert read_manifest(mlp_onnx)["export"]["verified_rows"] == len(table_suite.val)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mmoe", "distilled", "cnn"])
def test_every_architecture_exports_to_onnx_that_matches_pytorch(kind, table_suite, image_suite, tmp_path):
    manifest, suite = trained_manifest(kind, table_suite, image_suite, tmp_path / "run")
    if kind == "distilled":
        assert read_manifest(manifest)["distilled"] is True
        assert all(e["checkpoint"].startswith("students/") for e in read_manifest(manifest)["networks"])
    check_export(manifest, export_onnx(manifest, tmp_path / "onnx", inputs=raw_rows(suite)), suite)


def test_export_into_the_manifests_own_folder_is_refused(mlp_run, table_suite):
    with pytest.raises(
        InvalidArgument,
        match=r"is the folder of the manifest being exported; its manifest.json would "
        r"be replaced",
    ):
        export_onnx(mlp_run, mlp_run.parent, inputs=raw_rows(table_suite))


def test_export_verified_on_a_single_row_still_has_a_dynamic_batch_axis(mlp_run, table_suite, tmp_path):
    path = export_onnx(mlp_run, tmp_path / "onnx", inputs=raw_rows(table_suite)[:1])
    assert read_manifest(path)["export"]["verified_rows"] == 1
    x = table_suite.test.x.numpy()
    np.testing.assert_allclose(predict_tasks(path, x)["m"], predict_tasks(mlp_run, x)["m"], **EXPORT_TOLERANCE)


def test_export_without_rows_of_a_custom_suite_asks_for_them(mlp_run, tmp_path):
    with pytest.raises(
        ExportError,
        match=r"The manifest's suite 'tiny' is not a built-in suite .* pass raw validation "
        r"rows \(inputs=..., or --input FILE.csv\|.npy\)",
    ):
        export_onnx(mlp_run, tmp_path / "onnx")


def test_export_rebuilds_a_builtin_suite_from_the_params_its_manifest_records(tmp_path):
    # not the defaults: before the manifest recorded the params, this export asked for raw rows
    suite = tg.datasets.load_suite("digits", tasks=["odd", "large"], seed=3)
    plan = make_plan({"odd+large": ("odd", "large")}, {"odd": "odd+large", "large": "odd+large"})
    manifest = train_plan(plan, suite, tmp_path / "run", RunConfig(fit=FAST, baselines=False)).manifest
    assert read_manifest(manifest)["suite"]["params"] == {"seed": 3, "tasks": ["odd", "large"]}
    path = export_onnx(manifest, tmp_path / "onnx")
    assert read_manifest(path)["export"]["verified_rows"] > 1
    x = suite.test.x.numpy()
    np.testing.assert_allclose(predict_tasks(path, x)["odd"], predict_tasks(manifest, x)["odd"], **EXPORT_TOLERANCE)


@torch.library.custom_op("taskgroup_test::mystery", mutates_args=())
def mystery(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@mystery.register_fake
def _mystery_fake(x):
    return torch.empty_like(x)


mystery.register_autograd(lambda ctx, grad: grad * 2)


class MysteryNet(torch.nn.Module):
    def __init__(self, n_features, tasks):
        super().__init__()
        self.heads = torch.nn.ModuleDict({t.name: torch.nn.Linear(n_features, t.out_dim) for t in tasks})

    def forward(self, x):
        z = mystery(x)
        return {t: head(z) for t, head in self.heads.items()}


def build_mystery(tasks, variant, example_batch):
    return MysteryNet(example_batch.shape[1], tasks)


def test_export_names_the_network_and_the_operator_it_cannot_translate(table_suite, tmp_path):
    plan = make_plan({"r+b": ("r", "b")}, {"r": "r+b", "b": "r+b"})
    config = RunConfig(fit=TrainConfig(model=build_mystery, epochs=1), baselines=False)
    manifest = train_plan(plan, table_suite.subset(["r", "b"]), tmp_path / "run", config).manifest
    with pytest.raises(ExportError) as info:
        export_onnx(manifest, tmp_path / "onnx", inputs=raw_rows(table_suite), model=build_mystery)
    assert str(info.value).startswith(
        "Network 'r+b' cannot be exported to ONNX: operator 'taskgroup_test.mystery' has no ONNX translation"
    )


def test_export_without_the_deploy_extra_names_it(mlp_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an absent package looks like to import
    with pytest.raises(
        MissingDependency,
        match=r"need the package 'onnxruntime', which is not installed; install "
        r"the deploy extra: pip install 'taskgroup\[deploy\]'",
    ):
        export_onnx(mlp_run, tmp_path / "onnx")


def test_tampered_or_missing_onnx_file_fails_its_checksum(mlp_onnx, table_suite, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(mlp_onnx.parent, copy)
    entry = read_manifest(copy / "manifest.json")["networks"][0]
    with open(copy / entry["onnx"], "ab") as f:
        f.write(b"\0")
    name = re.escape(f"The ONNX file {entry['onnx']!r} of network {entry['name']!r}")
    with pytest.raises(
        ManifestError,
        match=name + r" has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}; the "
        r"file was changed or replaced.",
    ):
        predict_tasks(copy / "manifest.json", table_suite.test.x.numpy())
    (copy / entry["onnx"]).unlink()
    with pytest.raises(ManifestError, match=name + " is missing"):
        predict_tasks(copy / "manifest.json", table_suite.test.x.numpy())


# ------------------------------------------------------------------------------------------------ predict
def test_predictions_decode_labels_and_units(mlp_run, table_suite):
    raw = raw_rows(table_suite, "test")
    table = serve_predict(mlp_run, pd.DataFrame(raw, columns=COLUMNS), probabilities=True)
    assert list(table.columns) == ["r", "b", "p(b=no)", "p(b=yes)", "m", "p(m=hi)", "p(m=lo)", "p(m=mid)"]
    outputs = predict_tasks(mlp_run, raw, raw=True)
    spec = table_suite.task("r")
    np.testing.assert_allclose(table["r"], outputs["r"][:, 0] * spec.target_std + spec.target_mean, rtol=1e-6)
    assert list(table["b"]) == ["yes" if z > 0 else "no" for z in outputs["b"][:, 0]]
    assert list(table["m"]) == [["hi", "lo", "mid"][k] for k in outputs["m"].argmax(axis=1)]
    np.testing.assert_allclose(table[["p(m=hi)", "p(m=lo)", "p(m=mid)"]].sum(axis=1), 1.0)
    # the predictions are the trained network's: accuracy on the test split matches the stored test metric
    labels = np.array(table_suite.task("b").classes)[table_suite.test.y[:, 1].long().numpy()]
    assert np.mean(table["b"] == labels) == pytest.approx(
        read_manifest(mlp_run)["networks"][0]["test_metrics"]["b"]["accuracy"]
    )


def test_predict_command_on_raw_csv_equals_the_python_api(mlp_run, mlp_onnx, table_suite, tmp_path):
    raw = pd.DataFrame(raw_rows(table_suite, "test"), columns=COLUMNS)
    raw[COLUMNS[::-1]].to_csv(tmp_path / "raw.csv", index=False)  # column order does not matter, names do
    expected = serve_predict(mlp_run, raw, probabilities=True)
    for manifest in (mlp_run, mlp_onnx):
        result = run(
            "predict",
            "--manifest",
            str(manifest),
            "--input",
            str(tmp_path / "raw.csv"),
            "--out",
            str(tmp_path / "preds.csv"),
            "--probabilities",
            "--threads",
            "1",
        )
        assert result.returncode == 0, result.stderr
        got = pd.read_csv(tmp_path / "preds.csv")
        assert list(got.columns) == list(expected.columns) and len(got) == len(raw)
        assert list(got["b"]) == list(expected["b"]) and list(got["m"]) == list(expected["m"])
        np.testing.assert_allclose(
            got.drop(columns=["b", "m"]), expected.drop(columns=["b", "m"]), rtol=1e-4, atol=1e-5
        )


def test_predict_threads_set_onnxruntimes_thread_counts(mlp_onnx, table_suite, tmp_path, monkeypatch):
    """`taskgroup predict --threads N` gives every onnxruntime session N intra-op threads (and 1 inter-op)."""
    from taskgroup import onnx_runtime
    from taskgroup.cli import main

    real_session, seen = onnx_runtime.onnx_session, []

    def recording_session(path, *, threads=None):
        session = real_session(path, threads=threads)
        options = session.get_session_options()
        seen.append((options.intra_op_num_threads, options.inter_op_num_threads))
        return session

    monkeypatch.setattr(onnx_runtime, "onnx_session", recording_session)
    pd.DataFrame(raw_rows(table_suite, "test"), columns=COLUMNS).to_csv(tmp_path / "raw.csv", index=False)
    torch_threads = torch.get_num_threads()
    try:
        args = ["predict", "--manifest", str(mlp_onnx), "--input", str(tmp_path / "raw.csv")]
        assert main([*args, "--out", str(tmp_path / "p.csv"), "--threads", "3"]) == 0
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(torch_threads)  # the command sets them for the process; leave the others as found
    networks = set(read_manifest(mlp_onnx)["assignment"].values())  # each serving network runs once
    assert len(seen) == len(networks) and set(seen) == {(3, 1)}
    with pytest.raises(InvalidArgument, match="threads=0 is not accepted"):
        serve_predict(mlp_onnx, tmp_path / "raw.csv", threads=0)


def test_image_inputs_come_from_npy_arrays(image_suite, tmp_path):
    plan = make_plan({"bright+level": ("bright", "level")}, {"bright": "bright+level", "level": "bright+level"})
    config = RunConfig(fit=FAST.replace(model="cnn", hidden=(4,)), baselines=False)
    manifest = train_plan(plan, image_suite, tmp_path / "run", config).manifest
    raw = raw_rows(image_suite, "test")
    np.save(tmp_path / "raw.npy", raw)
    table = serve_predict(manifest, tmp_path / "raw.npy")
    assert list(table.columns) == ["bright", "level"] and set(table["bright"]) <= {"dark", "light"}
    outputs = predict_tasks(manifest, image_suite.test.x.numpy())
    spec = image_suite.task("level")
    np.testing.assert_allclose(table["level"], outputs["level"][:, 0] * spec.target_std + spec.target_mean, rtol=1e-4)
    with pytest.raises(InvalidArgument) as info:
        serve_predict(manifest, raw[:, :1])
    assert str(info.value) == (
        "The input array has shape (32, 1, 6, 6); the networks take shape (n, 2, 6, 6), one example per row."
    )
    pd.DataFrame({"a": [1.0]}).to_csv(tmp_path / "table.csv", index=False)
    with pytest.raises(InvalidArgument) as info:
        serve_predict(manifest, tmp_path / "table.csv")
    assert str(info.value) == (
        "These networks take inputs of shape (n, 2, 6, 6), not a table of named columns; pass "
        "an array (a .npy file) of that shape."
    )


def good_frame():
    return pd.DataFrame(np.arange(15, dtype=float).reshape(3, 5), columns=COLUMNS)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda f: f.drop(columns=["x3"]),
            "The input table has no column(s) ['x3']; the networks take exactly the columns "
            "['x0', 'x1', 'x2', 'x3', 'x4'].",
        ),
        (
            lambda f: f.assign(id=[1, 2, 3]),
            "The input table has column(s) ['id'] the networks do not take; they take exactly the columns "
            "['x0', 'x1', 'x2', 'x3', 'x4'] (drop the others).",
        ),
        (
            lambda f: f.assign(x2=["1.5", "abc", "2"]),
            "Column 'x2' of the input table holds 'abc' (data row 2); the networks take numbers in every column.",
        ),
        (
            lambda f: f.assign(x1=[1.0, 2.0, np.nan]),
            "Column 'x1' of the input table has a missing or infinite value (data row 3); "
            "the suite had none and nothing "
            "is filled: fill or drop it.",
        ),
        (lambda f: f.iloc[:0], "The input table has no data rows; there is nothing to predict."),
    ],
    ids=["missing column", "extra column", "text in a number column", "NaN", "no rows"],
)
def test_bad_tables_are_one_clear_error(mlp_run, tmp_path, change, message):
    change(good_frame()).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InvalidArgument) as info:
        read_raw_inputs(tmp_path / "bad.csv", read_manifest(mlp_run))
    assert str(info.value) == message


def test_bad_input_on_the_command_line_is_one_line_and_writes_nothing(mlp_run, tmp_path):
    good_frame().drop(columns=["x3"]).to_csv(tmp_path / "bad.csv", index=False)
    result = run(
        "predict", "--manifest", str(mlp_run), "--input", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "p.csv")
    )
    one_error_line(result, "taskgroup predict: error: The input table has no column(s) ['x3']")
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros((4, 6)), "The input array has shape (4, 6); the networks take shape (n, 5), one example per row."),
        (np.array([[1, 2, 3, 4, "a"]]), "The input array has dtype <U21; the networks take numbers."),
        (
            np.array([[0.0, 1.0, np.inf, 0.0, 0.0]]),
            "The input array has a NaN or infinite value at row 0, position (2,); "
            "the suite had none and nothing is filled.",
        ),
    ],
    ids=["wrong shape", "text", "infinite"],
)
def test_bad_arrays_are_one_clear_error(mlp_run, tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(InvalidArgument) as info:
        read_raw_inputs(tmp_path / "bad.npy", read_manifest(mlp_run))
    assert str(info.value) == message


def test_unknown_input_suffix_is_named(mlp_run, tmp_path):
    (tmp_path / "rows.parquet").write_bytes(b"x")
    with pytest.raises(InvalidArgument, match=r"has suffix '.parquet'; accepted: \['.csv', '.npy'\]"):
        read_raw_inputs(tmp_path / "rows.parquet", read_manifest(mlp_run))


# ------------------------------------------------------------------------------------------------ plan cost
def test_plan_cost_measures_every_network_and_the_whole_plan(mlp_run, tmp_path):
    out = tmp_path / "cost.json"
    result = run(
        "plan-cost",
        "--manifest",
        str(mlp_run),
        "--batch",
        "1,16",
        "--repeats",
        "5",
        "--threads",
        "1",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    assert "whole plan" in result.stdout and "torch, 1 thread(s), 5 repeats" in result.stdout
    table = read_plan_cost(out)
    assert table.attrs["threads"] == 1 and table.attrs["runtime"] == "torch"
    assert list(table["network"]) == ["r+b", "b+m@half", PLAN_NAME] * 2 and list(table["batch"]) == [1] * 3 + [16] * 3
    assert (table["latency_ms_p95"] >= table["latency_ms_median"]).all() and (table["latency_ms_median"] > 0).all()
    np.testing.assert_allclose(table["throughput_rows_s"], 1000 * table["batch"] / table["latency_ms_median"])
    manifest = {e["name"]: e for e in read_manifest(mlp_run)["networks"]}
    for row in table.itertuples():
        if row.network != PLAN_NAME:
            entry = manifest[row.network]
            assert row.chosen_params == entry["params"] and row.chosen_flops == entry["flops"]
            # parameters (float32) plus a batch's input and activations
            assert row.peak_memory_bytes > 4 * entry["params"] + 4 * 5 * row.batch
    # the plan's own costs (from run.json) sit beside the measurements: 1.0 and 1.5, 2.5 for the whole plan
    assert list(table["plan_cost:cost"][:3]) == [1.0, 1.5, 2.5]
    plan_rows = table[table["network"] == PLAN_NAME].set_index("batch")
    nets = table[table["network"] != PLAN_NAME].groupby("batch")
    # both networks' weights are held at once, the activations of one at a time
    assert (plan_rows["peak_memory_bytes"] < nets["peak_memory_bytes"].sum()).all()
    assert (plan_rows["peak_memory_bytes"] > nets["peak_memory_bytes"].max()).all()


def test_plan_cost_of_onnx_files_and_bad_batches(mlp_onnx):
    table = measure_plan_cost(mlp_onnx, (1, 8), repeats=3, threads=1)
    assert table.attrs["runtime"] == "onnxruntime" and table["peak_memory_bytes"].isna().all()
    assert list(table["plan_cost:cost"][:3]) == [1.0, 1.5, 2.5]  # from the run the export came from
    assert (table["latency_ms_median"] > 0).all()
    with pytest.raises(InvalidArgument, match=r"batches must be positive integers like \(1, 32, 256\); got \[0\]"):
        measure_plan_cost(mlp_onnx, [0])
    one_error_line(
        run("plan-cost", "--manifest", str(mlp_onnx), "--batch", "1,x"),
        "--batch must be comma-separated positive integers like 1,32,256; got '1,x'.",
    )


def test_the_report_shows_the_plan_cost_table(mlp_run):
    folder = mlp_run.parent
    assert plan_cost_section(folder) == ""
    table = measure_plan_cost(mlp_run, (2,), repeats=2, threads=1)
    tg.serve.write_plan_cost(table, folder / "plan_cost.json")
    try:
        section = plan_cost_section(folder)
        assert section.startswith("<h2>Cost on this machine</h2>") and "whole plan" in section
        assert "latency_ms_p95" in section and "plan_cost:cost" in section
    finally:
        (folder / "plan_cost.json").unlink()


# ------------------------------------------------------------------------------------------------ manifest
def edited_copy(manifest, tmp_path, edit):
    """A copy of the run folder whose manifest is changed by ``edit(data)``."""
    data = json.loads(manifest.read_text())
    edit(data)
    shutil.copytree(manifest.parent, tmp_path, dirs_exist_ok=True)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(data))
    return path


def test_manifest_entry_without_sha256_is_a_manifest_error(mlp_run, tmp_path):
    path = edited_copy(mlp_run, tmp_path, lambda d: d["networks"][1].pop("sha256"))
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    assert str(info.value).endswith(
        "networks[1] has no field 'sha256'; fields present: "
        + str(sorted(k for k in json.loads(path.read_text())["networks"][1]))
        + "."
    )
    one_error_line(
        run("predict", "--manifest", str(path), "--input", str(path), "--out", str(tmp_path / "p.csv")),
        "networks[1] has no field 'sha256'",
    )


def test_manifest_fields_of_the_wrong_type_are_named(mlp_run, tmp_path):
    path = edited_copy(mlp_run, tmp_path, lambda d: d["networks"][0].update(sha256=5))
    with pytest.raises(ManifestError, match=r"networks\[0\].sha256 must be a string; got 5 \(int\)."):
        read_manifest(path)
    path = edited_copy(mlp_run, tmp_path, lambda d: d["assignment"].update(r="nope"))
    with pytest.raises(ManifestError, match=r"assignment names network\(s\) \['nope'\] that its networks"):
        read_manifest(path)
    path = edited_copy(mlp_run, tmp_path, lambda d: d["networks"].append(d["networks"][0]))
    with pytest.raises(ManifestError, match=r"networks lists \['r\+b'\] more than once; each network is listed once."):
        read_manifest(path)
    path = edited_copy(mlp_run, tmp_path, lambda d: d.update(version=3))
    with pytest.raises(ManifestError, match=r"Unsupported manifest version 3; this taskgroup reads versions \[1, 2\]."):
        read_manifest(path)


def test_manifest_path_that_is_a_folder_is_one_line(mlp_run, tmp_path):
    folder = mlp_run.parent
    with pytest.raises(ManifestError, match="is a folder; expected a file"):
        read_manifest(folder)
    one_error_line(
        run("plan-cost", "--manifest", str(folder)), f"The manifest {str(folder)!r} is a folder; expected a file."
    )


def test_deleted_checkpoint_is_reported_missing(mlp_run, tmp_path):
    shutil.copytree(mlp_run.parent, tmp_path / "run")
    entry = read_manifest(tmp_path / "run" / "manifest.json")["networks"][0]
    (tmp_path / "run" / entry["checkpoint"]).unlink()
    with pytest.raises(ManifestError) as info:
        tg.train.load_network(tmp_path / "run" / "manifest.json", entry["name"])
    assert str(info.value).startswith(
        f"The checkpoint file {entry['checkpoint']!r} of network {entry['name']!r} is missing (expected at "
    )


def test_raw_categorical_columns_are_encoded_as_the_suite_encoded_them():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=90),
            "colour": rng.choice(["red", "green", "blue"], size=90),
            "shop": rng.choice(["north", "south"], size=90),
            "y": rng.normal(size=90),
        }
    )
    suite = TaskSuite.from_frame(frame, {"y": "regression"}, name="shops")
    manifest = {
        "feature_names": list(suite.feature_names),
        "input_shape": [len(suite.feature_names)],
        "input_dtype": "float32",
    }
    assert "colour=red" in manifest["feature_names"] and "colour" not in manifest["feature_names"]
    raw = read_raw_inputs(frame.drop(columns=["y"]).sample(frac=1.0, axis=1, random_state=0), manifest)
    # the suite's own inputs before its standardisation (split order), matched to the table's rows by "size"
    x = np.concatenate([raw_rows(suite, s) for s in ("train", "val", "test")])
    size = manifest["feature_names"].index("size")
    rows = [int(np.argmin(np.abs(raw[:, size] - v))) for v in x[:, size]]
    assert sorted(rows) == list(range(90))
    np.testing.assert_allclose(raw[rows], x, atol=1e-5)
    with pytest.raises(InvalidArgument) as info:
        read_raw_inputs(frame.drop(columns=["y"]).assign(colour=["red", "pink"] * 45), manifest)
    assert str(info.value) == (
        "Categorical column 'colour' of the input table holds 'pink' (data row 2), a category "
        "the suite never had; known: ['blue', 'green', 'red']."
    )
    with pytest.raises(
        InvalidArgument,
        match=r"the networks take exactly the columns \[.*\], or the categorical "
        r"column\(s\) \['colour', 'shop'\] in place of their c=value columns\.",
    ):
        read_raw_inputs(frame.drop(columns=["y", "shop"]), manifest)


def test_a_manifest_without_the_inputs_fields_names_the_missing_one(mlp_run, tmp_path):
    path = edited_copy(mlp_run, tmp_path, lambda d: d.pop("input_shape"))
    with pytest.raises(ManifestError, match=r"^The manifest has no field 'input_shape'; fields present: \["):
        predict_tasks(path, np.zeros((2, 5)))
