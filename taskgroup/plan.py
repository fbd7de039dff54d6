"""Plan: the networks a solver chose, which task each serves, what it costs and how sure we are."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from taskgroup.errors import InvalidArgument, InvalidPlan
from taskgroup.fields import Fields
from taskgroup.files import read_text

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from taskgroup.problem import Problem

__all__ = ["Plan", "PlanNetwork", "Frontier", "plan_from_selection", "PLAN_SCHEMA", "PLAN_SCHEMA_VERSION"]

PLAN_SCHEMA = "taskgroup.plan"
PLAN_SCHEMA_VERSION = 1
PLAN_STATUSES = ("optimal", "feasible")
_PLAN_FIELDS = (
    "schema",
    "version",
    "status",
    "objective",
    "objective_se",
    "score",
    "higher_is_better",
    "bound",
    "gap",
    "cost",
    "budget",
    "solver",
    "wall_time_s",
    "nodes",
    "assignment",
    "task_losses",
    "weights",
    "networks",
)


@dataclass(frozen=True)
class PlanNetwork:
    """One network of a plan: what it is trained on, which tasks it serves in the plan, what it costs.

    Attributes
    ----------
    name : str
        The network's name in the problem.
    trained_tasks : tuple of str
        The tasks it is trained on (the tasks it has a loss for).
    serves : tuple of str
        The tasks the plan assigns to it (empty when other chosen networks are better on all of them).
    cost : dict of str to float
        Its cost in each cost column.
    """

    name: str
    trained_tasks: tuple[str, ...]
    serves: tuple[str, ...]
    cost: dict[str, float]


@dataclass(frozen=True)
class Plan:
    """The result of a solver (or of :meth:`Problem.evaluate`).

    Attributes
    ----------
    networks : tuple of str
        The chosen networks, in problem order.
    assignment : dict task -> network
        The chosen network that serves each task (its best on the task).
    task_losses : dict task -> float
        Each task's loss under the plan (in the problem's internal, lower-is-better sense).
    objective : float
        ``sum_t w_t * task_losses[t]``; lower is better.
    cost : dict resource -> float
        Total cost of the chosen networks per resource.
    budget : dict resource -> float
        The budget the plan was solved for (empty for an evaluated set).
    optimal : bool
        True only when the solver proved that no plan within the budget has a lower objective.
    bound : float
        A proven lower bound on the optimal objective (``-inf`` when none is known).
    solver : str
        Name of the method that produced the plan.
    wall_time : float
        Seconds the solver ran.
    nodes : int
        Branch-and-bound nodes, or iterations/subsets examined; solver-specific.
    higher_is_better : bool
        True when the problem's losses are negated scores: see :attr:`score` and :attr:`task_scores`.
    details : tuple of PlanNetwork
        Per chosen network: trained task set, tasks served in the plan, cost.
    objective_se : float or None
        The standard error of :attr:`objective`, ``sqrt(sum_t w_t^2 se_t^2)`` over each task's assigned
        (network, task) loss, when the problem knows every one of those errors (:attr:`Problem.loss_se`); None
        otherwise. It treats the chosen losses as independent and ignores selection bias: the plan was chosen
        because its measured losses are low, so its true objective tends to be somewhat worse than measured.
    """

    networks: tuple[str, ...]
    assignment: dict[str, str]
    task_losses: dict[str, float]
    objective: float
    cost: dict[str, float]
    budget: dict[str, float] = field(default_factory=dict)
    optimal: bool = False
    bound: float = -math.inf
    solver: str = ""
    wall_time: float = 0.0
    nodes: int = 0
    higher_is_better: bool = False
    weights: dict[str, float] = field(default_factory=dict)
    details: tuple[PlanNetwork, ...] = ()
    objective_se: float | None = None

    @property
    def status(self) -> str:
        """``"optimal"`` (proven) or ``"feasible"``."""
        return "optimal" if self.optimal else "feasible"

    @property
    def gap(self) -> float:
        """Relative gap ``(objective - bound) / max(|objective|, 1e-12)``; 0 when proven optimal."""
        if self.optimal:
            return 0.0
        if not math.isfinite(self.bound):
            return math.inf
        return max(0.0, (self.objective - self.bound) / max(abs(self.objective), 1e-12))

    @property
    def score(self) -> float:
        """The objective in the original sense: the negated objective for higher-is-better problems."""
        return -self.objective if self.higher_is_better else self.objective

    @property
    def task_scores(self) -> dict[str, float]:
        """Per-task values in the original sense (scores for higher-is-better problems)."""
        sign = -1.0 if self.higher_is_better else 1.0
        return {t: sign * v for t, v in self.task_losses.items()}

    @property
    def network_tasks(self) -> dict[str, tuple[str, ...]]:
        """Chosen network -> the tasks it serves in this plan."""
        return {d.name: d.serves for d in self.details}

    def summary(self) -> str:
        """A few readable lines: status, objective, cost, and the tasks each network serves.

        Returns
        -------
        str
            The first line gives status, solver, objective (score when higher is better, with its standard error
            when known), cost and budget; then the bound and gap when the plan is not proven optimal; then one
            line per network.
        """
        what = "score" if self.higher_is_better else "objective"
        error = "" if self.objective_se is None else f" ± {self.objective_se:.3g} (standard error)"
        lines = [
            f"{self.status} plan by {self.solver}: {what} {self.score:.6g}{error}, "
            + ", ".join(f"{k} {v:.6g}" for k, v in self.cost.items())
            + (f" (budget {', '.join(f'{k} {v:.6g}' for k, v in self.budget.items())})" if self.budget else "")
        ]
        if not self.optimal and math.isfinite(self.bound):
            # The bound is on the loss; on a score (higher is better) it is an upper bound.
            which = "upper bound on the score" if self.higher_is_better else "lower bound"
            value = -self.bound if self.higher_is_better else self.bound
            lines.append(f"{which} {value:.6g}, gap {self.gap:.2%}")
        for d in self.details:
            lines.append(f"  {d.name}: serves {', '.join(d.serves) or '(no task: dominated)'}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """Versioned dict form for deployment tools (see :data:`PLAN_SCHEMA`).

        Returns
        -------
        dict
            JSON-ready values: schema and version, status, objective, score, bound and gap (None when not
            finite), cost, budget, solver, assignment, task losses, weights and the networks; readable by
            :meth:`from_dict`.
        """
        return {
            "schema": PLAN_SCHEMA,
            "version": PLAN_SCHEMA_VERSION,
            "status": self.status,
            "objective": self.objective,
            "objective_se": self.objective_se,
            "score": self.score,
            "higher_is_better": self.higher_is_better,
            "bound": _finite_or_none(self.bound),
            "gap": _finite_or_none(self.gap),
            "cost": self.cost,
            "budget": self.budget,
            "solver": self.solver,
            "wall_time_s": self.wall_time,
            "nodes": self.nodes,
            "assignment": self.assignment,
            "task_losses": self.task_losses,
            "weights": self.weights,
            "networks": [
                {"name": d.name, "trained_tasks": list(d.trained_tasks), "serves": list(d.serves), "cost": d.cost}
                for d in self.details
            ],
        }

    def to_json(self, path: str | PathLike[str] | None = None) -> str:
        """The dict form (:meth:`to_dict`) as indented JSON text, also written to ``path`` when given.

        Parameters
        ----------
        path : path, optional
            A file to write the text to (replaced if it exists).

        Returns
        -------
        str
            The JSON text, readable by :meth:`from_json`.
        """
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Read the versioned dict form (:meth:`to_dict`); every field is type-checked.

        Parameters
        ----------
        data : mapping
            The dict form.

        Returns
        -------
        Plan

        Raises
        ------
        InvalidPlan
            (an :class:`InvalidArgument`) Not a plan, another schema version, a field missing or of the wrong type
            (named with its path), a network listed twice, or an assignment to a network the plan does not list.
        """
        if not isinstance(data, Mapping) or data.get("schema") != PLAN_SCHEMA:
            raise InvalidPlan(f"Not a taskgroup plan: expected a mapping with schema {PLAN_SCHEMA!r}.")
        doc = Fields(data, "plan", InvalidPlan, allowed=_PLAN_FIELDS)
        if data.get("version") != PLAN_SCHEMA_VERSION:
            raise InvalidPlan(
                f"Unsupported plan schema version {data.get('version')!r}; this taskgroup reads version "
                f"{PLAN_SCHEMA_VERSION}."
            )
        details = []
        for k in range(len(doc.sequence("networks"))):
            net = doc.item("networks", k, allowed=("name", "trained_tasks", "serves", "cost"))
            details.append(
                PlanNetwork(
                    net.string("name"),
                    tuple(net.strings("trained_tasks")),
                    tuple(net.strings("serves")),
                    net.number_map("cost"),
                )
            )
        names = [d.name for d in details]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InvalidPlan(f"The plan lists network(s) {repeated} more than once; each network appears once.")
        assignment = doc.string_map("assignment")
        strays = sorted({n for n in assignment.values() if n not in names})
        if strays:
            raise InvalidPlan(
                f"The plan's assignment names network(s) {strays} that are not among its networks {names}."
            )
        trained = {d.name: set(d.trained_tasks) for d in details}
        wrong = sorted(t for t, n in assignment.items() if n in trained and t not in trained[n])
        if wrong:
            raise InvalidPlan(
                f"The plan assigns task(s) {wrong} to networks not trained on them: "
                + ", ".join(f"{t} -> {assignment[t]}" for t in wrong)
                + "."
            )
        status = doc.string("status")
        if status not in PLAN_STATUSES:
            raise InvalidPlan(f"In the plan, status must be one of {list(PLAN_STATUSES)}; got {status!r}.")
        bound = doc.number("bound", allow_null=True)
        objective_se = doc.number("objective_se", None, allow_null=True)
        if objective_se is not None and objective_se < 0:
            raise InvalidPlan(f"In the plan, objective_se must be >= 0 (or null); got {objective_se!r}.")
        return cls(
            networks=tuple(names),
            assignment=assignment,
            task_losses=doc.number_map("task_losses"),
            objective=doc.number("objective"),
            cost=doc.number_map("cost"),
            budget=doc.number_map("budget", finite=False),
            optimal=status == "optimal",
            bound=-math.inf if bound is None else bound,
            solver=doc.string("solver"),
            wall_time=doc.number("wall_time_s"),
            nodes=doc.integer("nodes"),
            higher_is_better=doc.boolean("higher_is_better"),
            weights=doc.number_map("weights"),
            details=tuple(details),
            objective_se=objective_se,
        )

    @classmethod
    def from_json(cls, path_or_text: str | PathLike[str]) -> Plan:
        """Read a plan from a JSON file (or a JSON string) written by :meth:`to_json`.

        Parameters
        ----------
        path_or_text : path or str
            A plan file, or JSON text (recognised by its leading ``{``).

        Returns
        -------
        Plan

        Raises
        ------
        InvalidPlan
            The text is not JSON or not a valid plan (see :meth:`from_dict`).
        InvalidArgument
            The file is missing, unreadable or not UTF-8 text.
        """
        text = str(path_or_text)
        if not text.lstrip().startswith("{"):
            text = read_text(path_or_text, "plan file")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidPlan(f"Could not parse the plan JSON: {exc}") from None
        return cls.from_dict(data)


def plan_from_selection(
    problem: Problem,
    chosen: Sequence[int],
    *,
    solver: str,
    budget: Mapping[str, float] | None = None,
    optimal: bool = False,
    bound: float = -math.inf,
    wall_time: float = 0.0,
    nodes: int = 0,
) -> Plan:
    """Build the :class:`Plan` of the networks at indices ``chosen`` (every task must be served).

    Each task is served by the chosen network with the lowest loss on it (ties: the first in problem order).

    Parameters
    ----------
    problem : Problem
        The problem the indices refer to.
    chosen : sequence of int
        Network indices (repeats are dropped).
    solver : str
        The method that chose them, recorded in the plan.
    budget : mapping of str to float, optional
        The budget they were chosen under.
    optimal : bool, default False
        Whether the choice is proven optimal (then the bound is the objective).
    bound : float, default -inf
        A lower bound on the optimal objective (capped at the plan's objective).
    wall_time : float, default 0.0
        Seconds the solver took.
    nodes : int, default 0
        Search nodes the solver explored.

    Returns
    -------
    Plan
        With the objective's standard error when the problem knows every served loss's error.

    Raises
    ------
    InvalidArgument
        A task none of the chosen networks serves.
    """
    chosen = sorted(set(int(j) for j in chosen))
    sub = np.where(problem.serves[chosen], problem.losses[chosen], np.inf)
    best = np.argmin(sub, axis=0)  # first chosen network on ties: problem order
    task_losses = sub[best, np.arange(problem.n_tasks)]
    if not np.all(np.isfinite(task_losses)):
        missing = [t for t, v in zip(problem.tasks, task_losses) if not np.isfinite(v)]
        raise InvalidArgument(f"The chosen networks serve no network for task(s) {missing}.")
    assignment = {t: problem.networks[chosen[k]] for t, k in zip(problem.tasks, best)}
    objective = float(np.dot(problem.weights, task_losses))
    objective_se = None
    if problem.loss_se is not None:
        # independent errors add in quadrature; one unknown error leaves the plan's unknown
        errors = problem.loss_se[np.asarray(chosen)[best], np.arange(problem.n_tasks)]
        if not np.isnan(errors).any():
            objective_se = float(np.sqrt(np.sum((problem.weights * errors) ** 2)))
    total = problem.costs[chosen].sum(axis=0)
    details = tuple(
        PlanNetwork(
            name=problem.networks[j],
            trained_tasks=problem.network_tasks(problem.networks[j]),
            serves=tuple(t for t in problem.tasks if assignment[t] == problem.networks[j]),
            cost={c: float(problem.costs[j, r]) for r, c in enumerate(problem.cost_names)},
        )
        for j in chosen
    )
    if optimal:
        bound = objective
    return Plan(
        networks=tuple(problem.networks[j] for j in chosen),
        assignment=assignment,
        task_losses={t: float(v) for t, v in zip(problem.tasks, task_losses)},
        objective=objective,
        cost={c: float(total[r]) for r, c in enumerate(problem.cost_names)},
        budget=dict(budget or {}),
        optimal=optimal,
        bound=float(min(bound, objective)),
        solver=solver,
        wall_time=float(wall_time),
        nodes=int(nodes),
        higher_is_better=problem.higher_is_better,
        weights={t: float(w) for t, w in zip(problem.tasks, problem.weights)},
        details=details,
        objective_se=objective_se,
    )


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


FRONTIER_COLUMNS = ["budget", "objective", "cost", "n_networks", "networks", "optimal"]


@dataclass(frozen=True)
class Frontier(Sequence["Plan | None"]):
    """The best plan at each of several budgets on one cost resource, as returned by :func:`taskgroup.frontier`.

    A sequence of plans, one per budget in increasing order of the budget asked for; an entry is None where no
    plan fits that budget (only when the budgets were given). ``to_frame()`` gives the table, ``plot(ax)`` draws
    the staircase on a matplotlib Axes.

    Attributes
    ----------
    budgets : tuple of float
        The budget of each entry.
    plans : tuple of Plan or None
        The optimal (or best found) plan at each budget, None where infeasible.
    cost : str
        The cost resource the budgets apply to.
    higher_is_better : bool
        Whether the problem's values are scores (then the table and plot show ``score = -objective``).
    """

    budgets: tuple[float, ...]
    plans: tuple[Plan | None, ...]
    cost: str
    higher_is_better: bool = False

    def __post_init__(self) -> None:
        if len(self.budgets) != len(self.plans):
            raise InvalidArgument(
                f"A Frontier needs one plan (or None) per budget; got {len(self.budgets)} "
                f"budgets and {len(self.plans)} plans."
            )

    def __len__(self) -> int:
        return len(self.plans)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Frontier(self.budgets[index], self.plans[index], self.cost, self.higher_is_better)
        return self.plans[index]

    def to_frame(self) -> pd.DataFrame:
        """The frontier as a table, one row per budget.

        Returns
        -------
        pandas.DataFrame
            Columns ``budget``, ``objective`` (NaN if infeasible), ``cost``, ``n_networks``, ``networks`` (names
            joined by ``", "``) and ``optimal``; for higher-is-better problems also ``score`` (the objective in
            the original sense) after ``objective``; when some plan knows its standard error, ``objective_se``
            after those (NaN where unknown). ``attrs["cost_column"]`` names the cost resource.
        """
        import pandas as pd

        rows = [_frontier_row(budget, plan) for budget, plan in zip(self.budgets, self.plans)]
        frame = pd.DataFrame(rows, columns=FRONTIER_COLUMNS)
        if self.higher_is_better:
            frame.insert(2, "score", -frame["objective"])
        errors = [math.nan if p is None or p.objective_se is None else p.objective_se for p in self.plans]
        if not all(math.isnan(e) for e in errors):
            frame.insert(3 if self.higher_is_better else 2, "objective_se", errors)
        frame.attrs["cost_column"] = self.cost
        return frame

    def plot(
        self,
        ax: Axes | None = None,
        *,
        markers: Mapping[str, tuple[float, float]] | None = None,
        title: str | None = None,
        ylabel: str | None = None,
    ) -> Axes:
        """Draw the frontier as a staircase of budget against total loss (or score) on ``ax``.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; by default a new figure's Axes (``matplotlib.pyplot.subplots()``).
        markers : dict of str to (float, float), optional
            Labelled (cost, objective) points to mark, e.g. the all-in-one network or the chosen plan.
        title : str, optional
            The Axes title (default "Budget frontier").
        ylabel : str, optional
            What the objective is (default "total weighted loss", or "total score" for a score frontier); "(lower
            is better)" or "(higher is better)" is added.

        Returns
        -------
        matplotlib.axes.Axes
            The Axes drawn on.

        Raises
        ------
        InvalidArgument
            If no budget of the frontier is feasible.
        """
        frame = self.to_frame().dropna(subset=["objective"])
        if frame.empty:
            raise InvalidArgument("The frontier has no feasible budget to plot.")
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
        value = "score" if self.higher_is_better else "objective"
        x = frame["budget"].to_numpy(dtype=float)
        y = frame[value].to_numpy(dtype=float)
        ax.step(x, y, where="post", color="tab:blue", label="optimal plan")
        ax.plot(x, y, "o", color="tab:blue", markersize=4)
        if "objective_se" in frame:
            # 95 % intervals of each plan's objective (normal approximation; ignores selection bias)
            errors = 1.96 * frame["objective_se"].to_numpy(dtype=float)
            ax.errorbar(x, y, yerr=errors, fmt="none", ecolor="tab:blue", alpha=0.6, capsize=3, label="± 95 % interval")
        colours = ["tab:red", "tab:green", "tab:orange", "tab:purple"]
        for (label, (cx, cy)), colour in zip((markers or {}).items(), colours):
            ax.plot([cx], [cy], "D", color=colour, markersize=7, label=label)
        ax.set_xlabel(f"budget ({self.cost})")
        what = ylabel or ("total score" if self.higher_is_better else "total weighted loss")
        ax.set_ylabel(f"{what} ({'higher' if self.higher_is_better else 'lower'} is better)")
        ax.set_title(title or "Budget frontier")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        return ax


def _frontier_row(budget: float, plan: Plan | None) -> list:
    if plan is None:
        return [budget, math.nan, math.nan, 0, "", False]
    (total,) = plan.cost.values()
    return [budget, plan.objective, total, len(plan.networks), ", ".join(plan.networks), plan.optimal]
