"""Issue 24 before/after: the same measurements on two source trees, side by side in one session.

    python -m benchmarks.speed --before /tmp/speed-before [--items 1,2,3,3l,5,6] [--repeats 3]
        [--ties planted/27/3185 ...] [--grouping 30/60/2,3,4 ...] [--first-plan 60/300/3 ...] [--lp 60/300/3 ...]
        [--start 60/10,30,60,300/3 ...]

``--before`` is a checkout of the code to compare against (e.g. ``git archive 689f500 | tar -x -C DIR``); the
"after" tree is this repository. Every measurement runs in a fresh subprocess with ``PYTHONPATH`` pointing at one
tree and ``NUMBA_CACHE_DIR`` at a folder of the run, before and after alternating, so both see the same machine
load. Finished measurements are kept in ``benchmarks/results/speed_runs.json`` (a rerun skips them; delete the
file to start over); the tables go to the section "Before/after (issue 24)" of ``benchmarks/results/solvers.md``.
Each record keeps the load average at its start and the child's peak memory; a child past :data:`MAX_RSS_GB`
resident is stopped (the machine is shared). Item 4 (the default run) is the integrator's; ``--items 4`` still
runs it here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import RESULTS, machine_line, markdown_table

AFTER = Path(__file__).resolve().parent.parent
RUNS = RESULTS / "speed_runs.json"
SECTION = "Before/after (issue 24)"
# a measurement's process is stopped past this resident memory: the machine (23 GB) is shared
MAX_RSS_GB = 12.0
# the trees of the records that carry no labels (the first run of this script)
OLD_LABELS = ("main 689f500 (the issue's baseline)", "branch `speed2`")


def measured_like(n: int = 27, groups: int = 3185, seed: int = 0, planted: bool = False) -> pd.DataFrame:
    """A selection shaped like the issue's measured one: n tasks, every single and pair, the all-task group and
    random larger groups up to ``groups`` networks, cost 1 each (a budget of k = k networks).

    With ``planted``, the larger groups are triples (27 singles, 351 pairs, the all-task group and 2,806 triples
    make the issue's 3,185) and the losses are measured from :func:`tg.estimate.planted_group_losses` (4 planted
    clusters, a capacity and a conflict term, 1 % noise: structure like a real measured table's); else the larger
    groups have any size from 3 to n - 1 and the losses come from an unstructured model (random symmetric pair
    affinity, a capacity penalty, 2 % noise), whose LP relaxation at k = 2 is far weaker than a real table's."""
    import itertools

    rng = np.random.default_rng(seed)
    sets = [frozenset([t]) for t in range(n)] + [frozenset(p) for p in itertools.combinations(range(n), 2)]
    sets.append(frozenset(range(n)))
    seen = set(sets)
    while len(sets) < groups:
        # planted: triples (the 3,185 groups of 27 tasks are 27 singles, 351 pairs, the all-task group and
        # 2,806 of the 2,925 triples); else any size from 3 to n - 1
        size = 3 if planted else int(rng.integers(3, n))
        s = frozenset(rng.choice(n, size=size, replace=False).tolist())
        if s not in seen:
            seen.add(s)
            sets.append(s)
    if planted:
        from taskgroup.estimate import planted_group_losses

        model = planted_group_losses(n, 4, seed=seed)
        rows = [
            {"network": f"g{i}", "task": task, "loss": loss, "cost": 1.0}
            for i, s in enumerate(sets)
            for task, loss in model.measure([model.tasks[t] for t in sorted(s)]).items()
        ]
        return pd.DataFrame(rows)
    base = rng.uniform(0.5, 1.5, n)
    A = rng.normal(0, 0.15, (n, n))
    A = (A + A.T) / 2
    rows = []
    for i, s in enumerate(sets):
        for t in sorted(s):
            others = [u for u in s if u != t]
            affinity = float(np.mean(A[t, others])) if others else 0.0
            loss = base[t] * (1 - affinity) * (1 + 0.03 * (len(s) - 1)) * (1 + rng.normal(0, 0.02))
            rows.append({"network": f"g{i}", "task": f"t{t}", "loss": loss, "cost": 1.0})
    return pd.DataFrame(rows)


TIES = """
import json, time, numpy as np, taskgroup as tg
from taskgroup.solvers.instance import SelectionInstance
try:
    from taskgroup.solvers.model import SelectionModel
except ImportError:  # before the model had its own module
    from taskgroup.solvers.ilp import SelectionModel
tg.solve(tg.datasets.synthetic_problem(4, seed=0), 2.0, method="ilp")  # load OR-Tools before timing
problem = tg.Problem.from_csv({path!r})
out = {{}}
for k in {ks}:
    wall, cpu = time.perf_counter(), time.process_time()
    instance = SelectionInstance.build(problem, np.array([float(k)]))
    first = SelectionModel(instance).run("loss")
    one = [time.perf_counter() - wall, time.process_time() - cpu]
    wall, cpu = time.perf_counter(), time.process_time()
    plan = tg.solve(problem, float(k), method="ilp")
    out[k] = {{"one": one, "solve": [time.perf_counter() - wall, time.process_time() - cpu],
              "objective": plan.objective, "networks": list(plan.networks), "optimal": plan.optimal}}
print(json.dumps(out))
"""

BUDGETS = """
import json, time, numpy as np
wall, cpu = time.perf_counter(), time.process_time()
import taskgroup as tg
problem = tg.datasets.synthetic_problem(8, seed=8)
start = [time.perf_counter(), time.process_time()]
plans = [tg.solve(problem, float(b)) for b in np.arange(1.0, 8.01, 0.5)]
out = {"budgets": [time.perf_counter() - start[0], time.process_time() - start[1]],
       "solvers": sorted({p.solver for p in plans}), "objectives": [p.objective for p in plans]}
print(json.dumps(out))
"""

FRONTIER = """
import json, sys, time
wall, cpu = time.perf_counter(), time.process_time()
import taskgroup as tg
problem = tg.datasets.synthetic_problem({n}, seed={n})
start = [time.perf_counter(), time.process_time()]
front = tg.frontier(problem)
out = {{"frontier": [time.perf_counter() - start[0], time.process_time() - start[1]],
       "process": [time.perf_counter() - wall, time.process_time() - cpu], "steps": len(front.plans),
       "objectives": [p.objective for p in front], "numba": "numba" in sys.modules}}
print(json.dumps(out))
"""

CLI = """
import json, resource, subprocess, sys, time
def used():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
wall, cpu = time.perf_counter(), used()
done = subprocess.run([sys.executable, "-m", "taskgroup", "frontier", {path!r}], capture_output=True, text=True)
if done.returncode != 0:
    raise SystemExit(done.stderr.strip().splitlines()[-1])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6  # the CLI's peak (kB -> GB), not this process's
print(json.dumps({{"cli": [time.perf_counter() - wall, used() - cpu], "lines": len(done.stdout.splitlines()),
                  "cli_peak_gb": peak}}))
"""

# the N(0, 1) affinity matrix of items 5, 5t, 5lp and 5s (seed 0, zero diagonal), as a snippet's lines
GROUPING_MATRIX = """
rng = np.random.default_rng(0)
values = rng.normal(0.0, 1.0, (n, n))
np.fill_diagonal(values, 0.0)
names = [f"t{{i}}" for i in range(n)]
matrix = pd.DataFrame(values, index=names, columns=names)
"""

GROUPING = (
    """
import json, time, numpy as np, pandas as pd, taskgroup as tg
n, k, limit = {n}, {k}, {limit}
"""
    + GROUPING_MATRIX
    + """wall, cpu = time.perf_counter(), time.process_time()
plan = tg.grouping.group(matrix, k, method="colgen", time_limit=limit)
print(json.dumps({{"seconds": [time.perf_counter() - wall, time.process_time() - cpu], "gap": plan.gap,
                  "optimal": plan.optimal, "objective": plan.objective}}))
"""
)

# the first plan of colgen: GROUPING with the start and end of each master MIP (the selection it gives is the
# plan a Ctrl-C after it keeps), timed by wrapping the solve call colgen makes (it imports `solve` when it runs)
GROUPING_FIRST_PLAN = (
    """
import json, time, numpy as np, pandas as pd, taskgroup as tg, taskgroup.solvers as solvers
n, k, limit = {n}, {k}, {limit}
"""
    + GROUPING_MATRIX
    + """masters, solve = [], solvers.solve
def timed(*args, **kwargs):
    begun = time.perf_counter() - wall
    plan = solve(*args, **kwargs)
    masters.append([begun, time.perf_counter() - wall, -plan.objective])
    return plan
solvers.solve = timed
wall, cpu = time.perf_counter(), time.process_time()
plan = tg.grouping.group(matrix, k, method="colgen", time_limit=limit)
print(json.dumps({{"seconds": [time.perf_counter() - wall, time.process_time() - cpu], "gap": plan.gap,
                  "optimal": plan.optimal, "objective": plan.objective, "masters": masters}}))
"""
)

# item 5t's text
FIRST_PLAN_TEXT = (
    "`GROUPING_FIRST_PLAN` in `benchmarks/speed.py`: the instances of item 5, each master MIP timed from the "
    "start of `tg.grouping.group` (`first MIP plan`: the first MIP returned, the first plan better than the "
    "local-search start can come from it; a Ctrl-C during that MIP keeps its best selection so far), and the "
    "plan a user "
    "gets with each time limit (`value`, `gap`). Before: the first master MIP ran once the heuristic phase "
    "found no improving column (or after 50 rounds / 50 flat rounds); after: it runs during that phase once "
    "the LP's gain per CPU second over its last 2 rounds falls below 0.2 of the phase's average "
    "(`colgen._gain_waning`) or half the time limit is spent, and the phase then goes on as before. Before "
    "and after alternate, one run at a time under `nice -n 5`, on the "
    "shared 2-core machine (`load`: the load average at the start of each run). Medians over the runs "
    "(`proven`: how many runs proved their plan optimal), then every run. At 60 tasks with a limit of 60 s "
    "or less, before, the heuristic phase filled the limit and the only MIP was the last one, given 1 s at the "
    "deadline; after, the first MIP runs by half the limit, but over these columns (and with no start "
    "solution) HiGHS finds nothing better than the local-search start in the time left, so `value` is that "
    "start's (it varies with the CPU the start's own time limit got)."
)

# item 5lp's text (its runs are GROUPING_FIRST_PLAN's, on a before tree whose master LP runs dual simplex)
LP_TEXT = (
    "`GROUPING_FIRST_PLAN` (item 5t's instances and columns) with the restricted master LP "
    "(`taskgroup/grouping/master_lp.py`) solved by HiGHS dual simplex (`method='highs'`, before) or interior point "
    "(`method='highs-ipm'`, after; scipy runs its crossover, so the duals are those of a basic optimum). Checked "
    "first on the LPs of colgen's heuristic phase (30 tasks k = 2, 3, 4 to convergence, 60 tasks k = 3 for 15 "
    "rounds): the same value to 1e-15 relative, and interior point's duals optimal (dual objective = value and "
    "every column's reduced profit <= mu to 3e-14), though not always the same duals as simplex's (the LP is "
    "degenerate), so the two runs price different columns. LP CPU time, simplex / interior point: 886 columns "
    "5.35 / 2.63 s, 1,489 columns 16.8 / 5.6 s; at 30 tasks (<= 400 columns) within 0.1 s. Before and after "
    "alternate, one run at a time under `nice -n 5`, numba caches warmed first, on the shared 2-core machine "
    "(`load` at the start of each run; about 1: the machine was otherwise near idle); two runs per side at 30 "
    "tasks, one at 60 tasks (the deadline of the session). Adopted: at 60 tasks the first master MIP starts at "
    "22 s instead of 58 s and its plan comes at 64 s instead of 110 s, with the same final value and gap; at 30 "
    "tasks every case is still proven (k = 2 sooner, 30 s against 53 s in both runs, likely from the other duals' "
    "columns), the first MIP plan 0.2-0.6 s "
    "later (interior point's start-up on small LPs)."
)

# item 5s's text (its runs are GROUPING_FIRST_PLAN's, before/after colgen's longer start and polished MIP plans)
START_TEXT = (
    "`GROUPING_FIRST_PLAN` (item 5's instances) before and after two changes to colgen's incumbent: its "
    "local-search start runs until 10 kicks in a row find nothing better (`START_PATIENCE` in "
    "`taskgroup/grouping/group.py`; before: 10 kicks in all), within half the time limit (`START_SHARE`; before "
    "15 %); and a master MIP selection better than the incumbent is improved by the same local search "
    "(`colgen.POLISH_PATIENCE`), whose groups join the columns. The bound is untouched: only the value moves. "
    "Before and after alternate, one run at a time under `nice -n 5`, on the shared 2-core machine (`load` at the "
    "start of each run; about 1: otherwise quiet); one run per side (a first try of the after side, with the start "
    "limited to 15 % of the limit and a plain descent from every MIP plan, gave the same values at 10, 30 and 300 s as "
    "before and 14.09 at 60 s). At 30 tasks every case is proven either way, in about the same time (the start "
    "stops by its patience in 1-2 s). At 60 tasks the plan is better at every limit: 13.05 instead of 10.47 at "
    "10 s, 14.09 instead of 13.05 at 30 and 60 s, 14.13 instead of 14.10 at 300 s. 14.13 is also the best value "
    "found by plain local search (`local_search` with no round cap, 30-60 s, seeds 0-2: 14.09, 14.13, 14.13) and "
    "the best known for this matrix; the gap stays 365 %, all of it the bound's (the group-size bound)."
)

# why the 60-task bound stays at the group-size bound: the LP over heuristic columns (column_generation's first
# phase, run here to convergence), its duals, the pricing bound a 5 % gap would need there, the search's root bound,
# and the bound the exact pricing search reaches in `seconds`
GROUPING_BOUND = """
import json, time, numpy as np
from taskgroup.grouping import colgen
from taskgroup.grouping.cover import GroupScorer
from taskgroup.grouping.heuristics import local_search
from taskgroup.grouping.master_lp import master_lp
from taskgroup.grouping.pricing import _root_bounds, price_pairwise
n, k, seconds = {n}, {k}, {seconds}
rng = np.random.default_rng(0)
S = rng.normal(0.0, 1.0, (n, n))
np.fill_diagonal(S, 0.0)
scorer, zero = GroupScorer(S, False), np.zeros((n + 1, n))
start, _ = local_search(scorer, k, seed=0, time_limit=None, max_rounds=10)
columns = dict.fromkeys(start)
for _ in range(200):
    order = list(columns)
    lp, pi, mu, x = master_lp(scorer, order, k)
    seeds = [g for g, used in zip(order, x) if used > 1e-7] + order[-4 * n:] + start
    added = colgen._heuristic_columns(scorer, zero, pi, mu, seeds, columns)
    if not added:
        break
    columns.update(dict.fromkeys(added))
priced = price_pairwise(S, zero, pi, range(2, n + 1), incumbent=mu, deadline=time.perf_counter() + seconds)
print(json.dumps({{"size bound": scorer.size_bound(k), "LP (heuristic columns)": lp, "sum pi": float(pi.sum()),
                  "mu": mu, "P bound for 5 % above the LP": (1.05 * lp - float(pi.sum())) / k,
                  "root bound": _root_bounds(S, zero, pi, range(2, n + 1))[0][0],
                  f"bound after {{seconds}} s": priced.bound, "nodes": priced.nodes}}))
"""


def child(code: str, tree: Path, cache: str, timeout: float, max_rss_gb: float = MAX_RSS_GB) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter on ``tree``; its last stdout line is JSON. Failures are recorded, and so
    are the load average at the start (the machine is shared) and the child's peak memory. A child whose resident
    memory passes ``max_rss_gb`` is stopped (the machine's other jobs come first) and recorded as such."""
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": cache}
    load = os.getloadavg()[0]
    started = time.perf_counter()
    # cwd: not a source tree, or `python -c` would import taskgroup from the working directory, not PYTHONPATH
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)], stdout=out, stderr=err, env=env, cwd=cache_parent(cache)
        )
        peak, stopped = 0.0, ""
        while process.poll() is None:
            peak = max(peak, _rss_gb(process.pid))
            if peak > max_rss_gb:
                stopped = f"stopped at {peak:.1f} GB resident (limit {max_rss_gb:g} GB)"
            elif time.perf_counter() - started > timeout:
                stopped = f"not finished within {timeout:.0f} s"
            if stopped:
                process.kill()
                process.wait()
                return {"error": stopped, "load": load, "peak_gb": peak}
            time.sleep(0.2)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        message = stderr.strip().splitlines()[-1] if stderr.strip() else f"exit {process.returncode}"
        return {"error": message, "load": load, "peak_gb": peak}
    return {**json.loads(stdout.strip().splitlines()[-1]), "load": load, "peak_gb": peak}


def _rss_gb(pid: int) -> float:
    """Resident memory of a process in GB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return 0.0


def cache_parent(cache: str) -> str:
    """The folder above a numba cache folder of the run (a scratch folder, outside every source tree)."""
    parent = Path(cache).parent
    parent.mkdir(parents=True, exist_ok=True)
    return str(parent)


def load_runs() -> dict[str, Any]:
    return json.loads(RUNS.read_text()) if RUNS.exists() else {}


def record(runs: dict[str, Any], key: str, value: Any) -> None:
    runs[key] = value
    RUNS.write_text(json.dumps(runs, indent=1))
    print(f"[{time.strftime('%H:%M:%S')}] {key}: {json.dumps(value)[:200]}", flush=True)


def measure_item(runs: dict[str, Any], item: str, trees: dict[str, Path], make, repeats: int, timeout: float) -> None:
    """``make(side, repeat) -> (code, cache)``; before and after alternate, ``repeats`` times each."""
    for r in range(repeats):
        for side, tree in trees.items():
            key = f"{item}/{side}/{r}"
            if key not in runs:
                code, cache = make(side, r)
                record(runs, key, child(code, tree, cache, timeout))


def run_item4(runs: dict[str, Any], trees: dict[str, Path], args: argparse.Namespace, work: Path) -> None:
    """The default ``taskgroup run`` (small mnist) on each tree, quiet, then beside one busy process."""
    params = ["--suite-param", "n_train=800", "--suite-param", "n_val=300", "--suite-param", "scarce=100"]
    for load in ("quiet", "busy"):
        for side, tree in trees.items():
            key = f"4/{side}/{load}"
            if key in runs:
                continue
            out = work / f"run-{side}-{load}"
            env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(work / "numba-run")}
            env.pop("OMP_NUM_THREADS", None)
            hog = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if load == "busy" else None
            try:
                wall = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "taskgroup", "run", *params, "--epochs", str(args.run_epochs)]
                    + ["--out", str(out), "-q"],
                    capture_output=True,
                    text=True,
                    env=env,
                    timeout=args.timeout,
                    cwd=work,
                )
                seconds = time.perf_counter() - wall
            except subprocess.TimeoutExpired:
                done, seconds = None, float("nan")
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
            value: dict[str, Any] = {"seconds": seconds}
            if done is None or done.returncode != 0:
                value["error"] = "timeout" if done is None else done.stderr.strip().splitlines()[-1]
            record(runs, key, value)


def median(values: list[float]) -> float:
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


def side_values(runs: dict[str, Any], item: str, side: str) -> list[dict[str, Any]]:
    return [v for k, v in runs.items() if k.startswith(f"{item}/{side}/") and "error" not in v]


def sides_line(runs: dict[str, Any], item: str) -> list[str]:
    """The line naming a part's before and after trees, where the run recorded them (``--labels``)."""
    labels = runs.get("labels", {}).get(item)
    return [f"Before = {labels[0]}, after = {labels[1]}.", ""] if labels else []


def render(runs: dict[str, Any], repeats: int) -> str:
    parts = [
        f"Written by `python -m benchmarks.speed` ({machine_line()}). Each part names its before and after "
        f"trees (where it does not: before = {OLD_LABELS[0]}, after = {OLD_LABELS[1]}); every number from a fresh "
        "process, before and after alternating in one session. **The machine was shared** (2 cores, other "
        "engineers' jobs and training runs beside these, all run under `nice -n 5`): `load` is the load average "
        "when each measurement started, wall times are inflated by it, and the CPU seconds of the measured "
        "process are given beside them; ratios measured side by side are the numbers to compare. Medians of "
        f"{repeats} runs unless noted.",
        "",
    ]
    rows = []
    for key, v in runs.items():
        if not key.startswith("1/") or "error" in v:
            continue
        _, side, *spec = key.split("/")
        for k, m in v.items():
            if k.isdigit():
                rows.append(
                    {
                        "instance": "/".join(spec[:3]),
                        "k": int(k),
                        "side": side,
                        **{f"{a}_{b}": m[a][i] for a in ("one", "solve") for i, b in enumerate(("wall", "cpu"))},
                        "objective": m["objective"],
                        "load": round(v["load"], 1),
                    }
                )
    errors = [f"{key}: {v['error']}" for key, v in runs.items() if key.startswith("1/") and "error" in v]
    if rows or errors:
        parts += [
            "### 1. Tie-breaking on a measured-like selection (`tg.solve(..., method='ilp')`)",
            "",
            "`benchmarks.speed.measured_like(n, groups, planted=...)`: every single and pair, the all-task group "
            "and random larger groups (cost 1 each, budget k = k networks); `planted/27/3185` has the issue's size "
            "and shape (27 singles, 351 pairs, the all-task group, 2,806 triples) with losses from "
            "`tg.estimate.planted_group_losses` (clusters, like a real table); `random/...` (if present) groups of "
            "any size and unstructured losses (a weak LP: the MIP itself takes a minute). Budgets k = 2 (the "
            "issue's), 3 and 4. `one` = building the model and its first solve alone; `solve` = `tg.solve` with the "
            "tie rule (target: solve <= 1.3 x one). One run per side. At k = 2 a cheaper plan can hold one network "
            "only, which `_cheaper_single` settles by a scan; above, before: a MIP probe (the model with the "
            "objective capped at the tie and the total cost below the plan's) decides; after: a dual bound "
            "(`taskgroup.solvers.tie_bound`: column generation on the LP relaxation of the cheaper plans, a few "
            "small GLOP LPs) proves that no cheaper plan ties, and the probe runs only where it cannot.",
            "",
            *sides_line(runs, "1"),
        ]
        if rows:
            frame = pd.DataFrame(rows)
            frame["solve / one (cpu)"] = frame["solve_cpu"] / frame["one_cpu"]
            parts += [markdown_table(frame), ""]
        parts += [f"Failed: {e}" for e in errors] + ([""] if errors else [])
    for item, title, field in (
        (
            "2",
            "### 2. `tg.solve` at all 15 budgets (1..8 step 0.5) of `synthetic_problem(8)`, fresh process, method auto",
            "budgets",
        ),
        ("3c", "### 3. Cold start: first `tg.frontier(synthetic_problem(14))` with an empty numba cache", "frontier"),
        (
            "3l",
            "### 3. Cold start of the CLI: `taskgroup frontier` on `synthetic_problem(14)` saved as a CSV, empty "
            "numba cache, the whole process (target < 2 s on a quiet machine)",
            "cli",
        ),
        (
            "3w",
            "### 3. Warm cache: `tg.frontier(synthetic_problem(14))` in a fresh process, numba cache filled by "
            "an earlier process",
            "frontier",
        ),
        (
            "6",
            "### 6. Whole exact frontier at n = 20 (`tg.frontier(synthetic_problem(20))`, 2^20 candidates), "
            "after only, one run (target < 5 min)",
            "frontier",
        ),
    ):
        table = []
        for side in ("before", "after"):
            values = side_values(runs, item, side)
            errors = [v["error"] for k, v in runs.items() if k.startswith(f"{item}/{side}/") and "error" in v]
            if not values and not errors:
                continue
            row = {"side": side, "runs": len(values)}
            if values:
                row.update(
                    {"wall s": median([v[field][0] for v in values]), "cpu s": median([v[field][1] for v in values])}
                )
                if "process" in values[0]:
                    row["process wall s (import + problem + frontier)"] = median([v["process"][0] for v in values])
                    row["process cpu s"] = median([v["process"][1] for v in values])
                if "solvers" in values[0]:
                    row["solver"] = " ".join(values[0]["solvers"])
                if "steps" in values[0]:
                    row["steps"] = values[0]["steps"]
                if "numba" in values[0]:
                    row["numba imported"] = values[0]["numba"]
                row["peak GB"] = max(v.get("cli_peak_gb", v.get("peak_gb", float("nan"))) for v in values)
            row["load"] = round(median([v["load"] for k, v in runs.items() if k.startswith(f"{item}/{side}/")]), 1)
            if errors:
                row["failed"] = errors[0]
            table.append(row)
        if table:
            parts += [title, "", *sides_line(runs, item), markdown_table(pd.DataFrame(table)), ""]
    rows = [dict(load=k.split("/")[2], side=k.split("/")[1], **v) for k, v in runs.items() if k.startswith("4/")]
    if rows:
        parts += [
            "### 4. Default `taskgroup run` (mnist, n_train=800, n_val=300, scarce=100, short epochs), quiet and "
            "beside one `while True: pass` process",
            "",
            "Before: serial measurement, torch threads = cores. After: executor `auto` (one process per core, one "
            "thread each) and one thread for the plan's networks. One run each; the 'quiet' machine was not quiet.",
            "",
            markdown_table(pd.DataFrame(rows)),
            "",
        ]
    rows = []
    for key, v in runs.items():
        if key.startswith("5/") and not key.startswith("5/diagnosis/"):
            _, side, n, k = key.split("/")
            row: dict[str, Any] = {"tasks": int(n), "k": int(k), "side": side, "load": round(v["load"], 1)}
            if "error" in v:
                row["error"] = v["error"]
            else:
                row.update(
                    {"wall s": v["seconds"][0], "cpu s": v["seconds"][1], "gap": v["gap"], "proven": v["optimal"]}
                )
                row["value"] = -v["objective"]
            rows.append(row)
    if rows:
        frame = pd.DataFrame(rows).sort_values(["tasks", "k", "side"], ascending=[True, True, False])
        parts += [
            "### 5. Grouping on unstructured N(0, 1) affinities (`tg.grouping.group(..., method='colgen')`)",
            "",
            "`GROUPING` in `benchmarks/speed.py`: an N(0, 1) matrix (seed 0, zero diagonal), time limit 60 s at 30 "
            "tasks (target: proven or gap <= 2 %) and 300 s at 60 tasks (target: gap <= 5 %); the limit is wall "
            "time, so on the shared machine the method had the CPU seconds shown. `gap` = (bound - value) / value, "
            "`value` the total affinity of the plan, `load` the load average when the run started. Before: main "
            "53293da; after: branch colgen60 (exact pricing while affordable instead of a tolerance ladder, swap "
            "moves in heuristic pricing, proofs by fixing only after an exact pricing, at most 500 columns in the "
            "LP; merged with main ee3c6f4 after tie3 landed, so its master MIP runs on tie3's solvers). Before and "
            "after alternate, one run at a time under `nice -n 5`, on a machine shared with two other engineers' "
            "jobs (load 5-6: each run had ~2/3 of a core). At 60 tasks the bound of both sides is the group-size "
            "bound (65.65): no pricing at 60 tasks gets below it (see the note under the table).",
            "",
            markdown_table(frame),
            "",
        ]
        diagnosis = runs.get("5/diagnosis/60/3")
        if diagnosis and "error" not in diagnosis:
            parts += [
                "Why the 60-task bound does not move (`GROUPING_BOUND`, k = 3, branch colgen60): a selection's value "
                "is at most `sum(pi) + k * max_G P(G)` for any duals `pi`; at the duals of the LP over heuristic "
                "columns, a bound 5 % above that LP needs an upper bound on `max_G P(G)` within a few % of `mu` "
                "(the reduced profit of the LP's own columns), while the pricing search's root bound is several "
                "times `mu` and the search, stopped after the time shown, has not moved its bound (depth-first: "
                "the bound is that of its open nodes near the root). The LP itself is within about 1 % of the "
                "plan's value: it is the pricing problem (a cardinality-constrained quadratic selection over 60 "
                "tasks with N(0, 1) weights, at group sizes 15-40) that cannot be bounded tightly in minutes.",
                "",
                markdown_table(
                    pd.DataFrame([{k: round(v, 4) for k, v in diagnosis.items() if k not in ("load", "peak_gb")}])
                ),
                "",
            ]
    parts += render_first_plan(runs)
    parts += render_lp(runs)
    parts += render_start(runs)
    if not any(k.startswith("4/") for k in runs):
        parts += ["Item 4 (the default run, quiet and busy) is the integrator's and is measured there.", ""]
    return "\n".join(parts)


def first_plan_tables(runs: dict[str, Any], item: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The runs of a first-plan item (5t, 5lp, 5s): medians per case and side, and every run."""
    rows = []
    for key, v in runs.items():
        if not key.startswith(f"{item}/"):
            continue
        _, side, n, k, limit, repeat = key.split("/")
        row: dict[str, Any] = {"tasks": int(n), "k": int(k), "limit s": float(limit), "side": side, "run": int(repeat)}
        row["load"] = round(v["load"], 1)
        if "error" in v:
            row["error"] = v["error"]
        else:
            first = v["masters"][0] if v["masters"] else [float("nan")] * 3
            row.update({"first MIP starts s": first[0], "first MIP plan s": first[1], "first MIP value": first[2]})
            row.update({"wall s": v["seconds"][0], "cpu s": v["seconds"][1], "value": -v["objective"]})
            row.update({"gap": v["gap"], "proven": v["optimal"]})
        rows.append(row)
    if not rows:
        return None
    frame = pd.DataFrame(rows).sort_values(["tasks", "k", "limit s", "run", "side"], ascending=[1, 1, 1, 1, 0])
    done = frame[frame["wall s"].notna()] if "wall s" in frame else frame.iloc[:0]
    summary = (
        done.groupby(["tasks", "k", "limit s", "side"], sort=False)
        .agg(
            runs=("run", "size"),
            **{
                "first MIP starts s": ("first MIP starts s", "median"),
                "first MIP plan s": ("first MIP plan s", "median"),
                "value": ("value", "median"),
                "gap": ("gap", "median"),
                "proven": ("proven", "sum"),
                "wall s": ("wall s", "median"),
            },
        )
        .reset_index()
    )
    return summary, frame


def render_first_plan(runs: dict[str, Any]) -> list[str]:
    """Item 5t: colgen's first plan and its plan at several time limits, before/after the tail rule."""
    return _first_plan_section(runs, "5t", "Colgen's first plan: the slow tail of the heuristic phase", FIRST_PLAN_TEXT)


def render_lp(runs: dict[str, Any]) -> list[str]:
    """Item 5lp: colgen with the master LP by dual simplex (before) or interior point (after)."""
    return _first_plan_section(runs, "5lp", "Colgen's master LP: dual simplex or interior point", LP_TEXT)


def render_start(runs: dict[str, Any]) -> list[str]:
    """Item 5s: colgen with a longer local-search start and polished master MIP selections."""
    return _first_plan_section(runs, "5s", "Colgen's incumbent: a longer start, polished MIP plans", START_TEXT)


def _first_plan_section(runs: dict[str, Any], item: str, title: str, text: str) -> list[str]:
    """A section of ``GROUPING_FIRST_PLAN`` runs: its title, sides, text, medians, then every run."""
    tables = first_plan_tables(runs, item)
    if tables is None:
        return []
    summary, frame = tables
    return [
        f"#### {item}. {title}",
        "",
        *sides_line(runs, item),
        text,
        "",
        markdown_table(summary),
        "",
        markdown_table(frame),
        "",
    ]


def write_section(body: str) -> Path:
    """Replace (or add) the section of solvers.md that this script owns; the other sections stay as they are."""
    path = RESULTS / "solvers.md"
    text = path.read_text() if path.exists() else "# Solver benchmark\n"
    marker = f"## {SECTION}"
    if marker in text:
        head, _, rest = text.partition(marker)
        following = rest.find("\n## ")
        text = head + marker + "\n\n" + body.strip() + "\n" + (rest[following:] if following >= 0 else "")
    else:
        text = text.rstrip() + "\n\n" + marker + "\n\n" + body.strip() + "\n"
    path.write_text(text)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True, help="source tree of the code to compare against")
    parser.add_argument("--items", default="1,2,3,4,5,6")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per measurement")
    parser.add_argument("--run-epochs", type=int, default=5)
    parser.add_argument(
        "--ties",
        action="append",
        default=None,
        help="item 1: planted|random/TASKS/GROUPS (repeatable; default planted/27/3185)",
    )
    parser.add_argument(
        "--grouping",
        action="append",
        default=None,
        help="item 5: TASKS/SECONDS/K,K,... (repeatable; default 30/60/2,3,4 and 60/300/3)",
    )
    parser.add_argument(
        "--first-plan",
        action="append",
        default=None,
        help="item 5t: TASKS/LIMIT,LIMIT,.../K,K,... (repeatable; default 60/300/3)",
    )
    parser.add_argument("--first-plan-runs", type=int, default=2, help="items 5t, 5lp and 5s: runs per side")
    parser.add_argument(
        "--lp",
        action="append",
        default=None,
        help="item 5lp: TASKS/LIMIT,LIMIT,.../K,K,... (repeatable; default 30/60/2,3,4 and 60/300/3)",
    )
    parser.add_argument(
        "--start",
        action="append",
        default=None,
        help="item 5s: TASKS/LIMIT,LIMIT,.../K,K,... (repeatable; default 30/60/2,3,4 and 60/10,30,60,300/3)",
    )
    parser.add_argument(
        "--labels",
        nargs=2,
        metavar=("BEFORE", "AFTER"),
        help="names of the two trees, kept with the items measured in this run (e.g. 'main 53293da' 'branch tie3')",
    )
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args(argv)
    args.grouping = args.grouping or ["30/60/2,3,4", "60/300/3"]
    args.ties = args.ties or ["planted/27/3185"]
    args.first_plan = args.first_plan or ["60/300/3"]
    args.lp = args.lp or ["30/60/2,3,4", "60/300/3"]
    args.start = args.start or ["30/60/2,3,4", "60/10,30,60,300/3"]
    trees = {"before": args.before.resolve(), "after": AFTER}
    items = set(args.items.split(","))
    runs = load_runs()
    work = Path(tempfile.mkdtemp(prefix="tg-speed-"))
    if args.labels and not args.render_only:
        for item in items:
            for part in {"3": ("3c", "3w")}.get(item, (item,)):
                runs.setdefault("labels", {})[part] = list(args.labels)
    if not args.render_only:
        if "2" in items:
            measure_item(
                runs, "2", trees, lambda s, r: (BUDGETS, str(work / f"nb2-{s}-{r}")), args.repeats, args.timeout
            )
        if "3" in items:
            measure_item(
                runs,
                "3c",
                trees,
                lambda s, r: (FRONTIER.format(n=14), str(work / f"cold-{s}-{r}")),
                args.repeats,
                args.timeout,
            )
            for side, tree in trees.items():  # fill each tree's cache: n = 16 runs the compiled grid kernel
                child(FRONTIER.format(n=16), tree, str(work / f"warm-{side}"), args.timeout)
            measure_item(
                runs,
                "3w",
                trees,
                lambda s, r: (FRONTIER.format(n=14), str(work / f"warm-{s}")),
                args.repeats,
                args.timeout,
            )
        if "3l" in items:
            csv = work / "synthetic_14.csv"
            from taskgroup.datasets import synthetic_problem

            synthetic_problem(14, seed=14).to_frame().to_csv(csv, index=False)
            measure_item(
                runs,
                "3l",
                trees,
                lambda s, r: (CLI.format(path=str(csv)), str(work / f"cli-{s}-{r}")),
                args.repeats,
                args.timeout,
            )
        if "1" in items:
            for spec in args.ties:
                kind, n, groups = spec.split("/")
                csv = work / f"measured_like_{kind}_{n}_{groups}.csv"
                measured_like(int(n), int(groups), planted=kind == "planted").to_csv(csv, index=False)
                for side, tree in trees.items():
                    key = f"1/{side}/{spec}"
                    if key not in runs:
                        code = TIES.format(path=str(csv), ks=[2, 3, 4])
                        record(runs, key, child(code, tree, str(work / f"nb1-{side}"), args.timeout))
        if "4" in items:
            run_item4(runs, trees, args, work)
        if "5" in items:
            for spec in args.grouping:
                n, limit, ks = spec.split("/")
                for k in ks.split(","):
                    for side, tree in trees.items():
                        key = f"5/{side}/{n}/{k}"
                        if key not in runs:
                            code = GROUPING.format(n=int(n), k=int(k), limit=float(limit))
                            record(runs, key, child(code, tree, str(work / f"nb5-{side}"), float(limit) + 180))
            if "5/diagnosis/60/3" not in runs:
                code = GROUPING_BOUND.format(n=60, k=3, seconds=60.0)
                record(runs, "5/diagnosis/60/3", child(code, AFTER, str(work / "nb5-after"), 900.0))
        # the same runs, on other trees
        for item, specs in (("5t", args.first_plan), ("5lp", args.lp), ("5s", args.start)):
            if item not in items:
                continue
            for r in range(args.first_plan_runs):
                for spec in specs:
                    n, limits, ks = spec.split("/")
                    for k in ks.split(","):
                        for limit in limits.split(","):
                            for side, tree in trees.items():
                                key = f"{item}/{side}/{n}/{k}/{limit}/{r}"
                                if key not in runs:
                                    code = GROUPING_FIRST_PLAN.format(n=int(n), k=int(k), limit=float(limit))
                                    cache = str(work / f"nb5-{side}")
                                    record(runs, key, child(code, tree, cache, float(limit) + 180))
        if "6" in items:
            measure_item(
                runs, "6", {"after": AFTER}, lambda s, r: (FRONTIER.format(n=20), str(work / "nb6")), 1, args.timeout
            )
    print(f"wrote {write_section(render(runs, args.repeats))}")


if __name__ == "__main__":
    main()
