"""MT-DNN-KD (Liu et al. 2019) reproduced: does a distilled multi-task network keep its teachers' gain?

Part of ``benchmarks/train.py`` (which writes ``benchmarks/results/train.md``); also runnable alone:

    python -m benchmarks.train --only distill [--quick]

Per seed, everything is trained by :func:`taskgroup.train.train_plan` on the plan "one network serves every
task" (what a tight budget gives), with ``distill=True``:

- single-task baselines (one network per task; the reference of Δm%);
- the **vanilla** multi-task network, hard labels only;
- per teacher task, a **teacher ensemble** of 3 single-task networks with dropout 0.1 / 0.2 / 0.3 (MT-DNN-KD's
  recipe) whose averaged class probabilities are the soft targets;
- the **student**: the same multi-task network, same initial weights and batch order as the vanilla one, whose
  loss on a teacher task is the average of the hard-label loss and the soft-target cross-entropy (MT-DNN-KD's
  paper; its code adds them) and hard labels alone on the other tasks.

The paper's claims: the student keeps nearly all of the ensemble's gain over the vanilla network, and also
improves the tasks that have no teacher.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from benchmarks.train_mmoe import ci95, fmt
from taskgroup.datasets.suites import load_suite
from taskgroup.engine import TrainConfig
from taskgroup.engine.families import DEFAULT_HIDDEN
from taskgroup.plan import Plan, PlanNetwork
from taskgroup.tasks import delta_m
from taskgroup.train import RunConfig, TeacherConfig, train_plan

TITLE = "2. Distillation from teacher ensembles (MT-DNN-KD, Liu et al. 2019) in a data-limited regime"


@dataclass(frozen=True)
class Case:
    """One suite, its teacher tasks and how its networks are trained."""

    label: str
    suite: str
    params: dict[str, Any]
    teacher_tasks: tuple[str, ...]
    model: str
    options: dict[str, Any]
    epochs: int
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 15


# mnist's data-limited regime (1,500 training images; odd, large, loop labelled on 100 of them). Teachers for the
# two fully labelled tasks: digit (where an ensemble is a pure variance reduction) and slant (a style task that
# the label tasks pull the shared trunk away from, so its single-task teachers also avoid negative transfer).
# A second case isolates a classification ensemble: 300 training images, a teacher for digit only.
MNIST_TASKS = ("digit", "odd", "large", "loop", "slant")
CASES = (
    Case(
        "mnist-1500",
        "mnist",
        {"tasks": MNIST_TASKS, "n_train": 1500, "n_val": 500, "scarce": 100},
        ("digit", "slant"),
        "mlp",
        {"hidden": (128, 64)},
        epochs=60,
        patience=10,
    ),
    Case(
        "mnist-300",
        "mnist",
        {"tasks": MNIST_TASKS, "n_train": 300, "n_val": 500, "scarce": 100},
        ("digit",),
        "mlp",
        {"hidden": (128, 64)},
        epochs=100,
        patience=15,
    ),
)
SEEDS = tuple(range(5))
QUICK_CASES = tuple(replace(c, epochs=3) for c in CASES)


def one_network_plan(tasks: Sequence[str]) -> Plan:
    """The plan 'one network trained on and serving every task'."""
    name = "+".join(tasks)
    return Plan(
        networks=(name,),
        assignment={t: name for t in tasks},
        task_losses={t: 0.0 for t in tasks},
        objective=0.0,
        cost={"cost": 1.0},
        details=(PlanNetwork(name, tuple(tasks), tuple(tasks), {"cost": 1.0}),),
    )


def one_seed(case: Case, seed: int) -> dict[str, Any]:
    """Train baselines, vanilla network, teachers and student for one seed; return the test metrics and Δm%."""
    torch.set_num_threads(1)
    suite = load_suite(case.suite, seed=seed, **case.params)
    options = {k: v for k, v in case.options.items() if k != "hidden"}  # mlp / cnn widths are TrainConfig.hidden
    fit = TrainConfig(
        model=case.model,
        hidden=case.options.get("hidden", DEFAULT_HIDDEN),
        options=options,
        epochs=case.epochs,
        batch_size=case.batch_size,
        lr=case.lr,
        patience=case.patience,
    )
    config = RunConfig(fit, distill=True, teacher=TeacherConfig(3), teacher_tasks=case.teacher_tasks, seed=seed)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        r = train_plan(one_network_plan(suite.task_names), suite, out, config)
    others = [t for t in suite.task_names if t not in case.teacher_tasks]

    def dm(group: dict, tasks: Sequence[str]) -> float:
        return delta_m({t: group[t] for t in tasks}, r.baselines)

    return {
        "case": case.label,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "teachers_T": dm(r.teachers, case.teacher_tasks),
        "vanilla_T": dm(r.multitask, case.teacher_tasks),
        "student_T": dm(r.student, case.teacher_tasks),
        "vanilla_U": dm(r.multitask, others) if others else None,
        "student_U": dm(r.student, others) if others else None,
        "metrics": {"baselines": r.baselines, "vanilla": r.multitask, "teachers": r.teachers, "student": r.student},
    }


def _star(args: tuple) -> dict[str, Any]:
    return one_seed(*args)


def experiment(quick: bool, workers: int) -> dict:
    """Every case and seed; plain data for :func:`report`."""
    cases, seeds = (QUICK_CASES, SEEDS[:2]) if quick else (CASES, SEEDS)
    start = time.perf_counter()
    jobs = [(c, s) for c in cases for s in seeds]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        runs = list(pool.map(_star, jobs))
    return {
        "cases": [asdict(c) for c in cases],
        "runs": runs,
        "minutes": (time.perf_counter() - start) / 60,
        "workers": workers,
    }


def case_lines(case: dict, runs: Sequence[dict]) -> list[str]:
    teacher_tasks = case["teacher_tasks"]
    first = runs[0]["metrics"]
    others = [t for t in first["vanilla"] if t not in teacher_tasks]
    col = lambda key: [r[key] for r in runs]  # noqa: E731
    gain_ens = [r["teachers_T"] - r["vanilla_T"] for r in runs]
    gain_student = [r["student_T"] - r["vanilla_T"] for r in runs]
    kept = statistics.mean(gain_student) / statistics.mean(gain_ens) if statistics.mean(gain_ens) > 0 else float("nan")
    clear = statistics.mean(gain_ens) - ci95(gain_ens) > 0
    params = ", ".join(f"{k}={v}" for k, v in case["params"].items())
    lines = [
        f"### Case `{case['label']}`: suite `{case['suite']}` ({params}); teacher tasks: "
        f"{', '.join(teacher_tasks)}; without a teacher: {', '.join(others) or 'none'}",
        "",
        f"Model `{case['model']}` {case['options']}; Adam lr {case['lr']}, batch {case['batch_size']}, up to "
        f"{case['epochs']} epochs, patience {case['patience']} (best validation epoch kept). Seeds "
        f"{[r['seed'] for r in runs]} (seed = split, initial weights, batch order, teachers' seeds). Δm% against "
        "the single-task baselines (positive = better), mean ± 95 % CI over seeds:",
        "",
        "| tasks | teacher ensemble | vanilla multi-task | distilled student |",
        "|---|---:|---:|---:|",
        f"| with a teacher | {fmt(col('teachers_T'), '+.2f')} | {fmt(col('vanilla_T'), '+.2f')} | "
        f"{fmt(col('student_T'), '+.2f')} |",
    ]
    if others:
        lines.append(f"| without a teacher | — | {fmt(col('vanilla_U'), '+.2f')} | {fmt(col('student_U'), '+.2f')} |")
    lines += [
        "",
        f"- Ensemble's gain over the vanilla network on the teacher tasks: **{fmt(gain_ens, '+.2f')}** Δm points "
        + ("(a clear margin: the interval excludes 0)." if clear else "(not a clear margin: the interval includes 0)."),
        f"- Student's gain over the vanilla network on the same tasks: **{fmt(gain_student, '+.2f')}** Δm points; "
        f"fraction of the ensemble's gain kept (ratio of the means): **{kept:.2f}**"
        + ("" if clear else " (meaningless without a clear ensemble gain)")
        + ".",
    ]
    if len(teacher_tasks) > 1:
        for task in teacher_tasks:
            ens = [_task_dm(r, "teachers", task) - _task_dm(r, "vanilla", task) for r in runs]
            stu = [_task_dm(r, "student", task) - _task_dm(r, "vanilla", task) for r in runs]
            ratio = statistics.mean(stu) / statistics.mean(ens) if statistics.mean(ens) > 0 else float("nan")
            lines.append(
                f"- `{task}` alone: ensemble's gain {fmt(ens, '+.2f')}, student's {fmt(stu, '+.2f')} Δm "
                f"points; kept {ratio:.2f}."
            )
    if others:
        gain_u = [r["student_U"] - r["vanilla_U"] for r in runs]
        lines.append(f"- Student − vanilla on the tasks without a teacher: **{fmt(gain_u, '+.2f')}** Δm points.")
    lines += [
        "",
        "Per-task test metrics, mean over seeds:",
        "",
        "| task | metric | single-task | vanilla | teachers | student |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for task, metrics in first["vanilla"].items():
        for metric in metrics:

            def avg(group: str) -> str:
                values = [r["metrics"][group][task][metric] for r in runs if task in r["metrics"][group]]
                return f"{statistics.mean(values):.4f}" if values else "—"

            lines.append(
                f"| {task} | {metric} | {avg('baselines')} | {avg('vanilla')} | {avg('teachers')} | {avg('student')} |"
            )
    return lines + [""]


def _task_dm(run: dict, group: str, task: str) -> float:
    """Δm% of one task of ``group`` against its single-task baseline."""
    return delta_m({task: run["metrics"][group][task]}, {task: run["metrics"]["baselines"][task]})


def summary(data: dict) -> list[str]:
    """One line per case: the ensemble's margin, the fraction the student keeps, the gain without a teacher."""
    lines = []
    for case in data["cases"]:
        runs = [r for r in data["runs"] if r["case"] == case["label"]]
        ens = [r["teachers_T"] - r["vanilla_T"] for r in runs]
        stu = [r["student_T"] - r["vanilla_T"] for r in runs]
        clear = len(ens) > 1 and statistics.mean(ens) - ci95(ens) > 0
        kept = statistics.mean(stu) / statistics.mean(ens) if statistics.mean(ens) > 0 else float("nan")
        verdict = (
            "no clear ensemble margin, so 'nearly all kept' cannot be tested"
            if not clear
            else "reproduced: the student keeps nearly all (>= 80 %) of the gain"
            if kept >= 0.8
            else "not reproduced: the student keeps far from all of the gain"
        )
        line = (
            f"- MT-DNN-KD, case `{case['label']}`: ensemble gain over the vanilla network {fmt(ens, '+.2f')} Δm "
            f"points, student's gain {fmt(stu, '+.2f')}, kept {kept:.2f}: {verdict}"
        )
        others = [r for r in runs if r["vanilla_U"] is not None]
        if others:
            gain_u = [r["student_U"] - r["vanilla_U"] for r in others]
            line += f"; tasks without a teacher: student − vanilla {fmt(gain_u, '+.2f')}"
        lines.append(line + ".")
    return lines


def report(data: dict, folder: Path) -> list[str]:
    """The Markdown section from :func:`experiment`'s data (``folder`` unused: no plots)."""
    lines: list[str] = []
    for case in data["cases"]:
        runs = [r for r in data["runs"] if r["case"] == case["label"]]
        lines += case_lines(case, runs)
    return lines
