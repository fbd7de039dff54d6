"""The report of a ``taskgroup run``: a self-contained HTML page plus its PNG figures.

Figures: the budget frontier (with 95 % error bars where the losses' standard errors are known) with the
all-in-one network, the independent single-task networks and the chosen plan marked; the pairwise affinity
heatmap; the chosen grouping as a diagram (which network serves which task). Tables: per-task test metrics
(single-task baseline, the plan's network), Δm% with its 95 % interval (and whether the plan's advantage is
significant), with ``--distill`` the plan distilled into one network beside its teachers and the vanilla
network, the run's settings and the time each step took, and — when ``taskgroup plan-cost`` has written
``plan_cost.json`` into the run folder — the plan's measured latency, throughput and peak memory on that machine
beside the costs it was chosen with. Images are embedded as data URIs so the page stands alone.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from taskgroup.naming import is_full_size, network_name
from taskgroup.objectives import describe_objective, objective_axis_label
from taskgroup.outputs import output_path
from taskgroup.plan import Plan
from taskgroup.problem import Problem
from taskgroup.serve.plan_cost_file import PLAN_COST_FILE, read_plan_cost
from taskgroup.solvers import plot_frontier

if TYPE_CHECKING:
    from taskgroup.run_settings import RunOutcome, RunSettings
    from taskgroup.train.run import TrainReport

__all__ = [
    "write_report",
    "plot_affinity",
    "plot_grouping",
    "frontier_markers",
    "metrics_table",
    "plan_cost_section",
    "significance",
    "delta_m_summary",
]


def frontier_markers(problem: Problem, plan: Plan) -> dict[str, tuple[float, float]]:
    """(cost, objective) of the all-in-one network, the independent single-task networks and the plan.

    A marker is left out when the problem has no such candidates (e.g. no network serves every task).

    Parameters
    ----------
    problem : Problem
        The selection problem; costs are its first cost column.
    plan : Plan
        The chosen plan.

    Returns
    -------
    dict of str to (float, float)
        Label (``"all-in-one network"``, ``"independent single-task networks"``, ``"chosen plan"``) to cost and
        objective (a score when higher is better).
    """
    markers: dict[str, tuple[float, float]] = {}
    sign = -1.0 if problem.higher_is_better else 1.0
    full = [n for n in problem.networks if is_full_size(n)]
    everything = [n for n in full if len(problem.network_tasks(n)) == problem.n_tasks]
    if everything:
        chosen = problem.evaluate(everything[:1])
        markers["all-in-one network"] = (
            float(problem.costs[problem.network_index(everything[0]), 0]),
            sign * chosen.objective,
        )
    singles = {problem.network_tasks(n)[0]: n for n in full if len(problem.network_tasks(n)) == 1}
    if len(singles) == problem.n_tasks:
        names = list(singles.values())
        cost = float(sum(problem.costs[problem.network_index(n), 0] for n in names))
        markers["independent single-task networks"] = (cost, sign * problem.evaluate(names).objective)
    markers["chosen plan"] = (plan.cost[problem.cost_names[0]], plan.score)
    return markers


def plot_affinity(matrix: pd.DataFrame, path: Path, title: str) -> None:
    """Heatmap of ``matrix.loc[source, target]`` with the values written in the cells.

    Parameters
    ----------
    matrix : pandas.DataFrame
        Square affinity table, sources as rows and targets as columns (NaN cells are left blank).
    path : Path
        The image file to write (its suffix picks the format).
    title : str
        The figure's title.
    """
    # A Figure without pyplot: no global backend switch and no figure left open in the caller's session.
    from matplotlib.figure import Figure

    values = matrix.to_numpy(dtype=float)
    n = len(matrix)
    fig = Figure(figsize=(1.0 + 0.7 * n, 0.8 + 0.6 * n), dpi=120)
    ax = fig.subplots()
    limit = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    image = ax.imshow(values, cmap="RdBu", vmin=-limit, vmax=limit)
    ax.set_xticks(range(n), matrix.columns, rotation=45, ha="right")
    ax.set_yticks(range(n), matrix.index)
    ax.set_xlabel("target (task helped or hurt)")
    ax.set_ylabel("source (task trained with it)")
    for i in range(n):
        for j in range(n):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.2g}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)


def plot_grouping(plan: Plan, tasks: list[str], path: Path) -> None:
    """Tasks on the left, the plan's networks on the right; a solid line where a network serves a task,
    a dashed grey line where it is trained on the task but another network serves it better.

    Parameters
    ----------
    plan : Plan
        The plan drawn.
    tasks : list of str
        Every task of the problem, top to bottom.
    path : Path
        The image file to write.
    """
    import matplotlib
    from matplotlib.figure import Figure

    networks = list(plan.networks)
    height = max(len(tasks), len(networks))
    fig = Figure(figsize=(6.4, 0.8 + 0.55 * height), dpi=120)
    ax = fig.subplots()
    task_y = {t: height - 1 - i * (height - 1) / max(1, len(tasks) - 1) for i, t in enumerate(tasks)}
    net_y = {n: height - 1 - i * (height - 1) / max(1, len(networks) - 1) for i, n in enumerate(networks)}
    if len(networks) == 1:
        net_y = {networks[0]: (height - 1) / 2}
    colours = matplotlib.colormaps["tab10"]
    for k, detail in enumerate(plan.details):
        for t in detail.trained_tasks:
            serves = t in detail.serves
            ax.plot(
                [0, 1],
                [task_y[t], net_y[detail.name]],
                color=colours(k % 10) if serves else "0.75",
                linestyle="-" if serves else "--",
                linewidth=2.2 if serves else 1.0,
                zorder=1,
            )
    for t, y in task_y.items():
        ax.text(-0.02, y, t, ha="right", va="center", fontsize=9)
    for k, (n, y) in enumerate(net_y.items()):
        cost = ", ".join(f"{v:.3g}" for v in plan.details[k].cost.values())
        ax.text(1.02, y, f"{n}  (cost {cost})", ha="left", va="center", fontsize=9, color=colours(k % 10))
    ax.scatter([0] * len(task_y), list(task_y.values()), color="black", zorder=2, s=18)
    ax.scatter(
        [1] * len(net_y), list(net_y.values()), color=[colours(k % 10) for k in range(len(net_y))], zorder=2, s=40
    )
    ax.set_xlim(-0.45, 1.65)
    ax.set_ylim(-0.7, height - 0.3)
    ax.axis("off")
    ax.set_title("Chosen grouping: task → network that serves it (dashed: trained on, not serving)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def metrics_table(train: Any, plan: Plan) -> pd.DataFrame:
    """Per task and metric: single-task baseline, the plan's network, and (with distillation) the student.

    Parameters
    ----------
    train : TrainReport
        The run's training report.
    plan : Plan
        The plan trained (its assignment gives the rows' tasks and networks).

    Returns
    -------
    pandas.DataFrame
        Columns ``task, network, metric, single-task, plan``, then ``distilled`` and ``all-in-one`` when the
        report has them; NaN where a value is missing.
    """
    rows = []
    for task, network in plan.assignment.items():
        base = train.baselines.get(task, {})
        multi = train.multitask.get(task, {})
        student = train.student.get(task, {})
        for metric in sorted(set(base) | set(multi) | set(student)):
            row = {
                "task": task,
                "network": network,
                "metric": metric,
                "single-task": base.get(metric, np.nan),
                "plan": multi.get(metric, np.nan),
            }
            if train.student:
                row["distilled"] = student.get(metric, np.nan)
            if train.all_in_one:
                row["all-in-one"] = train.all_in_one.get(task, {}).get(metric, np.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def distillation_table(distilled: Any) -> pd.DataFrame:
    """Per task and metric, side by side: single-task baseline, the teachers (the plan's networks), the vanilla
    all-in-one network and the distilled student (a :class:`~taskgroup.train.compress.DistillReport`)."""
    rows = []
    for task, metrics in distilled.student.items():
        for metric in metrics:
            rows.append(
                {
                    "task": task,
                    "metric": metric,
                    "single-task": distilled.baselines.get(task, {}).get(metric, np.nan),
                    "teachers (plan)": distilled.teachers.get(task, {}).get(metric, np.nan),
                    "vanilla": distilled.vanilla[task][metric],
                    "student": metrics[metric],
                }
            )
    return pd.DataFrame(rows)


def distillation_section(distilled: Any) -> str:
    """The "Distillation" section of a ``run --distill`` report ("" without one): the table of
    :func:`distillation_table`, Δm% of each group and the fraction of the teachers' gain the student kept."""
    if distilled is None:
        return ""
    dm = distilled.delta_m
    kept = (
        "undefined: the teachers are no better than the vanilla network"
        if distilled.kept_fraction is None
        else f"{distilled.kept_fraction:.2f}"
    )
    note = (
        f"The plan's networks taught one all-in-one network (the student; {html.escape(distilled.manifest)}) on "
        "every training row, beside the same network trained on the labels alone (vanilla, same seed and batches). "
        f"Δm% against the single-task baselines: teachers {dm['teachers']:+.2f}, vanilla {dm['vanilla']:+.2f}, "
        f"student {dm['student']:+.2f}; fraction of the teachers' gain over vanilla that the student kept: {kept}."
    )
    return f"<h2>Distillation: the plan in one network</h2>\n<p>{note}</p>\n{_table(distillation_table(distilled))}\n"


def plan_cost_section(folder: Path) -> str:
    """The "cost on this machine" section from ``folder/plan_cost.json`` (``taskgroup plan-cost``), or "".

    Parameters
    ----------
    folder : Path
        A run or training folder.

    Returns
    -------
    str
        An HTML heading, note and table; empty when the folder has no ``plan_cost.json``.

    Raises
    ------
    ManifestError
        ``plan_cost.json`` is not a plan-cost file (see :func:`~taskgroup.serve.read_plan_cost`).
    """
    path = Path(folder) / PLAN_COST_FILE
    if not path.is_file():
        return ""
    table = read_plan_cost(path)
    machine = table.attrs.get("machine") or {}
    note = (
        f"Measured by <code>taskgroup plan-cost</code> on {html.escape(str(machine.get('platform', '?')))} "
        f"({html.escape(str(table.attrs.get('runtime')))}, {table.attrs.get('threads')} thread(s), "
        f"{table.attrs.get('repeats')} repeats); <i>chosen_*</i> columns are the one-example costs in the "
        "manifest and <i>plan_cost:*</i> the costs the plan was chosen with."
    )
    return f"<h2>Cost on this machine</h2>\n<p>{note}</p>\n{_table(table)}\n"


def extremes_table(problem: Problem, plan: Plan, train: Any) -> pd.DataFrame:
    """The plan beside both extremes on test: independent single-task networks and one network for every task.

    Costs are the selection problem's (one network per task: the full single-task networks; all-in-one: the
    network serving every task) where it lists them; Δm% is against the single-task networks (0 for them).
    """
    cost = problem.cost_names[0]

    def cost_of(names: list[str]) -> float:
        if not all(n in problem.networks for n in names):
            return np.nan
        return float(sum(problem.costs[problem.network_index(n), 0] for n in names))

    everything = [
        d for d in problem.networks if set(problem.network_tasks(d)) == set(problem.tasks) and is_full_size(d)
    ]

    def interval(group: str) -> str:
        lo_hi = train.delta_m_ci95.get(group)
        return "–" if lo_hi is None else f"[{lo_hi[0]:+.2f}, {lo_hi[1]:+.2f}]"

    rows = [
        {
            "networks": "independent (one per task)",
            cost: cost_of([network_name([t]) for t in problem.tasks]),
            "Δm% (test)": 0.0,
            "95 % interval": "(the reference)",
        },
        {
            "networks": f"this plan ({len(plan.networks)})",
            cost: float(next(iter(plan.cost.values()))),
            "Δm% (test)": train.delta_m.get("multitask", np.nan),
            "95 % interval": interval("multitask"),
        },
    ]
    if "all_in_one" in train.delta_m:
        rows.append(
            {
                "networks": "all-in-one (one for every task)",
                cost: cost_of(everything[:1]) if everything else np.nan,
                "Δm% (test)": train.delta_m["all_in_one"],
                "95 % interval": interval("all_in_one"),
            }
        )
    return pd.DataFrame(rows)


# A run trained once can put only test rows into its intervals. Measured on the default mnist demo
# (benchmarks/results/evaluation_errors.md), a network's validation score moves about twice its bootstrap error
# between training seeds (0.034 against 0.017).
_ONE_RUN_CAVEAT = (
    "With one training run these intervals resample test rows only: they hold for these trained networks, and "
    "another training seed can move Δm% by more than they suggest (on the mnist demo a network's score moves about "
    "twice its bootstrap error between seeds); --repeats K (K >= 2) puts training noise into them."
)


def significance(train: TrainReport) -> str:
    """Whether the plan's test advantage over the independent networks (and over the all-in-one network) is
    significant at 95 %: whether the interval of Δm% (of the difference) lies above or below 0.

    With one training run the intervals resample test rows only, so "significant" holds for these trained
    networks, not for another training seed; the last sentence then says so.

    Parameters
    ----------
    train : TrainReport
        With ``delta_m_ci95`` (and ``plan_minus_all_in_one_ci95``) and ``repeats``.

    Returns
    -------
    str
        One sentence per interval known, and the caveat of one training run; "" without any interval.
    """
    sentences = []
    lo_hi = train.delta_m_ci95.get("multitask")
    if lo_hi is not None:
        lo, hi = lo_hi
        if lo > 0:
            verdict = "significant: its 95 % interval lies above 0"
        elif hi < 0:
            verdict = "significantly negative: the plan is worse (its 95 % interval lies below 0)"
        else:
            verdict = "not significant: its 95 % interval includes 0"
        sentences.append(f"The plan's advantage over the independent networks is {verdict}.")
    gap = train.plan_minus_all_in_one_ci95
    if train.plan_is_all_in_one:
        sentences.append("The plan is the all-in-one network itself.")
    elif gap is not None:
        lo, hi = gap
        if lo > 0:
            verdict = "significantly better than"
        elif hi < 0:
            verdict = "significantly worse than"
        else:
            verdict = "not significantly different from"
        sentences.append(
            f"It is {verdict} the all-in-one network (Δm% difference, 95 % interval [{lo:+.2f}, {hi:+.2f}])."
        )
    if sentences and train.repeats == 1:
        sentences.append(_ONE_RUN_CAVEAT)
    return " ".join(sentences)


def delta_m_summary(train: TrainReport) -> str:
    """Test Δm% of each trained group against the single-task baselines, with its 95 % interval, in one phrase
    (the report's and the terminal's, after ``taskgroup run`` trains the plan).

    Parameters
    ----------
    train : TrainReport

    Returns
    -------
    str
        E.g. "Δm% against single-task baselines (positive is better; 95 % intervals by a paired bootstrap over
        test rows): multitask: +5.33% [+4.71, +5.98], all_in_one: -13.10% [...]"; "" without baselines.
    """
    if not train.delta_m:
        return ""
    intervals = train.delta_m_ci95
    deltas = ", ".join(
        f"{k}: {v:+.2f}%" + (f" [{intervals[k][0]:+.2f}, {intervals[k][1]:+.2f}]" if k in intervals else "")
        for k, v in train.delta_m.items()
    )
    over = f"means over {train.repeats} training repeats, " if train.repeats > 1 else ""
    test_rows = "test rows and repeats" if train.repeats > 1 else "test rows"
    return (
        f"Δm% against single-task baselines (positive is better; {over}95 % intervals by a paired bootstrap over "
        f"{test_rows}): {deltas}"
    )


def _assigned_score(problem: Problem, plan: Plan) -> tuple[float, float | None]:
    """The plan's objective (score) on ``problem`` with each task served by its assigned network, and its standard
    error. Not ``problem.evaluate``, which lets each task take the chosen network that is best on ``problem``
    itself: on test that would choose with the test labels and flatter the plan."""
    rows = [problem.network_index(plan.assignment[t]) for t in problem.tasks]
    columns = list(range(problem.n_tasks))
    total = float(np.dot(problem.weights, problem.losses[rows, columns]))
    error = None
    if problem.loss_se is not None and np.isfinite(problem.loss_se[rows, columns]).all():
        error = float(np.sqrt(np.dot(problem.weights**2, problem.loss_se[rows, columns] ** 2)))
    return (-total if problem.higher_is_better else total), error


def _error(plan: Plan) -> str:
    return "" if plan.objective_se is None else f" ± {plan.objective_se:.2g}"


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    caption = html.escape(alt)
    image = f'<img src="data:image/png;base64,{data}" alt="{caption}">'
    return f"<figure>{image}<figcaption>{caption}</figcaption></figure>"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="–", border=0, classes="data")


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #eee; } figcaption { font-size: 0.85em; color: #555; }
table.data { border-collapse: collapse; font-size: 0.9em; } table.data td, table.data th { padding: 3px 8px;
border-bottom: 1px solid #eee; text-align: right; } table.data th { background: #f6f6f6; }
.summary { background: #f6f9ff; padding: 0.8em 1em; border-left: 4px solid #4a7bd0; }
"""

# Sets the title to "images-ok N" once every image has decoded, "images-broken ..." otherwise; the report
# test reads it back from headless Chromium.
_IMAGE_CHECK = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  document.title = broken.length ? "images-broken " + broken.length + "/" + imgs.length : "images-ok " + imgs.length;
  document.body.setAttribute("data-images", document.title);
});
</script>
"""


def write_report(outcome: RunOutcome, settings: RunSettings, *, test_problem: Problem | None = None) -> Path:
    """Write ``report.html`` and its PNGs into the run folder; return the HTML path.

    Parameters
    ----------
    outcome : RunOutcome
        What the run produced; ``outcome.out`` is the folder written into.
    settings : RunSettings
        The run's settings (described in the report).
    test_problem : Problem, optional
        The test split's problem, for the plan's test scores.

    Returns
    -------
    Path
        ``outcome.out / "report.html"``.

    Raises
    ------
    InvalidArgument
        A symbolic link where a file of the report goes.
    """
    out = outcome.out
    problem, plan = outcome.problem, outcome.plan
    figures = []
    frontier_png = output_path(out, "frontier.png")
    plot_frontier(
        outcome.frontier,
        frontier_png,
        markers=frontier_markers(problem, plan),
        title=f"Budget frontier ({settings.strategy}, cost: {problem.cost_names[0]})",
        ylabel=objective_axis_label(settings.objective if settings.strategy != "tag" else "sum"),
    )
    objective = (
        describe_objective(settings.objective, problem.n_tasks)
        if settings.strategy != "tag"
        else "the total validation loss"
    )
    bars = (
        ", with 95 % error bars (the plans are scored on the same validation rows, so their errors are correlated: "
        "the difference between two plans is known better than the bars suggest)"
        if plan.objective_se is not None
        else ""
    )
    figures.append(_image(frontier_png, f"Budget frontier: the optimal objective, {objective}, at every budget{bars}"))
    if outcome.affinity is not None and outcome.affinity.notna().any().any():
        affinity_png = output_path(out, "affinity.png")
        label = "TAG lookahead affinity" if settings.strategy == "tag" else "pair affinity 1 - L(t with u) / L(t alone)"
        plot_affinity(outcome.affinity, affinity_png, label)
        figures.append(_image(affinity_png, f"Pairwise affinity: {label}"))
    grouping_png = output_path(out, "grouping.png")
    plot_grouping(plan, list(problem.tasks), grouping_png)
    figures.append(_image(grouping_png, "The chosen grouping"))

    scores = "metrics" if settings.objective == "metric" and settings.strategy != "tag" else "losses"
    networks = f"{len(plan.networks)} network{'' if len(plan.networks) == 1 else 's'}"
    summary = [
        f"<b>{networks}</b> for {problem.n_tasks} tasks at budget {outcome.budget:.4g} "
        f"{html.escape(problem.cost_names[0])} ({html.escape(outcome.budget_rule)}); the plan costs "
        f"{list(plan.cost.values())[0]:.4g} and is {'proven optimal' if plan.optimal else 'not proven optimal'} "
        f"on the {'predicted' if problem.predicted.any() else 'measured'} validation {scores} "
        f"(objective {plan.score:.4g}{_error(plan)}: {html.escape(objective)}).",
    ]
    if plan.objective_se is not None:
        over = "the training repeats and validation rows" if settings.repeats > 1 else "the validation rows"
        summary.append(
            f"The ± is one standard error over {over}; it ignores selection bias (the plan was chosen for its low "
            "measured objective, so its true objective tends to be a little worse)."
        )
    if test_problem is not None:
        score, error = _assigned_score(test_problem, plan)
        summary.append(
            f"On the test split the same networks, each task served as the plan assigns it, score {score:.4g}"
            f"{'' if error is None else f' ± {error:.2g}'}."
        )
    if outcome.train.delta_m:
        summary.append(html.escape(delta_m_summary(outcome.train)) + ".")
        summary.append(html.escape(significance(outcome.train)))

    plan_rows = pd.DataFrame(
        [
            {"network": d.name, "trained on": ", ".join(d.trained_tasks), "serves": ", ".join(d.serves), **d.cost}
            for d in plan.details
        ]
    )
    settings_rows = pd.DataFrame(
        {"setting": list(settings.to_dict()), "value": [json.dumps(v) for v in settings.to_dict().values()]}
    )
    timing_rows = pd.DataFrame({"step": list(outcome.timings), "seconds": list(outcome.timings.values())})
    frontier_rows = outcome.frontier.to_frame()
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>taskgroup report</title><style>{_STYLE}</style></head>
<body>
<h1>taskgroup report: {html.escape(settings.suite)} suite</h1>
<p class="summary">{" ".join(summary)}</p>
{_table(extremes_table(problem, plan, outcome.train)) if outcome.train.delta_m else ""}
<h2>Figures</h2>
{"".join(figures)}
<h2>The plan</h2>
{_table(plan_rows)}
<h2>Per-task test metrics</h2>
{_table(metrics_table(outcome.train, plan))}
{distillation_section(outcome.distilled)}{plan_cost_section(out)}<h2>Budget frontier</h2>
{_table(frontier_rows)}
<h2>Settings</h2>
{_table(settings_rows)}
<h2>Timings</h2>
<p>Of this invocation: a step resumed from an earlier one counts only the time taken now.</p>
{_table(timing_rows)}
{_IMAGE_CHECK}
</body></html>
"""
    path = output_path(out, "report.html")
    path.write_text(body)
    return path
