"""Distillation that pays? A plan compressed into one network, MT-DNN-KD as the paper set it, Hinton's ensembles.

Part of ``benchmarks/train.py`` (which writes ``benchmarks/results/train.md``); also runnable alone:

    python -m benchmarks.train --only distill [--quick]

Every unit (a trained plan, a vanilla or distilled network) is cached under ``$TASKGROUP_DISTILL_CACHE``
(default ``/work/cache/distill``, a folder per configuration hash), so an interrupted run resumes where it stopped;
a quick run caches in a temporary folder of its own, so that it trains every unit.
Per seed (seed = the suite's split, initial weights, batch order):

(a) ``plan``: the default ``taskgroup run`` plan on mnist, ``digit+odd+large+prime, slant`` (cost 2), trained by
    :func:`taskgroup.train.train_plan` with its single-task baselines (the reference of Δm%). Its two networks
    teach an all-in-one student (cost 1) on every row of the training split (odd, large, prime are labelled on 40
    of 3000 images), at several temperatures T and soft weights w. The vanilla all-in-one network has the same
    seed and batches and no soft targets.
(b) ``mtdnn``: MT-DNN-KD's setting: the teacher of each label task is an ensemble of 3 multi-task networks (the
    plan's ``digit+odd+large+prime`` network trained with 3 seeds), slant has no teacher, the student averages
    hard and soft loss (w = 0.5), at T = 1 (the paper) and higher T.
(c) ``hinton``: Hinton et al. 2015: an ensemble of 5 single-task ``digit`` networks (dropout 0.1 / 0.2 / 0.3)
    distilled into one network of the same size on ``digits`` (scikit-learn's 8x8 digits, mlp), at T = 1 .. 8.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import study_cache
from benchmarks.train_mmoe import ci95, fmt
from taskgroup.datasets.suites import load_suite
from taskgroup.engine import TrainConfig, derive_seed
from taskgroup.engine.defaults import default_train_config
from taskgroup.plan import Plan, PlanNetwork
from taskgroup.tasks import TaskSuite, delta_m
from taskgroup.train import RunConfig, TeacherConfig, train_plan
from taskgroup.train.compress import all_in_one_plan, distill_scores, train_networks
from taskgroup.train.distill import Teachers, plan_teachers, single_task_teachers

TITLE = "2. Distillation: a plan compressed into one network, MT-DNN-KD, Hinton's ensembles"

CACHE_VARIABLE = "TASKGROUP_DISTILL_CACHE"
SEEDS = tuple(range(5))
PLAN_NETWORKS = {"digit+odd+large+prime": ("digit", "odd", "large", "prime"), "slant": ("slant",)}
LABEL_TASKS = ("digit", "odd", "large", "prime")
EXTRA_TEACHER_SEEDS = 2  # (b): the 4-task network trained with 2 more seeds, an ensemble of 3


@dataclass(frozen=True)
class Setting:
    """One student: which teachers, which temperature and soft weight."""

    case: str  # "plan" (a) or "mtdnn" (b)
    temperature: float
    soft_weight: float

    @property
    def label(self) -> str:
        return f"{self.case}-T{self.temperature:g}-w{self.soft_weight:g}"


PRIMARY = (
    Setting("plan", 1.0, 0.5),
    Setting("plan", 2.0, 0.5),
    Setting("plan", 4.0, 0.5),
    Setting("mtdnn", 1.0, 0.5),
    Setting("mtdnn", 2.0, 0.5),
)
# trained last, and left out with TASKGROUP_DISTILL_SKIP_OPTIONAL=1 when the machine is too busy to finish them
OPTIONAL = (Setting("mtdnn", 4.0, 0.5), Setting("plan", 2.0, 0.9))
HINTON_TEMPERATURES = (1.0, 2.0, 4.0, 8.0)
HINTON_TEACHERS = 5
HINTON_SOFT_WEIGHT = 0.9  # Hinton et al.: a much lower weight on the hard labels works best


@functools.lru_cache(maxsize=len(SEEDS))
def mnist(seed: int) -> TaskSuite:
    """The default mnist suite split with ``seed`` (loading takes tens of seconds on a busy machine: once per
    process and seed)."""
    return load_suite("mnist", seed=seed)


def cache() -> Path:
    """The cache folder, read when used: a quick run points worker processes at its own through the environment."""
    return Path(os.environ.get(CACHE_VARIABLE, "/work/cache/distill"))


def mnist_fit(quick: bool) -> TrainConfig:
    """The default run's training of mnist networks (cnn, image settings, 30 epochs); 2 epochs when quick."""
    return default_train_config(None, "cnn", epochs=2 if quick else 30)


def _hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:10]


def folder(seed: int, quick: bool) -> Path:
    """The cache folder of one seed (keyed by the training configuration, so other settings never mix)."""
    return cache() / f"mnist-{_hash(mnist_fit(quick).to_dict())}{'-quick' if quick else ''}" / f"seed{seed}"


def plan_of(networks: dict[str, tuple[str, ...]]) -> Plan:
    """A plan whose networks each serve the tasks they are trained on."""
    return Plan(
        networks=tuple(networks),
        assignment={t: n for n, ts in networks.items() for t in ts},
        task_losses={t: 0.0 for ts in networks.values() for t in ts},
        objective=0.0,
        cost={"networks": float(len(networks))},
        details=tuple(PlanNetwork(n, ts, ts, {"networks": 1.0}) for n, ts in networks.items()),
    )


def teacher_unit(seed: int, k: int, quick: bool) -> str:
    """Train the plan (k = 0: both networks and the baselines; k > 0: the 4-task network, another seed)."""
    torch.set_num_threads(1)
    suite = mnist(seed)
    fit = mnist_fit(quick)
    if k == 0:
        config = RunConfig(fit, seed=seed)
        report = train_plan(plan_of(PLAN_NETWORKS), suite, folder(seed, quick) / "plan", config)
    else:
        config = RunConfig(fit, seed=derive_seed(seed, "teacher seed", k), baselines=False)
        labels = {"digit+odd+large+prime": LABEL_TASKS}
        report = train_plan(plan_of(labels), suite, folder(seed, quick) / f"plan-k{k}", config)
    return report.manifest


def teachers_for(setting_case: str, seed: int, quick: bool) -> Teachers:
    """The teachers of case (a) (the plan, one seed) or (b) (3 seeds of the 4-task network, label tasks only)."""
    suite = mnist(seed)
    base = folder(seed, quick)
    if setting_case == "plan":
        return plan_teachers([base / "plan" / "manifest.json"], suite)
    manifests = [base / "plan" / "manifest.json"] + [
        base / f"plan-k{k}" / "manifest.json" for k in range(1, EXTRA_TEACHER_SEEDS + 1)
    ]
    return plan_teachers(manifests, suite, tasks=LABEL_TASKS)


def student_unit(seed: int, setting: Setting | None, quick: bool) -> dict[str, Any]:
    """Train (or load) the all-in-one student of ``setting`` (None: the vanilla network); return its metrics."""
    torch.set_num_threads(1)
    suite = mnist(seed)
    fit = mnist_fit(quick)
    plan = all_in_one_plan(suite.task_names)
    if setting is None:
        metrics, _ = train_networks(plan, suite, folder(seed, quick) / "vanilla", fit, seed=seed)
    else:
        fit = fit.replace(temperature=setting.temperature, soft_weight=setting.soft_weight)
        teachers = teachers_for(setting.case, seed, quick)
        metrics, _ = train_networks(plan, suite, folder(seed, quick) / setting.label, fit, seed=seed, teachers=teachers)
    return next(iter(metrics.values()))


def hinton_unit(seed: int, quick: bool) -> dict[str, Any]:
    """(c): a 5-network digit ensemble into one network at each temperature, and the vanilla network."""
    torch.set_num_threads(1)
    suite = load_suite("digits", seed=seed).subset(["digit"])
    fit = TrainConfig(hidden=(64, 64), epochs=3 if quick else 100, patience=15, lr=1e-3, batch_size=64)
    base = cache() / f"hinton-{_hash(fit.to_dict())}{'-quick' if quick else ''}" / f"seed{seed}"
    base.mkdir(parents=True, exist_ok=True)
    path = base / "teachers.npz"
    if path.exists():
        teachers = Teachers.load(path)
    else:
        teachers = single_task_teachers(
            suite, ["digit"], config=fit, teacher=TeacherConfig(HINTON_TEACHERS), seed=derive_seed(seed, "teachers")
        )
        teachers.save(path)
    plan = all_in_one_plan(["digit"])
    result = {"seed": seed, "teachers": teachers.metrics(suite)["digit"]}
    result["vanilla"] = next(iter(train_networks(plan, suite, base / "vanilla", fit, seed=seed)[0].values()))["digit"]
    for t in HINTON_TEMPERATURES:
        student_fit = fit.replace(temperature=t, soft_weight=HINTON_SOFT_WEIGHT)
        metrics, _ = train_networks(plan, suite, base / f"T{t:g}", student_fit, seed=seed, teachers=teachers)
        result[f"T{t:g}"] = next(iter(metrics.values()))["digit"]
    return result


def collect(seed: int, settings: Sequence[Setting], quick: bool) -> dict[str, Any]:
    """One seed's test metrics of everything (every unit cached by then)."""
    suite = mnist(seed)
    plan_report = json.loads((folder(seed, quick) / "plan" / "results.json").read_text())
    return {
        "seed": seed,
        "baselines": plan_report["baselines"],
        "plan": plan_report["multitask"],
        "vanilla": student_unit(seed, None, quick),
        "teachers": {case: teachers_for(case, seed, quick).metrics(suite) for case in ("plan", "mtdnn")},
        "students": {x.label: student_unit(seed, x, quick) for x in settings},
    }


def unit(job: tuple) -> Any:
    """Run one unit ``(kind, seed, argument, quick)`` in a worker process."""
    kind, seed, arg, quick = job
    start = time.perf_counter()
    functions = {
        "teacher": lambda: teacher_unit(seed, arg, quick),
        "student": lambda: student_unit(seed, arg, quick),
        "hinton": lambda: hinton_unit(seed, quick),
        "collect": lambda: collect(seed, arg, quick),
    }
    result = functions[kind]()
    label = arg.label if isinstance(arg, Setting) else arg
    print(f"[distill] seed {seed} {kind} {label} done in {time.perf_counter() - start:.0f}s", flush=True)
    return result


def experiment(quick: bool, workers: int) -> dict:
    """Every case and seed (resuming cached units); plain data for :func:`report`."""
    seeds = SEEDS[:2] if quick else SEEDS
    optional = () if os.environ.get("TASKGROUP_DISTILL_SKIP_OPTIONAL") == "1" else OPTIONAL
    settings = (*PRIMARY, *optional)
    start = time.perf_counter()
    extra = range(1, EXTRA_TEACHER_SEEDS + 1)
    # phases of independent units, the largest first: every teacher and the vanilla networks; the students;
    # Hinton's runs and the optional students; then the metrics of everything
    phases = [
        [("teacher", s, 0, quick) for s in seeds]
        + [("teacher", s, k, quick) for s in seeds for k in extra]
        + [("student", s, None, quick) for s in seeds],
        [("student", s, x, quick) for x in PRIMARY for s in seeds],
        [("hinton", s, None, quick) for s in seeds] + [("student", s, x, quick) for x in optional for s in seeds],
        [("collect", s, settings, quick) for s in seeds],
    ]
    # a smoke run trains every unit, in a temporary cache; the workers find the folder through the environment
    with (
        study_cache(quick, None, cache(), "taskgroup-distill-quick") as folder,
        _environment(CACHE_VARIABLE, str(folder)),
        ProcessPoolExecutor(max_workers=workers) as pool,
    ):
        results = [list(pool.map(unit, phase)) for phase in phases]
    return {
        "settings": [x.label for x in settings],
        "runs": results[3],
        "hinton": results[2][: len(seeds)],
        "minutes": (time.perf_counter() - start) / 60,
        "workers": workers,
        "epochs": mnist_fit(quick).epochs,
    }


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` while the block runs (worker processes started in it inherit it)."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


# ---------------------------------------------------------------------- the report
def _scores(run: dict, setting: str) -> tuple[dict[str, float], float | None]:
    case = setting.split("-")[0]
    return distill_scores(run["baselines"], run["teachers"][case], run["students"][setting], run["vanilla"])


def _setting_rows(data: dict, case: str) -> list[dict[str, Any]]:
    rows = []
    for setting in data["settings"]:
        if not setting.startswith(case + "-"):
            continue
        scores = [_scores(r, setting)[0] for r in data["runs"]]
        gain_t = [s["teachers"] - s["vanilla"] for s in scores]
        gain_s = [s["student"] - s["vanilla"] for s in scores]
        kept = statistics.mean(gain_s) / statistics.mean(gain_t) if statistics.mean(gain_t) > 0 else float("nan")
        row = {
            "setting": setting,
            "teachers": [s["teachers"] for s in scores],
            "student": [s["student"] for s in scores],
            "vanilla": [s["vanilla"] for s in scores],
            "student_all": [s["student_all"] for s in scores],
            "vanilla_all": [s["vanilla_all"] for s in scores],
            "gain_s": gain_s,
            "gain_t": gain_t,
            "kept": kept,
            "kept_ci": kept_interval(gain_s, gain_t),
        }
        if "student_others" in scores[0]:
            row["others"] = [s["student_others"] - s["vanilla_others"] for s in scores]
        if case == "plan":
            # the gain split by kind of task: the label tasks (which soft targets can teach on unlabelled rows) and
            # slant (a style regression whose soft target is nearly its label)
            for key, tasks in (("labels", LABEL_TASKS), ("slant", ("slant",))):
                teach = [_dm(r, r["teachers"]["plan"], tasks) - _dm(r, r["vanilla"], tasks) for r in data["runs"]]
                stud = [_dm(r, r["students"][setting], tasks) - _dm(r, r["vanilla"], tasks) for r in data["runs"]]
                row[f"gain_t_{key}"], row[f"gain_s_{key}"] = teach, stud
                mean_t = statistics.mean(teach)
                row[f"kept_{key}"] = statistics.mean(stud) / mean_t if mean_t > 0 else float("nan")
        rows.append(row)
    return rows


def kept_interval(gain_student: Sequence[float], gain_teachers: Sequence[float], reps: int = 4000) -> str:
    """95 % percentile bootstrap interval (resampling seeds) of mean(student gain) / mean(teachers' gain)."""
    rng = np.random.default_rng(0)
    s, t = np.asarray(gain_student), np.asarray(gain_teachers)
    idx = rng.integers(0, len(s), size=(reps, len(s)))
    den = t[idx].mean(1)
    ratios = s[idx].mean(1)[den > 0] / den[den > 0]
    if len(ratios) < reps / 2:
        return "—"
    low, high = np.percentile(ratios, [2.5, 97.5])
    return f"[{low:.2f}, {high:.2f}]"


def _dm(run: dict, group: dict, tasks: Sequence[str]) -> float:
    """Δm% of ``group`` over ``tasks`` against the run's single-task baselines."""
    return delta_m({t: group[t] for t in tasks}, {t: run["baselines"][t] for t in tasks})


def _best(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return max(rows, key=lambda r: statistics.mean(r["gain_s"]))


def summary(data: dict) -> list[str]:
    """One line per case: what was kept, and whether it pays."""
    lines = []
    plan_rows = _setting_rows(data, "plan")
    if plan_rows:
        best = _best(plan_rows)
        pays = statistics.mean(best["gain_s"]) - ci95(best["gain_s"]) > 0
        lines.append(
            f"- Distillation, mnist default plan (cost 2) → one all-in-one network (cost 1), best setting "
            f"`{best['setting']}`: student Δm {fmt(best['student'], '+.2f')} vs vanilla {fmt(best['vanilla'], '+.2f')} "
            f"(teachers {fmt(best['teachers'], '+.2f')}); kept fraction **{best['kept']:.2f}** {best['kept_ci']} "
            f"(target ≥ 0.5: {'met' if best['kept'] >= 0.5 else 'not met'}); student − vanilla "
            f"{fmt(best['gain_s'], '+.2f')} points: {'pays (interval above 0)' if pays else 'does not clearly pay'}; "
            f"on the four label tasks it keeps {best['kept_labels']:.2f} of the gain, on slant "
            f"{fmt(best['gain_s_slant'], '+.2f')} of {fmt(best['gain_t_slant'], '+.2f')} points."
        )
    mt_rows = _setting_rows(data, "mtdnn")
    if mt_rows:
        t1 = next(r for r in mt_rows if "-T1-" in r["setting"])
        best = _best(mt_rows)
        lines.append(
            f"- MT-DNN-KD as the paper set it (ensembles of 3 multi-task networks for the label tasks, w = 0.5): "
            f"kept {t1['kept']:.2f} {t1['kept_ci']} at T = 1 (student − vanilla {fmt(t1['gain_s'], '+.2f')} points), "
            f"{best['kept']:.2f} at the best T (`{best['setting']}`); "
            f"slant, without a teacher: student − vanilla {fmt(t1['others'], '+.2f')} (T = 1), "
            f"{fmt(best['others'], '+.2f')} (best T)."
        )
    if data.get("hinton"):
        lines.append("- Hinton-style ensemble → one network (digits, digit): " + _hinton_verdict(data["hinton"]) + ".")
    return lines


def _hinton_gain(runs: Sequence[dict], key: str) -> list[float]:
    return [100 * (r[key]["accuracy"] - r["vanilla"]["accuracy"]) for r in runs]


def _hinton_verdict(runs: Sequence[dict]) -> str:
    ens = _hinton_gain(runs, "teachers")
    parts = [f"ensemble − single network {fmt(ens, '+.2f')} accuracy points"]
    for t in HINTON_TEMPERATURES:
        gain = _hinton_gain(runs, f"T{t:g}")
        kept = statistics.mean(gain) / statistics.mean(ens) if statistics.mean(ens) > 0 else float("nan")
        parts.append(f"T = {t:g}: student − single {fmt(gain, '+.2f')} (kept {kept:.2f})")
    return "; ".join(parts)


def _cells(values: Sequence[float]) -> str:
    return fmt(values, "+.2f")


def report(data: dict, folder_: Path) -> list[str]:
    """The Markdown section from :func:`experiment`'s data (``folder_`` unused: no plots)."""
    runs = data["runs"]
    n = len(runs)
    lines = [
        f"Seeds {[r['seed'] for r in runs]} (seed = the suite's split, initial weights, batch order, teachers' "
        f"seeds); mean ± 95 % CI (Student t over {n} seeds). mnist networks are the default run's (`cnn`, conv "
        f"8/16, dense 64/16, batch 32, Adam 1e-3, up to {data['epochs']} epochs, patience 10, best validation "
        "epoch kept); Δm% is against the single-task baselines of the same seed (positive = better). The "
        "student and the vanilla network share initial weights and batches; they differ only by the soft targets "
        "(loss in docs/train.md, Distillation). Kept fraction = mean(student − vanilla) / mean(teachers − "
        "vanilla) over the teacher tasks.",
        "",
        "Kept: the ratio of the mean gains, with a 95 % bootstrap interval over seeds. The best setting of a case "
        "is chosen on these test numbers, so its row is slightly optimistic.",
        "",
        "### (a) The default mnist plan → one all-in-one network, soft targets on every training row",
        "",
        "| setting | teachers (plan) | vanilla all-in-one | student | student − vanilla | kept | kept, 95 % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in _setting_rows(data, "plan"):
        lines.append(
            f"| `{r['setting']}` | {_cells(r['teachers'])} | {_cells(r['vanilla'])} | {_cells(r['student'])} | "
            f"{_cells(r['gain_s'])} | {r['kept']:.2f} | {r['kept_ci']} |"
        )
    lines += [
        "",
        "The same gains split by kind of task: the four label tasks (odd, large, prime labelled on 40 of 3000 "
        "images; soft targets on every row) and slant (a style regression, labelled everywhere):",
        "",
        "| setting | label tasks: teachers − vanilla | student − vanilla | kept | slant: teachers − vanilla "
        "| student − vanilla |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in _setting_rows(data, "plan"):
        lines.append(
            f"| `{r['setting']}` | {_cells(r['gain_t_labels'])} | {_cells(r['gain_s_labels'])} | "
            f"{r['kept_labels']:.2f} | {_cells(r['gain_t_slant'])} | {_cells(r['gain_s_slant'])} |"
        )
    lines += _task_table(data, [r["setting"] for r in _setting_rows(data, "plan")], "plan")
    lines += [
        "",
        "### (b) MT-DNN-KD: teacher ensembles of 3 multi-task networks for the label tasks, none for slant",
        "",
        "Δm over the teacher tasks (digit, odd, large, prime); slant's column is student − vanilla on slant.",
        "",
        "| setting | teachers (3 x 4-task network) | vanilla | student | student − vanilla | kept | kept, 95 % "
        "| slant: student − vanilla |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in _setting_rows(data, "mtdnn"):
        lines.append(
            f"| `{r['setting']}` | {_cells(r['teachers'])} | {_cells(r['vanilla'])} | {_cells(r['student'])} | "
            f"{_cells(r['gain_s'])} | {r['kept']:.2f} | {r['kept_ci']} | {_cells(r['others'])} |"
        )
    if data.get("hinton"):
        h = data["hinton"]
        lines += [
            "",
            f"### (c) Hinton et al.: {HINTON_TEACHERS} single-task networks → one, `digits` (digit), w = "
            f"{HINTON_SOFT_WEIGHT}",
            "",
            "`mlp` (64, 64), Adam 1e-3, batch 64, up to 100 epochs, patience 15; the ensemble's members differ in "
            "seed and dropout (0.1 / 0.2 / 0.3); the student has the vanilla network's size, seed and batches. "
            "Test accuracy, and its difference to the vanilla network in points:",
            "",
            "| network | accuracy | − vanilla (points) |",
            "|---|---:|---:|",
            f"| ensemble of {HINTON_TEACHERS} | {fmt([r['teachers']['accuracy'] for r in h])} | "
            f"{_cells(_hinton_gain(h, 'teachers'))} |",
            f"| vanilla single network | {fmt([r['vanilla']['accuracy'] for r in h])} | — |",
        ]
        for t in HINTON_TEMPERATURES:
            lines.append(
                f"| student, T = {t:g} | {fmt([r[f'T{t:g}']['accuracy'] for r in h])} | "
                f"{_cells(_hinton_gain(h, f'T{t:g}'))} |"
            )
    return lines + [""]


def _task_table(data: dict, settings: Sequence[str], case: str) -> list[str]:
    """Per task and metric, mean over seeds: baseline, teachers, vanilla, each student."""
    runs = data["runs"]
    head = ["task", "metric", "single-task", "teachers", "vanilla", *[f"`{s}`" for s in settings]]
    lines = ["", "Per-task test metrics, mean over seeds:", "", "| " + " | ".join(head) + " |"]
    lines.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
    for task, metrics in runs[0]["vanilla"].items():
        for metric in metrics:

            def avg(values: list[float]) -> str:
                return f"{statistics.mean(values):.4f}" if values else "—"

            cells = [
                avg([r["baselines"][task][metric] for r in runs]),
                avg([r["teachers"][case][task][metric] for r in runs if task in r["teachers"][case]]),
                avg([r["vanilla"][task][metric] for r in runs]),
                *[avg([r["students"][s][task][metric] for r in runs]) for s in settings],
            ]
            lines.append(f"| {task} | {metric} | " + " | ".join(cells) + " |")
    return lines
