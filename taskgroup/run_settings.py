"""The settings of ``taskgroup run`` and what a run produced: plain data, read by the pipeline and the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from taskgroup.errors import InvalidArgument
from taskgroup.objectives import OBJECTIVES, WEIGHTED_OBJECTIVES
from taskgroup.plan import Frontier, Plan
from taskgroup.problem import Problem

__all__ = ["RunSettings", "RunOutcome", "OBJECTIVES"]


@dataclass(frozen=True)
class RunSettings:
    """What ``taskgroup run`` does. Defaults finish in a few minutes on 2 CPU cores.

    Attributes
    ----------
    suite : str
        A built-in suite (``tg.datasets.available_suites()``); default the ``mnist`` image suite, where negative
        transfer exists (the style task ``slant`` hurts the label tasks) and scarce labels make sharing pay.
    suite_params : dict
        Parameters of the suite loader (e.g. ``{"clusters": [3, 2]}``).
    strategy : str
        How candidate losses are obtained, a name in :data:`taskgroup.strategies.STRATEGIES`: train every
        candidate (``full``), train pairs and predict larger groups (``hoa``), select on short runs and fully
        train only the chosen (``esa``), TAG lookahead affinity from one all-task run (``tag``; budget and cost
        in numbers of networks), or measure only what the plan relies on (``adaptive``).
    objective : {"metric", "calibrated", "relative", "sum"}
        What a plan minimises on validation (:mod:`taskgroup.objectives`): each task's metrics relative to its own
        single-task network's, the per-task term of the Δm% the report computes on test (``metric``); each task's
        temperature-calibrated loss relative to its single-task network's (``calibrated``); its plain loss
        relative to its single-task network's (``relative``); or the plain sum of losses (``sum``, as in Standley
        et al.). Not used by ``tag``, whose objective is an affinity.
    budget : float or None
        None: the knee of the frontier (see :func:`knee_budget`).
    cost : {"flops", "params", "latency_ms", "snt"}
        The cost column the budget constrains (normalised: a full single-task network costs 1).
    model : {"mlp", "cnn", "mmoe"} or None
        Model family of the candidate networks and (unless ``arch`` says otherwise) of the plan's networks.
        None: the suite's inputs decide (:func:`default_model`): ``cnn`` for images, ``mlp`` otherwise.
    arch : {"mlp", "cnn", "mmoe"} or None
        Model family of the plan's networks when it differs from the measured one (e.g. ``mmoe``); None: ``model``.
    distill : bool
        Distil the trained plan into one all-in-one network (its networks are the teachers; soft targets on every
        training row) beside the vanilla all-in-one network: :func:`taskgroup.train.compress.distill` into
        ``distilled/``, at its default temperature and soft weight.
    executor : str
        ``"auto"`` (default: one worker per available core and at least four, each training one network on one
        thread; serial on one core), ``"serial"``, ``"process"``, ``"process:N"`` or ``"dask://HOST:PORT"``.
    epochs : int
        Epochs of a full training run (the measurement, ESA's final runs and the plan's networks).
    esa_fraction : float
        ESA's short schedule as a fraction of ``epochs``.
    repeats : int
        Training repeats (seeds 0..K-1) of every candidate network, of the plan's networks and of the networks
        it is compared with: losses are means over repeats with standard errors, the plan is chosen robustly
        (:func:`taskgroup.pipeline.knee_budget`) and test Δm% is averaged over repeats, with a 95 % interval.
    seed : int
        Base seed of the networks (initial weights, batch order, dropout; repeat ``k`` uses ``seed + k``) and of
        the strategy's random choices. The data split is the suite's own (``suite_params``, e.g. ``{"seed": 3}``).
    device : str
        Where networks train: ``"cpu"`` (default), ``"cuda"``, ``"mps"``.
    max_measured, n_networks : int or None
        ``adaptive``: the most networks to measure, and the networks of the plan the measurement serves.
    threads : int or None
        torch CPU threads of the networks trained in this process (the plan's; default 1: the cores go to
        networks side by side, not inside one, and one thread loses nothing when another process takes a core).

    ``executor``, ``device`` and ``threads`` change where and how fast a run goes, not what it computes, so a run
    may be resumed with other values.
    """

    suite: str = "mnist"
    suite_params: Mapping[str, Any] = field(default_factory=dict)
    strategy: str = "full"
    objective: str = "metric"
    budget: float | None = None
    cost: str = "flops"
    model: str | None = None
    arch: str | None = None
    distill: bool = False
    executor: str = "auto"
    epochs: int = 30
    esa_fraction: float = 0.2
    repeats: int = 1
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    max_measured: int | None = None
    n_networks: int | None = None

    def __post_init__(self) -> None:
        from taskgroup.measure.executors import check_executor
        from taskgroup.strategies import STRATEGIES

        if self.strategy not in STRATEGIES:
            raise InvalidArgument(f"strategy={self.strategy!r} is not accepted; accepted: {STRATEGIES.names()}.")
        if self.objective not in OBJECTIVES:
            raise InvalidArgument(f"objective={self.objective!r} is not accepted; accepted: {list(OBJECTIVES)}.")
        if self.budget is not None and not self.budget > 0:
            raise InvalidArgument(f"budget={self.budget!r}; a budget must be a number > 0 (or None for the knee).")
        if not 0 < self.esa_fraction < 1:
            raise InvalidArgument(f"esa_fraction={self.esa_fraction!r}; accepted: a number in (0, 1).")
        if self.epochs < 1 or self.repeats < 1:
            raise InvalidArgument(f"epochs={self.epochs!r} and repeats={self.repeats!r} must both be >= 1.")
        check_executor(self.executor)

    @property
    def weighted_objective(self) -> bool:
        """Whether the problem's task weights divide by the single-task networks' values (``relative`` and
        ``calibrated``; ``tag``'s objective is an affinity, never weighted)."""
        return self.objective in WEIGHTED_OBJECTIVES and self.strategy != "tag"

    def to_dict(self) -> dict[str, Any]:
        """The settings that decide the results (where the work runs, ``executor``, ``device`` and ``threads``,
        left out: a run started on a Dask cluster resumes in one process).

        Returns
        -------
        dict
            Every other field, by name (``suite_params`` as a plain dict).
        """
        data = asdict(self)
        data["suite_params"] = dict(self.suite_params)
        del data["executor"], data["device"], data["threads"]
        return data


@dataclass
class RunOutcome:
    """What a run produced (the files are in ``out``).

    Attributes
    ----------
    out : Path
        The run folder.
    problem : Problem
        The measured selection problem (validation losses).
    frontier : Frontier
        The cost/loss frontier of ``problem``.
    plan : Plan
        The plan chosen at ``budget``.
    budget : float
        The budget the plan was solved at.
    budget_rule : str
        How it was chosen (``"given"`` when the settings named it, else the knee rule used).
    affinity : pandas.DataFrame or None
        The task-affinity table, where the strategy measured one.
    train : TrainReport
        What training the plan produced.
    timings : dict of str to float
        Seconds per step.
    report : Path or None
        The HTML report, once written.
    distilled : DistillReport or None
        With distillation: its report.
    """

    out: Path
    problem: Problem
    frontier: Frontier
    plan: Plan
    budget: float
    budget_rule: str
    affinity: pd.DataFrame | None
    train: Any  # taskgroup.train.TrainReport
    timings: dict[str, float]
    report: Path | None = None
    distilled: Any = None  # taskgroup.train.compress.DistillReport, with --distill
