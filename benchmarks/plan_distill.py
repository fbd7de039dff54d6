"""Distillation into the plan's own networks: does it raise the default plan's test gain, fairly?

``taskgroup run`` on mnist deploys ``digit+odd+large+prime, slant``; the shared network serves ``digit`` worse
than digit's own network (0.94 against 0.96 test accuracy) and the three tasks with 40 labels each much better.
Distillation could help twice: a teacher that knows digit better, and soft targets on the 2,960 training images
the scarce tasks have no label for. The second help is open to the single-task networks too, so a fair
comparison distils them alike. Per suite seed (the split, initial weights, batch order), with the run's training
(``cnn``, 30 epochs, patience 10) and one student per network (same seed and batches as its vanilla twin, soft
weight 0.5, T = 1, soft targets on every training row of the classification tasks; slant, a regression labelled
on every row, learns from its labels alone), the arms are:

``vanilla``
    the plan as ``run`` trains it, against the vanilla single-task networks (the run's Δm%).
``born-again``
    every network, single-task ones included, the student of itself (Furlanello et al. 2018): the plan's
    students against the single-task students. The fair test of the soft targets on unlabelled rows.
``born-again, plan only``
    the same plan students against the vanilla single-task networks: what that comparison would claim.
``single-task teachers``
    MT-DNN-KD with each task's single-task network as its teacher (the teachers the run trains anyway).
``teacher where worse``
    only the tasks the shared network serves worse than their own network on *validation* get that network as
    teacher (the rule a run could apply after measuring).
``best teacher``
    each task's teacher is the better on validation of its own network and the shared network itself.

The last four are against the vanilla single-task networks, as a run would report them.

    python -m benchmarks.plan_distill [--seeds 10] [--workers 2] [--cache DIR] [--results DIR] [--quick]

Every network is cached under ``/work/cache/plan-distill/seed<s>/`` (``--cache``) and a stopped run resumes.
``--quick`` is a smoke run of the same code: one seed of a small mnist suite (``QUICK_MNIST``), 2 epochs, networks
in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from benchmarks.common import QUICK_MNIST, RESULTS, markdown_table, params_text, quick_setup, study_cache, write_report
from benchmarks.train_distill import mnist, mnist_fit, plan_of
from taskgroup.checkpoints import load_checkpoint
from taskgroup.datasets import load_suite
from taskgroup.engine.loop import predict
from taskgroup.tasks import TaskSuite, delta_m
from taskgroup.train.compress import train_networks
from taskgroup.train.distill import Teachers

CACHE = Path("/work/cache/plan-distill")
SHARED = "digit+odd+large+prime"
SCARCE_AND_DIGIT = ("digit", "odd", "large", "prime")
SINGLES = (*SCARCE_AND_DIGIT, "slant")
ARMS = (
    "vanilla",
    "born-again",
    "born-again, plan only",
    "single-task teachers",
    "teacher where worse",
    "best teacher",
)
Metrics = dict[str, dict[str, float]]


_OUTPUTS: dict[Path, dict[str, dict[str, Any]]] = {}


def network_outputs(suite: TaskSuite, path: Path) -> dict[str, dict[str, Any]]:
    """split -> task -> raw output on ``suite`` of the network checkpointed at ``path`` (each checkpoint belongs to
    one seed's suite, so it is loaded and run once per process: a network teaches several arms and tasks)."""
    if path not in _OUTPUTS:
        network, _ = load_checkpoint(path)
        _OUTPUTS[path] = {name: predict(network, split) for name, split in suite.splits.items()}
    return _OUTPUTS[path]


def teachers_from(suite: TaskSuite, checkpoints: Mapping[str, Path]) -> Teachers:
    """One-member teachers: per task, the outputs of the network whose checkpoint is given, on every split."""
    outputs: dict[str, dict[str, list[Any]]] = {}
    for task, path in checkpoints.items():
        by_split = network_outputs(suite, path)
        outputs[task] = {name: [by_task[task]] for name, by_task in by_split.items()}
    kinds = {t: suite.task(t).kind for t in checkpoints}
    return Teachers(kinds, outputs, {t: [str(p)] for t, p in checkpoints.items()})


def one_seed(seed: int, cache: Path, quick: bool = False) -> dict[str, Any]:
    """Train (or resume) every network of one seed; the plan's test Δm% of each arm and test accuracies (``quick``:
    on the small suite, 2 epochs)."""
    torch.set_num_threads(1)
    suite = load_suite("mnist", seed=seed, **QUICK_MNIST) if quick else mnist(seed)
    fit, base = mnist_fit(quick), cache / f"seed{seed}"
    singles_plan = plan_of({t: (t,) for t in SINGLES})
    shared_plan = plan_of({SHARED: SCARCE_AND_DIGIT})
    single, single_ckpt = train_networks(singles_plan, suite, base / "singles", fit, seed=seed)
    shared, shared_ckpt = train_networks(shared_plan, suite, base / "shared", fit, seed=seed)
    own = teachers_from(suite, {t: single_ckpt[t] for t in SCARCE_AND_DIGIT})
    itself = teachers_from(suite, {t: shared_ckpt[SHARED] for t in SCARCE_AND_DIGIT})
    own_val, itself_val = own.metrics(suite, "val"), itself.metrics(suite, "val")
    # per task: is the shared network worse than the task's own network on validation (Δm% of that task < 0)?
    worse = [t for t in SCARCE_AND_DIGIT if delta_m({t: itself_val[t]}, {t: own_val[t]}) < 0]

    def students(name: str, plan_: Any, teach: Mapping[str, Path]) -> Metrics:
        """The student of ``plan_``'s one network taught ``teach`` (task -> teacher checkpoint)."""
        network = plan_.networks[0]
        if not teach:  # nothing to teach: the student is its vanilla twin
            return shared[network]
        teachers = teachers_from(suite, teach)
        metrics, _ = train_networks(plan_, suite, base / name, fit, seed=seed, teachers=teachers)
        return metrics[network]

    ba_singles = {t: single[t][t] for t in SINGLES}
    for t in SCARCE_AND_DIGIT:
        ba_singles[t] = students(f"born-again-{t}", plan_of({t: (t,)}), {t: single_ckpt[t]})[t]
    plans = {
        "vanilla": shared[SHARED],
        "born-again": students("born-again-shared", shared_plan, {t: shared_ckpt[SHARED] for t in SCARCE_AND_DIGIT}),
        "single-task teachers": students("single-teachers", shared_plan, {t: single_ckpt[t] for t in SCARCE_AND_DIGIT}),
        "teacher where worse": students(f"worse-{'-'.join(worse)}", shared_plan, {t: single_ckpt[t] for t in worse}),
        "best teacher": students(
            f"best-{'-'.join(worse)}",
            shared_plan,
            {t: single_ckpt[t] if t in worse else shared_ckpt[SHARED] for t in SCARCE_AND_DIGIT},
        ),
    }
    plans["born-again, plan only"] = plans["born-again"]
    vanilla_singles = {t: single[t][t] for t in SINGLES}
    row: dict[str, Any] = {"seed": seed, "worse on validation": ", ".join(worse) or "none"}
    for arm in ARMS:
        baselines = ba_singles if arm == "born-again" else vanilla_singles
        served = {t: plans[arm][t] for t in SCARCE_AND_DIGIT} | {"slant": vanilla_singles["slant"]}
        row[arm] = delta_m(served, baselines)
        for t in SCARCE_AND_DIGIT:
            row[f"{t} accuracy: {arm}"] = plans[arm][t]["accuracy"]
    for t in SCARCE_AND_DIGIT:
        row[f"{t} accuracy: single"] = vanilla_singles[t]["accuracy"]
        row[f"{t} accuracy: single, born-again"] = ba_singles[t]["accuracy"]
    print(f"[plan-distill] seed {seed}: " + ", ".join(f"{a} {row[a]:+.2f}" for a in ARMS), flush=True)
    return row


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per arm: the plan's test Δm% over seeds and its change against ``vanilla``, paired by seed."""
    rows = []
    for arm in ARMS:
        diff = frame[arm] - frame["vanilla"]
        rows.append(
            {
                "arm": arm,
                "against": "born-again single-task networks" if arm == "born-again" else "vanilla single-task",
                "mean Δm%": frame[arm].mean(),
                "min": frame[arm].min(),
                "seeds >= +3 %": int((frame[arm] >= 3).sum()),
                "change against vanilla": diff.mean() if arm != "vanilla" else float("nan"),
                "its standard error": diff.std(ddof=1) / len(diff) ** 0.5 if arm != "vanilla" else float("nan"),
                "seeds better": f"{int((diff > 0).sum())}/{len(diff)}" if arm != "vanilla" else "",
            }
        )
    return pd.DataFrame(rows)


def accuracies(frame: pd.DataFrame) -> pd.DataFrame:
    """Per task, mean test accuracy over seeds: single-task networks and the shared network of each arm."""
    columns = ["single", "single, born-again", *[a for a in ARMS if a != "born-again, plan only"]]
    rows = [{"task": t, **{c: statistics.mean(frame[f"{t} accuracy: {c}"]) for c in columns}} for t in SCARCE_AND_DIGIT]
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="suite seeds 0 .. N-1 (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="seeds trained side by side (default 2)")
    parser.add_argument("--cache", type=Path, default=None, help=f"folder of the networks (default {CACHE})")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 seed, a small suite, 2 epochs, a temporary cache"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.workers < 1:
        parser.error(f"--seeds {args.seeds} and --workers {args.workers} must be >= 1")
    if args.quick and args.cache is not None:
        parser.error("--quick trains into a temporary folder; --cache is for full runs")
    seeds = 1 if args.quick else args.seeds
    with study_cache(args.quick, args.cache, CACHE, "plan-distill") as cache:
        with ProcessPoolExecutor(max_workers=min(args.workers, seeds)) as pool:
            frame = pd.DataFrame(list(pool.map(partial(one_seed, cache=cache, quick=args.quick), range(seeds))))
    setup = __doc__.split("\n\n", 1)[1].split("    python -m")[0].strip()
    if args.quick:
        sizes = params_text(QUICK_MNIST)
        setup = quick_setup(f"one seed of mnist with {sizes}, 2 epochs", setup)
    sections = [
        ("Setup", setup),
        ("Summary: the plan's test Δm%", markdown_table(summary(frame))),
        ("Test accuracy, mean over seeds (single-task networks, and the tasks inside the shared network)",
         markdown_table(accuracies(frame))),
        ("Every seed", markdown_table(frame[["seed", "worse on validation", *ARMS]])),
    ]  # fmt: skip
    path = write_report("plan_distill", "Distillation into the plan's networks", sections, args.results)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
