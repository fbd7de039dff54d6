"""Does a different training configuration raise the default plan's test gain? Paired suite seeds, fixed plan.

The default run on mnist picks ``digit+odd+large+prime, slant`` on 8 of 10 suite seeds
(``benchmarks/results/grouping.md``). Its test Δm% comes from how well the shared network trains the tasks with
few labels, against single-task networks trained the same way. For each training variant and suite seed this
measures the plan's networks (the five single-task networks and the four-task network) exactly as ``taskgroup
run`` does, except for the variant's change, and scores the fixed plan on test: each task from the network that
serves it, against the single-task networks of the same variant and seed (the Δm% the report computes). The
variant changes every network alike, single-task ones included, so a gain that only comes from weaker baselines
shows up in the per-task accuracies below the summary.

    python -m benchmarks.training_variants [--seeds 10] [--variants default,uncertainty,calibrated] [--cache DIR]
                                           [--results DIR] [--quick]

Variants: ``uncertainty`` weighs the task losses as Kendall et al. (``weighting="uncertainty"``); ``calibrated``
stops early on each head's loss at its best temperature (``stopping="calibrated"``); ``epochs-50`` trains up to
50 epochs instead of 30.

Stores: ``/work/cache/variants-<variant>-seed<s>.db`` (``--cache``); finished networks are committed one by one and
a stopped run resumes. ``--quick`` is a smoke run of the same code: one seed of a small mnist suite (``QUICK_MNIST``),
1 epoch (a variant's own ``epochs`` aside), measured serially in this process, stores in a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import QUICK_MNIST, RESULTS, markdown_table, params_text, quick_setup, study_cache, write_report

CACHE = Path("/work/cache")
SHARED = "digit+odd+large+prime"
SINGLES = ("digit", "odd", "large", "prime", "slant")
# TrainConfig changes of each variant, on top of the run's own configuration
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "uncertainty": {"weighting": "uncertainty"},
    "epochs-50": {"epochs": 50},
    "calibrated": {"stopping": "calibrated"},
}


def measure_variant(cache: Path, variant: str, seed: int, quick: bool = False) -> pd.DataFrame:
    """The plan's networks of one suite seed trained under ``variant`` (resumes a partial store); their rows
    (``quick``: on the small suite, 1 epoch)."""
    from taskgroup.datasets import load_suite
    from taskgroup.engine.defaults import default_train_config
    from taskgroup.measure import ResultStore, measure
    from taskgroup.run_settings import RunSettings

    defaults = RunSettings()
    suite = load_suite("mnist", seed=seed, **(QUICK_MNIST if quick else {}))
    changes = {"epochs": 1 if quick else defaults.epochs, "device": defaults.device, **VARIANTS[variant]}
    config = default_train_config(suite, **changes)
    path = cache / f"variants-{variant}-seed{seed}.db"
    # quick: in this process, as four spawned workers that each import torch would take most of a smoke run
    # (the executors have their own tests)
    executor = "serial" if quick else "auto"
    measure(suite, path, candidates=[*SINGLES, SHARED], config=config, executor=executor, progress=False)
    return ResultStore(path, create=False).results()


def score_plan(results: pd.DataFrame) -> dict[str, float]:
    """The fixed plan's test Δm% and each task's test accuracy (R² for slant), single-task and in the plan."""
    from taskgroup.tasks.metrics import HIGHER_IS_BETTER, METRICS_BY_KIND, delta_m

    def metrics(network: str, task: str) -> dict[str, float]:
        row = results[(results["network"] == network) & (results["task"] == task)].iloc[0]
        names = METRICS_BY_KIND["regression" if task == "slant" else "binary"]
        return {m: float(row[f"test_{m}"]) for m in names}

    baseline = {t: metrics(t, t) for t in SINGLES}
    plan = {t: metrics(SHARED, t) for t in SINGLES if t != "slant"} | {"slant": baseline["slant"]}
    scored = {"plan Δm%": delta_m(plan, baseline, HIGHER_IS_BETTER)}
    for task in SINGLES[:-1]:
        scored[f"{task} single"] = baseline[task]["accuracy"]
        scored[f"{task} shared"] = plan[task]["accuracy"]
    return scored


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per variant: the plan's Δm% over seeds, and the change against ``default`` paired by seed."""
    wide = frame.pivot(index="seed", columns="variant", values="plan Δm%")
    rows = []
    for variant in frame["variant"].unique():  # in the order asked for, default first
        values = wide[variant].dropna()
        row = {"variant": variant, "seeds": len(values), "mean Δm%": values.mean(), "min": values.min()}
        row["seeds >= +3 %"] = int((values >= 3).sum())
        if variant != "default" and "default" in wide:
            diff = (wide[variant] - wide["default"]).dropna()
            row["paired change"] = diff.mean()
            row["its standard error"] = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.nan
            row["seeds better"] = f"{int((diff > 0).sum())}/{len(diff)}"
        rows.append(row)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="suite seeds 0 .. N-1 (default 10)")
    parser.add_argument(
        "--variants", default="default,uncertainty,calibrated", help=f"comma-separated, of {list(VARIANTS)}"
    )
    parser.add_argument("--cache", type=Path, default=None, help=f"folder of the stores (default {CACHE})")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 seed, a small suite, 1 epoch, a temporary cache"
    )
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or args.seeds < 1:
        parser.error(f"variants {unknown} unknown (accepted: {list(VARIANTS)}) or --seeds {args.seeds} < 1")
    if args.quick and args.cache is not None:
        parser.error("--quick measures into a temporary folder; --cache is for full runs")
    seeds = 1 if args.quick else args.seeds
    rows = []
    with study_cache(args.quick, args.cache, CACHE, "training-variants") as cache:
        for seed in range(seeds):
            for variant in variants:
                scored = score_plan(measure_variant(cache, variant, seed, args.quick))
                rows.append({"variant": variant, "seed": seed, **scored})
                print(f"{variant} seed {seed}: plan Δm {scored['plan Δm%']:+.2f}", flush=True)
    frame = pd.DataFrame(rows)
    accuracies = frame.drop(columns=["seed", "plan Δm%"]).groupby("variant", sort=False).mean().reset_index()
    changes = "; ".join(f"`{v}`: {VARIANTS[v] or 'the run as it is'}" for v in variants)
    setup = (
        f"Suite `mnist` (seeds 0-{seeds - 1}), `cnn` family, the run's configuration (30 epochs, "
        f"patience 10) with each variant's change ({changes}). The fixed plan `{SHARED}, slant` is scored on "
        "test against the single-task networks of the same variant and seed (LibMTL's Δm% over accuracy and "
        "AUC, RMSE and R²). One training run per network and seed."
    )
    if args.quick:
        sizes = params_text(QUICK_MNIST)
        setup = quick_setup(f"mnist with {sizes}, 1 epoch", setup)
    sections = [
        ("Setup", setup),
        ("Summary", markdown_table(summary(frame))),
        ("Test accuracy, mean over seeds (single-task network, and the task inside the shared network)",
         markdown_table(accuracies)),
        ("Every seed", markdown_table(frame[["variant", "seed", "plan Δm%"]])),
    ]  # fmt: skip
    path = write_report("training_variants", "Training variants and the default plan's test gain", sections,
                        args.results)  # fmt: skip
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
