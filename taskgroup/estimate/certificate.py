"""A certificate for a plan chosen on a :class:`~taskgroup.estimate.posterior.GroupPosterior`.

It says how much better than the plan any set of ``k`` groups could be, twice:

- ``bound``: with every unmeasured group at its predicted (median) loss: what the model expects;
- ``confident_bound``: with every unmeasured group ``deviations`` posterior standard deviations better than
  predicted, where ``deviations`` is chosen so that, under the model, *every* unmeasured network's loss is at least
  that good with probability ``confidence`` (a Bonferroni bound over all unmeasured losses: the normal quantile
  at ``1 - (1 - confidence) / m`` for ``m`` unmeasured losses), times the model's own calibration factor
  (:meth:`~taskgroup.estimate.posterior.GroupPosterior.calibration`: how much wider its uncertainty must be to
  match its leave-one-group-out errors on the measured groups, >= 1).

Measured groups are at their measured losses in both. The bounds are exact (every set of ``k`` groups enumerated)
when there are at most :data:`~taskgroup.grouping.plansearch.EXHAUSTIVE_LIMIT` sets, and otherwise Lagrangian
bounds (:func:`~taskgroup.grouping.plansearch.lagrangian_bound`), valid but looser.

The certificate is only as good as the model: the confident bound holds for the true losses whenever no unmeasured
network is better than ``deviations`` standard deviations below its prediction, which the model promises with
probability ``confidence`` if its errors are Gaussian on the log scale with the calibrated spread. A table with
higher-order effects the model cannot express (a group far better than its pairs suggest) can break it; the
leave-one-group-out calibration widens the bound when the measured groups show such surprises, and cannot when
they do not. An earlier version used a fixed one standard deviation for every unmeasured group and its bound
failed on 4 of 15 real-table runs of ``benchmarks/results/strategies.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from taskgroup.errors import InvalidArgument
from taskgroup.estimate.posterior import GroupPosterior
from taskgroup.grouping.plansearch import EXHAUSTIVE_LIMIT, best_plan, lagrangian_bound, plan_value
from taskgroup.naming import network_name

__all__ = ["Certificate", "certify"]


@dataclass(frozen=True)
class Certificate:
    """How far from the best plan a plan can be, under the model (loss sense: lower is better).

    Attributes
    ----------
    objective : float
        The plan's weighted total loss, measured groups at measured losses, the others at the median prediction.
    bound : float
        No set of ``k`` groups has a weighted total loss below this with unmeasured groups at their median.
    confident_bound : float
        No set of ``k`` groups has a true weighted total loss below this, with probability ``confidence`` under
        the calibrated model (every unmeasured group ``deviations`` standard deviations better than predicted).
    confidence : float
        The probability of the confident bound, under the model.
    deviations : float
        Posterior standard deviations of optimism behind the confident bound (Bonferroni quantile times
        ``calibration``).
    calibration : float
        The model's calibration factor (>= 1) from its leave-one-group-out errors.
    exact : bool
        Whether the bounds come from enumerating every plan (else Lagrangian bounds).
    unmeasured : tuple of str
        The plan's networks that were not measured (predicted; train them to deploy).
    contenders : tuple of (str, float)
        Up to five unmeasured groups with the largest confident improvement over the plan (the summed drop of
        the plan's per-task losses if the group were added to it), largest first.
    """

    objective: float
    bound: float
    confident_bound: float
    confidence: float
    deviations: float
    calibration: float
    exact: bool
    unmeasured: tuple[str, ...]
    contenders: tuple[tuple[str, float], ...]

    @property
    def gap(self) -> float:
        """Relative gap ``(objective - bound) / |objective|`` under the median predictions."""
        return (self.objective - self.bound) / abs(self.objective) if self.objective else 0.0

    @property
    def confident_gap(self) -> float:
        """Relative gap ``(objective - confident_bound) / |objective|``."""
        return (self.objective - self.confident_bound) / abs(self.objective) if self.objective else 0.0

    def describe(self) -> str:
        """One paragraph for people: the bounds, what they assume, and what is still predicted.

        Returns
        -------
        str
            The plan's loss, the bound and the confident bound with their gaps, the caveat that they hold under
            the model only, then the unmeasured groups in the plan and the contenders (when there are any).
        """
        kind = "exact over every plan" if self.exact else "a Lagrangian bound over every plan"
        text = (
            f"Plan loss {self.objective:.6g} (measured networks at measured loss, the others predicted). With "
            f"unmeasured networks as predicted ({kind}), no plan goes below {self.bound:.6g} ({self.gap:.1%} "
            f"better); with {self.confidence:.0%} probability under the model, no plan goes below "
            f"{self.confident_bound:.6g} ({self.confident_gap:.1%}): every unmeasured network "
            f"{self.deviations:.2g} standard deviations better than predicted (its calibration on the measured "
            f"networks widened them by {self.calibration:.2g}x). The bound is only as good as the model: it fails "
            "if some unmeasured network is better than that, e.g. through higher-order effects the measured networks "
            "do not show."
        )
        if self.unmeasured:
            text += f" Predicted, not measured: {', '.join(self.unmeasured)}."
        if self.contenders:
            listing = ", ".join(f"{name} ({gain:.3g})" for name, gain in self.contenders)
            text += f" Unmeasured groups that could improve it most (at the confident bound): {listing}."
        return text


def certify(
    posterior: GroupPosterior, plan: tuple[int, ...], n_networks: int, *, confidence: float = 0.95
) -> Certificate:
    """The :class:`Certificate` of the plan of rows ``plan`` of ``posterior`` with ``n_networks`` networks.

    Parameters
    ----------
    posterior : GroupPosterior
    plan : tuple of int
        Rows of ``posterior.groups``.
    n_networks : int
        Networks any competing plan may use.
    confidence : float, default 0.95
        Probability, under the calibrated model, that the confident bound holds (strictly between 0 and 1).

    Returns
    -------
    Certificate

    Raises
    ------
    InvalidArgument
        ``confidence`` not strictly between 0 and 1.
    """
    if not isinstance(confidence, (int, float)) or not 0 < confidence < 1:
        raise InvalidArgument(f"confidence={confidence!r} is not accepted; give a probability strictly in (0, 1).")
    k = n_networks
    unmeasured = int(posterior.members[~posterior.measured].sum())
    calibration = posterior.calibration()
    quantile = NormalDist().inv_cdf(1 - (1 - confidence) / max(unmeasured, 1)) if unmeasured else 0.0
    deviations = calibration * quantile
    median, hopeful = posterior.values(0.0), posterior.values(deviations)
    exact = math.comb(len(posterior.groups), min(k, len(posterior.groups))) <= EXHAUSTIVE_LIMIT
    per_task = median[list(plan)].max(axis=0)

    def bound(values: np.ndarray) -> float:
        if exact:
            return best_plan(values, k)[1]
        start = np.maximum(per_task, values[list(plan)].max(axis=0))
        return lagrangian_bound(values, k, start)

    names = [network_name(posterior.tasks[t] for t in sorted(g)) for g in posterior.groups]
    gains = np.maximum(hopeful - per_task[None, :], 0.0).sum(axis=1)
    gains[posterior.measured] = 0.0
    order = [int(g) for g in np.argsort(-gains)[:5] if gains[g] > 0]
    return Certificate(
        objective=-plan_value(median, plan),
        bound=-bound(median),
        confident_bound=-bound(hopeful),
        confidence=float(confidence),
        deviations=float(deviations),
        calibration=float(calibration),
        exact=exact,
        unmeasured=tuple(names[g] for g in plan if not posterior.measured[g]),
        contenders=tuple((names[g], float(gains[g])) for g in order),
    )
