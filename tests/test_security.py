"""Files that are not ours and code that is not ours (issue 25), through the real `taskgroup` command.

(S1) a checkpoint naming a module never gets it imported; (S2) manifest paths stay inside the manifest's folder
and no outside file's checksum is printed; (S3, S4) links planted in output folders are never written through;
(S5) sizes a manifest or checkpoint controls are bounded before work starts; and output folders holding files
taskgroup did not write, or inputs of the same command, are never overwritten.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import taskgroup as tg
from taskgroup.checkpoints import sha256_file
from taskgroup.cli import main
from taskgroup.errors import InvalidArgument, InvalidSuite, ManifestError
from taskgroup.outputs import LISTING, claim_folder, output_path
from taskgroup.train import RunConfig, load_checkpoint, predict_tasks, read_manifest, train_plan

FAST = tg.engine.TrainConfig(epochs=1, batch_size=64)


def run(*args, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(Path(tg.__file__).parent.parent)}
    return subprocess.run(
        [sys.executable, "-m", "taskgroup", *args], capture_output=True, text=True, cwd=cwd, timeout=300, env=env
    )


def cli(capsys, *args):
    """The command in this process (no interpreter start-up): its exit status and stderr."""
    code = main(list(args))
    return SimpleNamespace(returncode=code, stderr=capsys.readouterr().err)


def one_error_line(result, message):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


@pytest.fixture(scope="module")
def suite():
    return tg.datasets.load_suite("digits", tasks=["odd", "large", "loop"])


@pytest.fixture(scope="module")
def trained(suite, tmp_path_factory):
    import pandas as pd

    rows = [{"network": "odd+large", "task": t, "loss": 0.5, "cost": 1.0} for t in ("odd", "large")]
    rows += [{"network": "loop", "task": "loop", "loss": 0.5, "cost": 1.0}]
    plan = tg.solve(tg.Problem.from_frame(pd.DataFrame(rows)), budget=2)
    out = tmp_path_factory.mktemp("trained") / "run"
    return Path(train_plan(plan, suite, out, RunConfig(fit=FAST, baselines=False)).manifest)


@pytest.fixture
def copy(trained, tmp_path):
    """A private copy of the trained run, free to tamper with."""
    return Path(shutil.copytree(trained.parent, tmp_path / "copy")) / "manifest.json"


def rewrite_checkpoint(manifest_path, change):
    """Change the first network's checkpoint payload and fix the manifest's sha256, as an attacker would."""
    manifest = json.loads(manifest_path.read_text())
    entry = manifest["networks"][0]
    path = manifest_path.parent / entry["checkpoint"]
    payload = torch.load(path, weights_only=True)
    change(payload)
    torch.save(payload, path)
    entry["sha256"] = sha256_file(path)
    manifest_path.write_text(json.dumps(manifest))
    return entry


def raw_csv(suite, path):
    import pandas as pd

    pre = suite.preprocessing
    x = suite.test.x.numpy()[:5] * np.asarray(pre["std"]) + np.asarray(pre["mean"])
    pd.DataFrame(x, columns=suite.feature_names).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------ S1: no import of a module a file names
def test_a_checkpoint_naming_a_module_never_imports_it(copy, suite, tmp_path):
    (tmp_path / "evil.py").write_text(
        "import pathlib\npathlib.Path('pwned').write_text('ran')\ndef build(*a):\n    pass\n"
    )
    rewrite_checkpoint(copy, lambda p: p["config"].update(model="evil:build"))
    result = run(
        "predict",
        "--manifest",
        str(copy),
        "--input",
        str(raw_csv(suite, tmp_path / "x.csv")),
        "--out",
        "p.csv",
        cwd=tmp_path,
    )
    one_error_line(result, "which is not a built-in family")
    assert "--model evil:build" in result.stderr
    assert not (tmp_path / "pwned").exists()
    with pytest.raises(ManifestError, match="does not import code a file names"):
        load_checkpoint(copy.parent / read_manifest(copy)["networks"][0]["checkpoint"])
    assert "evil" not in sys.modules


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"kind": "nope"}, "has kind 'nope'; accepted kinds"),
        ({"kind": "regression", "n_classes": 2}, "cannot have n_classes=2"),
        ({"n_classes": "many"}, "n_classes must be an integer"),
    ],
)
def test_a_checkpoints_bad_task_spec_is_a_manifest_error(copy, spec, message):
    rewrite_checkpoint(copy, lambda p: p["config"]["tasks"][0].update(spec))
    with pytest.raises(ManifestError, match=message):
        load_checkpoint(copy.parent / read_manifest(copy)["networks"][0]["checkpoint"])


def test_the_factory_the_user_names_is_used(copy, suite, tmp_path, capsys, monkeypatch):
    # --model is the user's explicit choice: the factory of the checkpoint's family, named by module:function
    (tmp_path / "mine_factory.py").write_text(
        "from taskgroup.engine.families import make_factory\nbuild = make_factory('mlp')\n"
    )
    monkeypatch.chdir(tmp_path)  # as `python -m taskgroup` run there: its folder is searched for --model
    monkeypatch.setattr(sys, "path", list(sys.path))
    rewrite_checkpoint(copy, lambda p: p["config"].update(model="mine_factory:build", options={}))
    args = ["predict", "--manifest", str(copy), "--input", str(raw_csv(suite, tmp_path / "x.csv")), "--out", "p.csv"]
    one_error_line(cli(capsys, *args), "which is not a built-in family")
    assert "mine_factory" not in sys.modules
    assert cli(capsys, *args, "--model", "mine_factory:build").returncode == 0
    assert len((tmp_path / "p.csv").read_text().splitlines()) == 6


# ------------------------------------------------------------------ S2: paths confined to the manifest's folder
@pytest.mark.parametrize("where", ["/etc/hostname", "../../../../../../../etc/hostname", "outside"])
def test_manifest_paths_outside_its_folder_are_refused_without_their_checksum(copy, tmp_path, where, capsys):
    target = Path("/etc/hostname")
    if where == "outside":  # a link inside the folder that leads out of it
        os.symlink(target, copy.parent / "networks" / "link.pt")
        where = "networks/link.pt"
    manifest = json.loads(copy.read_text())
    manifest["networks"][0]["checkpoint"] = where
    copy.write_text(json.dumps(manifest))
    result = cli(
        capsys,
        "plan-cost",
        "--manifest",
        str(copy),
        "--batch",
        "1",
        "--repeats",
        "1",
        "--json",
        str(tmp_path / "c.json"),
    )
    one_error_line(result, "is outside the manifest's folder")
    if target.exists():
        assert hashlib.sha256(target.read_bytes()).hexdigest() not in result.stderr


# ------------------------------------------------------------------ S3/S4: links in output folders
def test_export_never_writes_through_a_planted_link(trained, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "onnx"
    out.mkdir()
    os.symlink(victim, out / "manifest.json")
    one_error_line(cli(capsys, "export", "--manifest", str(trained), "--out", str(out)), "symbolic link")
    assert victim.read_text() == "precious"
    # --force writes into foreign folders, never through links
    one_error_line(cli(capsys, "export", "--manifest", str(trained), "--out", str(out), "--force"), "symbolic link")
    assert victim.read_text() == "precious"


def test_run_and_train_never_write_through_a_planted_link(tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for command in (["run", "--suite", "digits", "--epochs", "1"], ["train", "--plan", "p.json", "--suite", "digits"]):
        out = tmp_path / command[0]
        (out / "networks").mkdir(parents=True)
        os.symlink(victim, out / "networks" / "x.pt")
        os.symlink(victim, out / "plan.json")
        (tmp_path / "p.json").write_text(tg.Plan.from_dict(_digits_plan()).to_json())
        command = [str(tmp_path / "p.json") if c == "p.json" else c for c in command]
        one_error_line(cli(capsys, *command, "--out", str(out), "--force"), "symbolic link")
        assert victim.read_text() == "precious"


def _digits_plan():
    import pandas as pd

    rows = [{"network": "odd+large", "task": t, "loss": 0.5, "cost": 1.0} for t in ("odd", "large")]
    return tg.solve(tg.Problem.from_frame(pd.DataFrame(rows)), budget=1).to_dict()


def test_output_path_refuses_a_link_planted_after_the_claim(tmp_path):
    out = claim_folder(tmp_path / "out", "run")
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", out / "networks")
    with pytest.raises(InvalidArgument, match="symbolic link"):
        output_path(out, "networks/a.pt")
    os.symlink(tmp_path / "victim", out / "plan.json")
    with pytest.raises(InvalidArgument, match="symbolic link"):
        output_path(out, "plan.json")


def test_atomic_write_replaces_a_link_rather_than_following_it(tmp_path):
    from taskgroup.files import atomic_write

    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.symlink(victim, tmp_path / "f")
    with pytest.raises(InvalidArgument, match="symbolic link"):
        atomic_write(tmp_path / "f", lambda p: p.write_text("x"))
    assert victim.read_text() == "precious"


# ------------------------------------------------------------------ data that must not be lost
def test_run_refuses_a_folder_holding_files_it_did_not_write(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    for name in ("plan.json", "report.html", "problem.csv", "results.db"):
        (out / name).write_text(f"my own {name}")
    one_error_line(
        cli(capsys, "run", "--suite", "digits", "--epochs", "1", "--out", str(out)),
        "holds files taskgroup did not write",
    )
    assert all(
        (out / n).read_text() == f"my own {n}" for n in ("plan.json", "report.html", "problem.csv", "results.db")
    )


def test_export_refuses_another_runs_folder(trained, capsys):
    pytest.importorskip("onnxruntime")
    before = trained.read_bytes()
    one_error_line(
        cli(capsys, "export", "--manifest", str(trained), "--out", str(trained.parent)), "folder of the manifest"
    )
    other = Path(str(trained.parent) + "-other")
    shutil.copytree(trained.parent, other)
    one_error_line(cli(capsys, "export", "--manifest", str(trained), "--out", str(other)), "is a run folder")
    assert (other / "manifest.json").read_bytes() == before


def test_a_folder_taskgroup_wrote_is_resumed_and_force_takes_a_foreign_one(tmp_path):
    out = claim_folder(tmp_path / "out", "run")
    output_path(out, "plan.json").write_text("{}")
    output_path(out, "networks/a.pt").write_text("x")
    output_path(out, "results.db").write_text("")
    (out / "results.db-journal").write_text("")  # SQLite's own file beside a store we wrote
    assert claim_folder(out, "run") == out  # everything in it is ours
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InvalidArgument, match=r"did not write there \(\['notes.txt'\]\)"):
        claim_folder(out, "run")
    claim_folder(out, "run", force=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert "notes.txt" not in json.loads((out / LISTING).read_text())["written"]


def test_plan_cost_never_writes_over_the_manifest_it_reads(copy, capsys):
    before = copy.read_bytes()
    one_error_line(
        cli(capsys, "plan-cost", "--manifest", str(copy), "--batch", "1", "--json", str(copy)),
        "is the file this command reads",
    )
    assert copy.read_bytes() == before


def test_predict_writes_only_csv_files_and_never_its_inputs(copy, suite, tmp_path, capsys):
    store = tmp_path / "results.db"
    store.write_bytes(b"SQLite format 3\x00")
    raw = raw_csv(suite, tmp_path / "x.csv")
    one_error_line(
        cli(capsys, "predict", "--manifest", str(copy), "--input", str(raw), "--out", str(store)),
        "must be a .csv file name",
    )
    assert store.read_bytes() == b"SQLite format 3\x00"
    before = raw.read_bytes()
    one_error_line(
        cli(capsys, "predict", "--manifest", str(copy), "--input", str(raw), "--out", str(raw)),
        "is the file this command reads",
    )
    assert raw.read_bytes() == before


# ------------------------------------------------------------------ S5 and content: what a file decides
def test_suite_sizes_from_a_manifest_are_bounded_before_any_data_is_made(copy, capsys):
    pytest.importorskip("onnxruntime")
    manifest = json.loads(copy.read_text())
    for params in ({"n_samples": 3_000_000}, {"n_samples": 1e9}, {"n_samples": 10**9}):
        manifest["suite"] = {"name": "synthetic", "fingerprint": "x", "params": params}
        copy.write_text(json.dumps(manifest))
        result = cli(capsys, "export", "--manifest", str(copy), "--out", str(copy.parent.parent / "onnx"))
        assert result.returncode == 2 and "internal error" not in result.stderr, result.stderr
    with pytest.raises(InvalidSuite, match="at most 20,000,000 are accepted"):
        tg.datasets.load_suite("synthetic", n_samples=3_000_000)
    with pytest.raises(InvalidSuite, match="clusters=\\[100\\] make 100 tasks; at most 26"):
        tg.datasets.load_suite("synthetic", clusters=[100])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p["config"].update(options={"hidden": [10**7]}), "each must be at most 65536"),
        (lambda p: p["config"].update(input_shape=[10**5, 10**5]), "at most 16777216 are accepted"),
        (lambda p: p["config"].update(input_shape="64"), "input_shape must be a JSON array"),
        (lambda p: p["config"]["tasks"][0].update(n_classes=10**9), "n_classes must be 0 to 65536"),
        (lambda p: p["config"].pop("tasks"), "has no field 'tasks'"),
        (lambda p: p.update(config=[1]), "config must be a JSON object"),
        (lambda p: p["config"].update(input_dtype="int64"), "input_dtype must be a float type"),
        (lambda p: p["state_dict"].update(extra=torch.zeros(3)), "cannot be rebuilt from its config"),
    ],
)
def test_checkpoint_configs_are_checked_and_bounded(copy, change, message):
    rewrite_checkpoint(copy, change)
    with pytest.raises(ManifestError, match=message.replace("[", r"\[").replace("(", r"\(")):
        predict_tasks(copy, np.zeros((2, 64), dtype=np.float32))


def test_nan_weights_are_refused_by_name(copy, tmp_path, suite, capsys):
    def poison(payload):
        name = next(iter(payload["state_dict"]))
        payload["state_dict"][name] = torch.full_like(payload["state_dict"][name], float("nan"))

    rewrite_checkpoint(copy, poison)
    result = cli(
        capsys,
        "predict",
        "--manifest",
        str(copy),
        "--input",
        str(raw_csv(suite, tmp_path / "x.csv")),
        "--out",
        str(tmp_path / "p.csv"),
    )
    one_error_line(result, "has weights that are not finite (NaN or inf)")
    assert not (tmp_path / "p.csv").exists()


def test_a_checkpoint_of_another_network_is_refused_before_export_or_serving(copy, tmp_path, capsys):
    manifest = json.loads(copy.read_text())
    first, second = manifest["networks"]
    first["checkpoint"], first["sha256"] = second["checkpoint"], second["sha256"]
    copy.write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="does not belong to network"):
        predict_tasks(copy, np.zeros((2, 64), dtype=np.float32))
    if shutil.which("true") and __import__("importlib").util.find_spec("onnxruntime"):
        one_error_line(
            cli(capsys, "export", "--manifest", str(copy), "--out", str(tmp_path / "onnx")),
            "does not belong to network",
        )


@pytest.mark.parametrize("damage", ["truncate", "garbage", "zip", "pickle"])
def test_damaged_checkpoints_are_one_line(copy, tmp_path, suite, damage, capsys):
    manifest = json.loads(copy.read_text())
    entry = manifest["networks"][0]
    path = copy.parent / entry["checkpoint"]
    data = path.read_bytes()
    new = {
        "truncate": data[: len(data) // 2],
        "garbage": os.urandom(2000),
        "zip": b"PK\x03\x04" + os.urandom(100),
        "pickle": __import__("pickle").dumps({"format": "taskgroup.checkpoint/1", "config": 5}),
    }[damage]
    path.write_bytes(new)
    entry["sha256"] = sha256_file(path)
    copy.write_text(json.dumps(manifest))
    result = cli(
        capsys,
        "predict",
        "--manifest",
        str(copy),
        "--input",
        str(raw_csv(suite, tmp_path / "x.csv")),
        "--out",
        str(tmp_path / "p.csv"),
    )
    one_error_line(result, "checkpoint")
