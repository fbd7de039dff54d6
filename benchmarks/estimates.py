"""Cheap estimates and grouping: HOA/ESA curves, TAG's matrices, 40-task grouping, suites, many-task selection.

Run ``python -m benchmarks.estimates`` (all sections) or e.g. ``--sections predictors,adaptive``; writes
``benchmarks/results/estimates.md``. Finished sections are cached under ``--cache`` (default a folder in the
system temp directory) so a rerun after an interruption only does what is missing; ``--fresh`` ignores it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from functools import partial
from itertools import combinations
from math import comb
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import adjusted_rand_score

import taskgroup as tg
from benchmarks.common import RESULTS, markdown_table, report_sections, write_report
from taskgroup.estimate import fit_group_predictor, hoa, hoa_predictor, planted_affinity, planted_group_losses
from taskgroup.estimate.synthetic import PlantedGroupLosses
from taskgroup.grouping import group, group_problem, select_groups
from taskgroup.grouping.cover import GroupScorer
from taskgroup.grouping.heuristics import local_search
from taskgroup.strategies import adaptive_select
from taskgroup.strategies.adaptive import initial_design

BUDGETS = [1 + 0.5 * i for i in range(9)]  # 1 .. 5 step 0.5, as Standley et al.
SECTIONS = ("standley", "tag", "synthetic", "suites", "predictors", "adaptive")


# ----------------------------------------------------------------------------- Standley: HOA and ESA
def standley_section() -> str:
    rows = []
    for setting in tg.datasets.STANDLEY_SETTINGS:
        val = tg.datasets.standley2020(setting, "val")
        test = tg.datasets.standley2020(setting, "test")
        short = tg.estimate.esa(tg.datasets.standley2020(setting, "esa"))
        predicted = hoa(val)
        for b in BUDGETS:
            row = {"setting": setting, "budget": b}
            for label, problem in (("optimal", val), ("HOA", predicted), ("ESA", short)):
                plan = tg.solve(problem, b)
                row[label] = test.evaluate(plan.networks).objective
                row[f"{label} networks"] = " ".join(plan.networks)
            rows.append(row)
    frame = pd.DataFrame(rows)
    numbers = frame[["setting", "budget", "optimal", "HOA", "ESA"]].astype({"budget": str})
    sets = frame[["setting", "budget", "optimal networks", "HOA networks", "ESA networks"]].astype({"budget": str})
    worse = {m: int((frame[m] > frame["optimal"] + 1e-12).sum()) for m in ("HOA", "ESA")}
    return (
        "Selection on each estimate (HOA: larger networks predicted from the measured pairs of the `val` table; "
        "ESA: the `esa` table of short-run losses), exact solver, scored on the measured `test` losses (each task "
        "served by its best chosen network). *optimal* = selected on the measured `val` losses. Lower is better. "
        f"Budgets where the estimate's plan scores worse on test than the optimal selection: HOA {worse['HOA']}, "
        f"ESA {worse['ESA']} of {len(frame)}. HOA ties among predicted plans are broken by the solver's order.\n\n"
        + markdown_table(numbers, ".5f")
        + "\n\nChosen networks:\n\n"
        + markdown_table(sets)
    )


# ----------------------------------------------------------------------------- TAG's published matrices
def tag_section(repeats: int = 5) -> str:
    rows = []
    for dataset in ("celeba", "taskonomy"):
        for kind in ("tag", "cs"):
            matrix = tg.datasets.tag2021(dataset, kind)
            problem = group_problem(matrix)
            n = len(matrix)
            for k in (2, 3, 4):
                times, plan = [], None
                for _ in range(repeats):
                    start = time.perf_counter()
                    plan = tg.solve(problem, budget=k, method="ilp")
                    times.append(time.perf_counter() - start)
                cg_times, cg = [], None
                for _ in range(repeats):
                    start = time.perf_counter()
                    cg = group(matrix, k, method="colgen")
                    cg_times.append(time.perf_counter() - start)
                assert plan is not None and cg is not None
                rows.append(
                    {
                        "dataset": f"{dataset}-{n}",
                        "matrix": kind,
                        "k": k,
                        "candidates": problem.n_networks,
                        "notebook combinations": sum(comb(2**n - 1, r) for r in range(1, k + 1)),
                        "groups (ILP)": "; ".join(plan.networks),
                        "mean score": plan.score / n,
                        "ILP proven": plan.optimal,
                        "ILP s (median)": statistics.median(times),
                        "colgen proven": cg.optimal,
                        "colgen same value": abs(cg.objective - plan.objective) <= 1e-9 * max(1, abs(plan.objective)),
                        "colgen s (median)": statistics.median(cg_times),
                    }
                )
    frame = pd.DataFrame(rows)
    return (
        f"Matrices of Fifty et al. (2021) as shipped in `tg.datasets.tag2021` (orientation `loc[source, target]`), "
        "singletons excluded as in the paper. `tg.solve(group_problem(A), budget=k, method='ilp')` (HiGHS) and "
        f"`tg.grouping.group(A, k, method='colgen')`; times are medians of {repeats} runs in one process, model "
        "building included. *notebook combinations* = what the published selection notebook enumerates. "
        "The selections equal the notebook rule's (brute force in tests/test_estimate_grouping.py for k <= 2 on "
        "CelebA and k <= 3 on Taskonomy).\n\n" + markdown_table(frame)
    )


# ----------------------------------------------------------------------------- 40 tasks, planted clusters
def synthetic_section(time_limit: float = 60.0, ks: tuple[int, ...] = tuple(range(2, 11))) -> str:
    matrix, labels = planted_affinity(40, 5, seed=0)
    planted = {frozenset(matrix.index[labels == c]) for c in range(5)}
    methods = ["greedy-merge", "beam", "local-search", "graph-cluster", "colgen"]
    rows = []
    for k in ks:
        for method in methods:
            start = time.perf_counter()
            plan = group(matrix, k, method=method, time_limit=time_limit, seed=0)
            wall = time.perf_counter() - start
            assignment = [plan.assignment[t] for t in matrix.index]
            rows.append(
                {
                    "k": k,
                    "method": method,
                    "score": plan.score,
                    "upper bound": -plan.bound,
                    "gap %": 100 * plan.gap,
                    "proven": plan.optimal,
                    "s": wall,
                    "ARI vs planted": adjusted_rand_score(labels, pd.factorize(pd.Series(assignment))[0]),
                    "planted groups found": sum(frozenset(n.split("+")) in planted for n in plan.networks),
                }
            )
    frame = pd.DataFrame(rows)
    best = frame.groupby("k")["score"].transform("max")
    frame["vs best %"] = 100 * (frame["score"] - best) / best.abs()
    slowest = frame["s"].max()
    return (
        "`tg.estimate.planted_affinity(40, 5, seed=0)`: 40 tasks in 5 planted clusters of 8, affinity 1 inside and "
        "-0.5 across clusters plus N(0, 0.3^2) noise (asymmetric), singletons excluded. Every method ran with a "
        f"60 s limit (slowest call: {slowest:.1f} s), one run each (timings noisy: 2 shared cores). *upper bound* "
        "is the proven bound on the score: the smallest of each task with its best partner, the group-size bound "
        "(`GroupScorer.size_bound`: a group of s tasks serves at most s of them, and gives each at most the mean of "
        "its s - 1 best sources) and, for colgen, its Lagrangian bound `sum(pi) + k max_G P(G)` with exact pricing "
        "(branch-and-bound over tasks per group size, compiled with numba: `taskgroup/grouping/pricing.py`) at duals "
        "stabilised by Wentges smoothing, starting from the size bound's duals. Once that bound is within 15 % of "
        "the best selection (or stalls), colgen proves optimality by reduced-profit fixing: a selection better "
        "than V uses only groups with `P(G) > V - sum(pi) - (k - 1) max_G P(G)`; the same search lists them all "
        "(at most 1,000) into the master, whose MIP optimum is then the optimum over every group (no branching "
        "needed: at k = 4 the LP bound is 0.3 % above the optimum, and fixing closes it). "
        "*gap* relative to the score. *ARI*: adjusted Rand index of "
        "each task's serving group against the planted clusters (1 = the planted partition). At k = 5 the "
        "planted partition is the answer to find.\n\n" + markdown_table(frame)
    )


# ----------------------------------------------------------------------------- built-in suites
def suites_section(epochs: int = 20, short_fraction: float = 0.2) -> str:
    from taskgroup.estimate import esa
    from taskgroup.measure import ResultStore, TrainConfig, measure
    from taskgroup.strategies import suite_affinity

    rows, corr_rows, cost_rows = [], [], []
    config = TrainConfig(epochs=epochs, patience=epochs)  # fixed schedule: the short run is a true prefix
    short = TrainConfig(epochs=max(1, round(short_fraction * epochs)), patience=epochs)
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("synthetic", "digits"):
            suite = tg.datasets.load_suite(name)
            db = Path(tmp) / f"{name}.db"
            start = time.perf_counter()
            measure(suite, db, config=config, progress=False)
            full_wall = time.perf_counter() - start
            start = time.perf_counter()
            measure(suite, db, config=short, progress=False)
            short_wall = time.perf_counter() - start
            store = ResultStore(db)
            fp = suite.fingerprint()

            def problem(split: str, cfg: TrainConfig) -> tg.Problem:
                return tg.Problem.from_frame(store.table(split, "snt", suite=fp, config=cfg.hash()), cost="snt")

            val, test, esa_problem = problem("val", config), problem("test", config), esa(problem("val", short))
            start = time.perf_counter()
            run = suite_affinity(suite, config=config, every=5)
            tag_wall = time.perf_counter() - start
            estimates = {"HOA": hoa(val), "ESA": esa_problem}
            for kind, matrix in (("TAG", run.tag), ("CS", run.cs)):
                estimates[kind] = group_problem(matrix)
            # rank correlation: per task, predicted vs measured val loss over the networks both have (size >= 2)
            for label, est in estimates.items():
                rhos = []
                for t, _task in enumerate(val.tasks):
                    pairs = []
                    for j, net in enumerate(est.networks):
                        if net in val.networks and est.serves[j, t] and len(val.network_tasks(net)) >= 2:
                            if label == "HOA" and len(val.network_tasks(net)) < 3:
                                continue  # HOA's pairs are measured, not predicted
                            pairs.append((est.losses[j, t], val.losses[val.network_index(net), t]))
                    if len(pairs) >= 3:
                        rhos.append(spearmanr(*zip(*pairs)).statistic)
                corr_rows.append(
                    {
                        "suite": name,
                        "estimate": label,
                        "mean per-task Spearman": float(np.nanmean(rhos)),
                        "tasks": len(rhos),
                    }
                )
            for b in BUDGETS:
                truth = tg.solve(val, b)
                row = {
                    "suite": name,
                    "budget": b,
                    "optimal val": truth.objective,
                    "optimal test": test.evaluate(truth.networks).objective,
                }
                for label, est in estimates.items():
                    if label in ("TAG", "CS"):
                        plan = tg.solve(est, int(b))  # groups cost 1 network each
                    else:
                        plan = tg.solve(est, b)
                    row[f"{label} regret val"] = val.evaluate(plan.networks).objective - truth.objective
                    row[f"{label} test"] = test.evaluate(plan.networks).objective
                rows.append(row)
            n = len(suite.tasks)
            all_nets = 2**n - 1 + n
            cost_rows += [
                {
                    "suite": name,
                    "estimate": "all candidates",
                    "networks trained": all_nets,
                    "epochs each": epochs,
                    "wall s": full_wall,
                    "relative (network-epochs)": 1.0,
                },
                {
                    "suite": name,
                    "estimate": "HOA",
                    "networks trained": 2 * n + comb(n, 2),
                    "epochs each": epochs,
                    "wall s": float("nan"),
                    "relative (network-epochs)": (2 * n + comb(n, 2)) / all_nets,
                },
                {
                    "suite": name,
                    "estimate": "ESA (short phase)",
                    "networks trained": all_nets,
                    "epochs each": short.epochs,
                    "wall s": short_wall,
                    "relative (network-epochs)": short.epochs / epochs,
                },
                {
                    "suite": name,
                    "estimate": "TAG+CS (one run)",
                    "networks trained": 1,
                    "epochs each": epochs,
                    "wall s": tag_wall,
                    "relative (network-epochs)": 1 / all_nets,
                },
            ]
    frame = pd.DataFrame(rows)
    return (
        f"Every candidate of the built-in `synthetic` (5 tasks, planted clusters a*, b*) and `digits` (5 tasks) suites "
        f"measured with the measurement module ({epochs} epochs, no early stopping, hidden (64, 64), Adam "
        "1e-3, seed 0); "
        f"ESA's short runs are the first {short.epochs} epochs. TAG and CS come from one all-tasks run of {epochs} "
        "epochs measured every 5 steps; their plans use floor(budget) groups (singletons excluded, as TAG). "
        "*regret val* = measured val objective of the estimate's plan minus the optimum on measured val losses "
        "(>= 0); *test* = the plan's measured test objective. One seed, one run.\n\n"
        "### Rank correlation of predicted vs measured per-task validation loss (networks of 2+ tasks; HOA: 3+)\n\n"
        "For TAG/CS the prediction is the negated mean affinity from the other members (higher affinity = lower "
        "predicted loss).\n\n"
        + markdown_table(pd.DataFrame(corr_rows))
        + "\n\n### Regret by budget (SNT)\n\n"
        + markdown_table(frame)
        + "\n\n### Measurement cost\n\n"
        + markdown_table(pd.DataFrame(cost_rows))
    )


# ----------------------------------------------------------------------------- many tasks: predictors, adaptive
class _TrueScorer(GroupScorer):
    """The generator's noise-free losses as a scorer, for searching the best plan known."""

    def __init__(self, losses: PlantedGroupLosses) -> None:
        super().__init__(np.zeros((len(losses.tasks),) * 2), True, losses.tasks)
        self.losses = losses

    def values(self, group):  # noqa: D102 - same contract as GroupScorer.values
        out = np.full(self.n, -np.inf)
        for t, v in self.losses.expected([self.tasks[i] for i in sorted(group)]).items():
            out[self.tasks.index(t)] = -v
        return out


def _expected(losses: PlantedGroupLosses, networks) -> float:
    """Test objective of a plan: each task at its best chosen network's noise-free loss."""
    members = [n.split("+") for n in networks]
    return sum(min(losses.expected(m)[t] for m in members if t in m) for t in losses.tasks)


def _pairs_design(tasks) -> list[tuple[str, ...]]:
    return [(t,) for t in tasks] + list(combinations(tasks, 2))


def predictors_section(n_tasks: int = 24, seeds: tuple[int, ...] = (0, 1, 2), held_out: int = 300) -> str:
    rows = []
    for seed in seeds:
        losses = planted_group_losses(n_tasks, 4, seed=seed)
        tasks = losses.tasks
        rng = np.random.default_rng(1000 + seed)
        larger = initial_design(tasks, 2 * n_tasks, 8, singles=False, seed=seed + 1)
        larger = [g for g in larger if len(g) >= 3]
        pairs = _pairs_design(tasks)
        random_k = initial_design(tasks, 4 * n_tasks, 3, singles=True, seed=seed + 2)
        designs = {
            "HOA (singles + all pairs)": ("hoa", pairs),
            "fitted: singles + all pairs": ("fit", pairs),
            "fitted: singles + all pairs + larger groups": ("fit", pairs + larger),
            f"fitted: singles + {4 * n_tasks} random groups of 2-3": ("fit", random_k),
        }
        seen = set(pairs) | set(larger)
        tests = []
        while len(tests) < held_out:
            g = tuple(sorted(rng.choice(n_tasks, int(rng.integers(3, 9)), replace=False).tolist()))
            if tuple(tasks[i] for i in g) not in seen:
                tests.append(frozenset(g))
        for label, (kind, design) in designs.items():
            measured = {g: losses.measure(g) for g in design}
            if kind == "hoa":
                problem = tg.Problem.from_frame(
                    pd.DataFrame(
                        [
                            {"network": "+".join(g), "task": t, "loss": v, "cost": 1.0}
                            for g, m in measured.items()
                            for t, v in m.items()
                        ]
                    )
                )
                predictor = hoa_predictor(problem)
            else:
                predictor = fit_group_predictor(tasks, measured)
            pred, true = [], []
            for g in tests:
                values = predictor.values(g)
                for t, v in losses.expected([tasks[i] for i in sorted(g)]).items():
                    pred.append(-values[tasks.index(t)])
                    true.append(v)
            pred, true = np.array(pred), np.array(true)
            rows.append(
                {
                    "seed": seed,
                    "predictor": label,
                    "networks measured": len(design),
                    "MAE": float(np.abs(pred - true).mean()),
                    "Spearman": float(spearmanr(pred, true).statistic),
                }
            )
    frame = pd.DataFrame(rows)
    summary = (
        frame.groupby("predictor", sort=False)
        .agg(
            networks=("networks measured", "median"),
            MAE_median=("MAE", "median"),
            MAE_max=("MAE", "max"),
            Spearman_median=("Spearman", "median"),
        )
        .reset_index()
    )
    return (
        f"`tg.estimate.planted_group_losses({n_tasks}, 4, seed)` (model in its docstring: single-task losses "
        "U(0.5, 1); pair transfer 0.25 inside a planted cluster, -0.1 across, N(0, 0.08^2) per ordered pair; "
        "capacity 0.03 log|G|; +0.05 per cluster beyond two in a group; 1 % measurement noise). Each predictor "
        f"sees noisy measurements of its design and predicts every member's loss in {held_out} held-out groups of "
        "3-8 tasks (none measured); errors against the noise-free loss. HOA = `hoa_predictor`; fitted = "
        "`fit_group_predictor(alpha=0.1)` (ridge on the membership mean plus a log-size term). "
        f"Seeds {list(seeds)}; medians over seeds.\n\n"
        + markdown_table(summary)
        + "\n\nPer seed:\n\n"
        + markdown_table(frame)
    )


def adaptive_section(
    n_tasks: int = 24,
    k: int = 4,
    budgets: tuple[int, ...] = (60, 100, 150),
    seeds: tuple[int, ...] = (0, 1, 2),
    time_limit: float = 0.5,
    search_limit: float = 5.0,
) -> str:
    rows = []
    for seed in seeds:
        losses = planted_group_losses(n_tasks, 4, seed=seed)
        tasks = losses.tasks

        def measure_groups(groups):
            return {g: losses.measure(g) for g in groups}

        plans: list[tuple[str, int, int, tuple[str, ...], float]] = []
        for K in budgets:
            start = time.perf_counter()
            result = adaptive_select(measure_groups, tasks, k, max_measured=K, time_limit=time_limit, seed=seed)
            plans.append(("adaptive", K, len(result.measured), result.plan.networks, time.perf_counter() - start))
            start = time.perf_counter()
            design = initial_design(tasks, K - n_tasks, 3, singles=True, seed=seed + 2)
            predictor = fit_group_predictor(tasks, measure_groups(design))
            plan = select_groups(predictor, k, method="local-search", time_limit=search_limit, seed=seed)
            plans.append(("random sample + fit", K, len(design), plan.networks, time.perf_counter() - start))
        start = time.perf_counter()
        pairs = measure_groups(_pairs_design(tasks))
        problem = tg.Problem.from_frame(
            pd.DataFrame(
                [
                    {"network": "+".join(g), "task": t, "loss": v, "cost": 1.0}
                    for g, m in pairs.items()
                    for t, v in m.items()
                ]
            )
        )
        plan = select_groups(hoa_predictor(problem), k, method="local-search", time_limit=search_limit, seed=seed)
        plans.append(("HOA from pairs", len(pairs), len(pairs), plan.networks, time.perf_counter() - start))
        start = time.perf_counter()
        # TAG-like: one all-task run observes the pairwise transfer with noise; blind to capacity and conflicts
        noisy = losses.A + 0.05 * np.random.default_rng(500 + seed).standard_normal(losses.A.shape)
        plan = group(
            pd.DataFrame(noisy, index=tasks, columns=tasks), k, "local-search", time_limit=search_limit, seed=seed
        )
        plans.append(("TAG-like affinity", 1, 1, plan.networks, time.perf_counter() - start))
        clusters = tuple("+".join(t for t, c in zip(tasks, losses.labels) if c == q) for q in range(4))
        truth = _TrueScorer(losses)
        start_groups = [frozenset(tasks.index(t) for t in n.split("+")) for n in clusters]
        found, _ = local_search(truth, k, start=start_groups, seed=seed, time_limit=search_limit)
        known = [clusters, tuple("+".join(tasks[i] for i in sorted(g)) for g in found)] + [p[3] for p in plans]
        best = min(_expected(losses, nets) for nets in known)
        for method, K, used, networks, wall in plans:
            value = _expected(losses, networks)
            rows.append(
                {
                    "seed": seed,
                    "method": method,
                    "budget K": K,
                    "networks measured": used,
                    "test objective": value,
                    "regret": value - best,
                    "regret %": 100 * (value - best) / best,
                    "s": wall,
                }
            )
    frame = pd.DataFrame(rows)
    summary = (
        frame.groupby(["method", "budget K"], sort=False)
        .agg(
            networks=("networks measured", "median"),
            regret_median=("regret", "median"),
            regret_pct_median=("regret %", "median"),
            regret_max=("regret", "max"),
            s_median=("s", "median"),
        )
        .reset_index()
    )
    return (
        f"{n_tasks} tasks from `planted_group_losses({n_tasks}, 4, seed)` (see the predictor section), plans of "
        f"k = {k} networks (one-task groups allowed when singles are measured). *test objective* = sum over tasks of "
        "the noise-free loss of the best chosen network (lower is better); *regret* against the best plan known "
        "(the best of: the planted partition, local search on the noise-free losses started from it, every "
        "method's plan). Methods: **adaptive** = `adaptive_select(max_measured=K)` (singles + n random groups "
        f"of 2-3, then optimism 1, local search {time_limit} s per round; its answer uses measured networks only); "
        "**random sample + fit** = singles + K - n random groups of 2-3, fitted predictor, one selection on "
        "predictions (may choose unmeasured groups); **HOA from pairs** = singles + all pairs, `hoa_predictor`; "
        "**TAG-like affinity** = one all-task run modelled as the generator's pair-transfer matrix plus "
        f"N(0, 0.05^2) (TAG sees neither the capacity nor the conflict term), `tg.grouping.group`. Local search "
        f"{search_limit} s for the one-shot methods. Seeds {list(seeds)}.\n\n"
        + markdown_table(summary)
        + "\n\nPer seed:\n\n"
        + markdown_table(frame)
    )


BUILDERS = {
    "standley": standley_section,
    "tag": tag_section,
    "synthetic": synthetic_section,
    "suites": suites_section,
    "predictors": predictors_section,
    "adaptive": adaptive_section,
}
TITLES = {
    "standley": "Standley et al.'s tables: HOA and ESA selection, scored on test",
    "tag": "TAG's published matrices: groups for 2, 3, 4 networks",
    "synthetic": "40 tasks in planted clusters: heuristics and column generation",
    "suites": "Built-in suites: rank correlation, regret and measurement cost of HOA, ESA, TAG, CS",
    "predictors": "Many tasks: predicting held-out groups (HOA vs the fitted group predictor)",
    "adaptive": "Many tasks: adaptive measurement with K networks vs HOA, TAG-like affinity and random sampling",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "taskgroup-estimates-bench"))
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 repeat, 2 budgets at 40 tasks, 3 epochs")
    parser.add_argument("--results", type=Path, default=None, help="folder for estimates.md")
    args = parser.parse_args(argv)
    builders = dict(BUILDERS)
    if args.quick:  # small sizes, nothing cached: the point is that every section still runs
        builders.update(
            tag=partial(tag_section, repeats=1),
            synthetic=partial(synthetic_section, time_limit=5.0, ks=(2, 5)),
            suites=partial(suites_section, epochs=3),
            predictors=partial(predictors_section, n_tasks=10, seeds=(0,), held_out=30),
            adaptive=partial(adaptive_section, n_tasks=10, budgets=(25,), seeds=(0,), time_limit=0.2, search_limit=0.5),
        )
        args.cache = tempfile.mkdtemp(prefix="taskgroup-estimates-quick-")
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    import torch

    torch.set_num_threads(1)
    for name in [s for s in args.sections.split(",") if s]:
        path = cache / f"{name}.json"
        if path.exists() and not args.fresh:
            continue
        start = time.perf_counter()
        body = builders[name]()
        path.write_text(json.dumps({"body": body, "seconds": time.perf_counter() - start}))
        print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)
    results = args.results or RESULTS
    # A section neither run now nor cached keeps what the report already says, so `--sections X` updates X only.
    previous = report_sections(results / "estimates.md")
    sections = []
    for name in SECTIONS:
        path = cache / f"{name}.json"
        if path.exists():
            data = json.loads(path.read_text())
            sections.append((TITLES[name], data["body"] + f"\n\n(section computed in {data['seconds']:.0f} s)"))
        else:
            sections.append((TITLES[name], previous.get(TITLES[name], "Not run (see `--sections`).")))
    print(write_report("estimates", "Cheap estimates and affinity-based grouping", sections, results))


if __name__ == "__main__":
    main()
