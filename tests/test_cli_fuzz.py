"""Fuzzing the command line with damaged problems, plans, manifests and checkpoints: every outcome is a result or
one clear error line.

Valid CSV/JSON problems and plans are mutated at random (seeded, so a failure names a reproducible case):
columns dropped, cells of the wrong type, NaN/inf/huge/tiny numbers, truncation, other text encodings, keys
deleted or given values of another type; manifests and checkpoints of a real trained run damaged the same way, and
checkpoint and ONNX bytes cut or flipped, with their checksums fixed up as a tamperer would (issue 25). Each goes
through `solve`, `frontier`, `train --plan`, `predict`, `plan-cost` or `export`. The command may
succeed or fail, but a failure must be one line of the user's kind: no traceback, and no "internal error" (the
CLI's last-resort line for an exception it did not expect, which would be a bug).
"""

from __future__ import annotations

import copy
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import taskgroup as tg
from taskgroup.cli import main

NUMBERS = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 0, -1, 1e-12, 2**63, True]
VALUES = [*NUMBERS, None, "", "abc", "1.5", [], {}, [1, 2], {"a": 1}]


def valid_frame():
    rows = []
    for name, tasks, cost in [
        ("a", "a", 1.0),
        ("b", "b", 1.0),
        ("c", "c", 1.0),
        ("ab", "ab", 1.5),
        ("bc", "bc", 1.5),
        ("abc", "abc", 2.0),
        ("a_half", "a", 0.5),
    ]:
        for t in tasks:
            rows.append(
                {
                    "network": name,
                    "task": t,
                    "loss": round(0.3 + 0.1 * len(tasks) + 0.01 * ord(t) % 7, 3),
                    "cost": cost,
                    "weight": 1.0 + (t == "b"),
                }
            )
    import pandas as pd

    return pd.DataFrame(rows)


def mutate_csv(rng: random.Random) -> bytes:
    frame = valid_frame()
    kind = rng.choice(["drop", "cell", "number", "truncate", "encoding", "header", "blank", "shuffle"])
    if kind == "drop":
        frame = frame.drop(columns=[rng.choice(list(frame.columns))])
    elif kind in ("cell", "number"):
        for _ in range(rng.randint(1, 3)):
            col = rng.choice(list(frame.columns))
            row = rng.randrange(len(frame))
            value = rng.choice(NUMBERS if kind == "number" else VALUES)
            frame[col] = frame[col].astype(object)
            frame.at[row, col] = value
    elif kind == "shuffle":
        frame = frame.sample(frac=1.0, random_state=rng.randrange(1000))
    text = frame.to_csv(index=False)
    if kind == "truncate":
        text = text[: rng.randrange(len(text))]
    elif kind == "header":
        text = text.replace("network,", "network,network,", 1)
    elif kind == "blank":
        lines = text.splitlines()
        lines.insert(rng.randrange(len(lines)), rng.choice(["", ",,,", "#", "\t"]))
        text = "\n".join(lines)
    if kind == "encoding":
        return rng.choice(
            [
                text.encode("utf-16"),
                "\ufeff".encode() + text.encode(),
                text.encode() + b"\xff\xfe\xc3",
                text.replace("a", "\u00e4").encode("latin-1"),
            ]
        )
    return text.encode()


def mutate_document(document, rng: random.Random):
    """Delete a key or replace a value somewhere in a JSON document (nested dicts and lists)."""
    document = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        parent, key = document, None
        while True:
            children = list(parent.items()) if isinstance(parent, dict) else list(enumerate(parent))
            if not children:
                break
            key, child = rng.choice(children)
            if isinstance(child, (dict, list)) and child and rng.random() < 0.6:
                parent = child
                continue
            break
        if key is None:
            continue
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[key]
        else:
            parent[key] = rng.choice(VALUES)
    return document


def damaged_json(document, rng: random.Random) -> bytes:
    text = json.dumps(mutate_document(document, rng))
    if rng.random() < 0.15:
        text = text[: rng.randrange(len(text))]
    if rng.random() < 0.1:
        return text.encode("utf-16")
    return text.encode()


def check_cli(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code != 0:
        assert code == 2, (argv, code, err)
        assert len(err.strip().splitlines()) == 1, (argv, err)


@pytest.mark.parametrize("seed", range(40))
def test_solve_and_frontier_on_damaged_csv(seed, tmp_path, capsys):
    rng = random.Random(seed)
    path = tmp_path / "t.csv"
    path.write_bytes(mutate_csv(rng))
    check_cli(["solve", str(path), "--budget", rng.choice(["1", "2.5", "4", "0.5"])], capsys)
    check_cli(["frontier", str(path)], capsys)


@pytest.mark.parametrize("seed", range(40))
def test_solve_and_frontier_on_damaged_json(seed, tmp_path, capsys):
    rng = random.Random(1000 + seed)
    problem = tg.Problem.from_frame(valid_frame()).to_dict()
    path = tmp_path / "p.json"
    path.write_bytes(damaged_json(problem, rng))
    check_cli(["solve", str(path), "--budget", "3", "--method", rng.choice(["auto", "bnb", "greedy"])], capsys)
    check_cli(["frontier", str(path), "--budgets", "1,2,3"], capsys)


@pytest.fixture(scope="module")
def digits_plan():
    """A valid plan over the digits suite's tasks, so that undamaged fields lead to real training."""
    tasks = ["digit", "odd", "large", "prime", "loop"]
    rows = [{"network": "+".join(g), "task": t, "loss": 0.5, "cost": 1.0} for g in (tasks[:3], tasks[3:]) for t in g]
    return tg.solve(tg.Problem.from_frame(__import__("pandas").DataFrame(rows)), budget=2).to_dict()


@pytest.mark.parametrize("seed", range(25))
def test_train_on_damaged_plans(seed, tmp_path, capsys, digits_plan):
    rng = random.Random(2000 + seed)
    path = tmp_path / "plan.json"
    path.write_bytes(damaged_json(digits_plan, rng))
    check_cli(
        [
            "train",
            "--plan",
            str(path),
            "--suite",
            "digits",
            "--epochs",
            "1",
            "--no-baselines",
            "-q",
            "--out",
            str(tmp_path / "out"),
        ],
        capsys,
    )


@pytest.mark.parametrize("seed", range(3))
def test_real_subprocess_never_prints_a_traceback(seed, tmp_path):
    rng = random.Random(3000 + seed)
    (tmp_path / "t.csv").write_bytes(mutate_csv(rng))
    (tmp_path / "p.json").write_bytes(damaged_json(tg.Problem.from_frame(valid_frame()).to_dict(), rng))
    for args in (["solve", "t.csv", "--budget", "2"], ["frontier", "p.json"]):
        result = subprocess.run(
            [sys.executable, "-m", "taskgroup", *args], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
        assert result.returncode in (0, 2)


# ------------------------------------------------------------------ manifests and checkpoints (issue 25)
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, digits_plan):
    """A real trained run (digits, one epoch) whose manifest and checkpoints the fuzz damages in copies."""
    out = tmp_path_factory.mktemp("fuzz-run") / "run"
    suite = tg.datasets.load_suite("digits")
    plan = tg.Plan.from_dict(digits_plan)
    tg.train.train_plan(plan, suite, out, tg.train.RunConfig(fit=tg.engine.TrainConfig(epochs=1), baselines=False))
    pre = suite.preprocessing
    raw = suite.test.x.numpy()[:4] * np.asarray(pre["std"]) + np.asarray(pre["mean"])
    pd.DataFrame(raw, columns=suite.feature_names).to_csv(out.parent / "rows.csv", index=False)
    return out


def damaged_checkpoint(path, rng: random.Random) -> None:
    """Replace a checkpoint by a damaged one: mutated config fields, bytes cut or flipped, or another object."""
    import torch

    kind = rng.choice(["config", "config", "state", "truncate", "flip", "object"])
    if kind in ("truncate", "flip"):
        data = bytearray(path.read_bytes())
        if kind == "truncate":
            data = data[: rng.randrange(len(data))]
        else:
            for _ in range(rng.randint(1, 20)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        return
    payload = torch.load(path, weights_only=True)
    if kind == "config":
        payload["config"] = mutate_document(payload["config"], rng)
    elif kind == "state":
        name = rng.choice(list(payload["state_dict"]))
        tensor = payload["state_dict"][name]
        payload["state_dict"][name] = rng.choice(
            [tensor[:1], tensor.flip(0), torch.full_like(tensor, float("nan")), tensor.double(), torch.zeros(0)]
        )
    else:
        payload = rng.choice([[1, 2], {"format": "taskgroup.checkpoint/1"}, "text", {"config": {}, "format": 3}])
    torch.save(payload, path)


@pytest.mark.parametrize("seed", range(30))
def test_predict_and_plan_cost_on_damaged_manifests_and_checkpoints(seed, tmp_path, capsys, trained_run):
    """Every damage either still serves (an unchanged field) or is one clear line: no traceback, no internal
    error; checksums are fixed up as a tamperer would, so the content checks behind them are reached."""
    import shutil

    from taskgroup.checkpoints import sha256_file

    rng = random.Random(4000 + seed)
    run = Path(shutil.copytree(trained_run, tmp_path / "run"))
    manifest_path = run / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if rng.random() < 0.5:
        entry = rng.choice(manifest["networks"])
        checkpoint = run / entry["checkpoint"]
        damaged_checkpoint(checkpoint, rng)
        entry["sha256"] = sha256_file(checkpoint)
        manifest_path.write_text(json.dumps(manifest))
    else:
        manifest_path.write_bytes(damaged_json(manifest, rng))
    rows = str(trained_run.parent / "rows.csv")
    check_cli(["predict", "--manifest", str(manifest_path), "--input", rows, "--out", str(tmp_path / "p.csv")], capsys)
    check_cli(
        [
            "plan-cost",
            "--manifest",
            str(manifest_path),
            "--batch",
            rng.choice(["1", "2,4", "1000000000"]),
            "--repeats",
            "2",
            "--json",
            str(tmp_path / "c.json"),
        ],
        capsys,
    )


@pytest.mark.parametrize("seed", range(4))
def test_export_on_damaged_manifests(seed, tmp_path, capsys, trained_run):
    pytest.importorskip("onnxruntime")
    import shutil

    rng = random.Random(5000 + seed)
    run = Path(shutil.copytree(trained_run, tmp_path / "run"))
    manifest = json.loads((run / "manifest.json").read_text())
    (run / "manifest.json").write_bytes(damaged_json(manifest, rng))
    check_cli(["export", "--manifest", str(run / "manifest.json"), "--out", str(tmp_path / "onnx")], capsys)
    # the exported files damaged in turn: truncated or flipped ONNX bytes are one line when served
    exported = tmp_path / "onnx-good"
    if main(["export", "--manifest", str(trained_run / "manifest.json"), "--out", str(exported)]) == 0:
        capsys.readouterr()
        onnx_manifest = json.loads((exported / "manifest.json").read_text())
        entry = onnx_manifest["networks"][0]
        data = bytearray((exported / entry["onnx"]).read_bytes())
        data = data[: rng.randrange(len(data))] if seed % 2 else bytes(b ^ 0xFF for b in data[:64]) + data[64:]
        (exported / entry["onnx"]).write_bytes(bytes(data))
        entry["sha256"] = __import__("hashlib").sha256(bytes(data)).hexdigest()
        (exported / "manifest.json").write_text(json.dumps(onnx_manifest))
        rows = str(trained_run.parent / "rows.csv")
        check_cli(
            [
                "predict",
                "--manifest",
                str(exported / "manifest.json"),
                "--input",
                rows,
                "--out",
                str(tmp_path / "p.csv"),
            ],
            capsys,
        )
