"""A certificate for a plan chosen on a :class:`~taskgroup.estimate.posterior.GroupPosterior`.

It says how much better than the plan any set of ``k`` groups could be *under the model*: once with every
unmeasured group at its predicted (median) loss, once with every unmeasured group ``optimism`` standard deviations
better than predicted. Measured groups are at their measured losses in both. The bounds are exact (every set of ``k``
groups enumerated) when there are at most :data:`~taskgroup.grouping.plansearch.EXHAUSTIVE_LIMIT` sets, and
otherwise Lagrangian upper bounds (:func:`~taskgroup.grouping.plansearch.lagrangian_bound`), valid but looser.

The certificate is only as good as the model: it bounds the true gain of an unmeasured group only if that
group's true loss is no better than ``optimism`` standard deviations below the prediction. A plan whose networks
are all measured and whose optimistic gap is 0 cannot be beaten by any unmeasured group that the model does not
underrate by more than that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from taskgroup.estimate.posterior import GroupPosterior
from taskgroup.grouping.plansearch import EXHAUSTIVE_LIMIT, best_plan, lagrangian_bound, plan_value
from taskgroup.naming import network_name

__all__ = ["Certificate", "certify"]


@dataclass(frozen=True)
class Certificate:
    """How far from the best plan under the model a plan can be (loss sense: lower is better).

    Attributes
    ----------
    objective : float
        The plan's weighted total loss, measured groups at measured losses, the others at the median prediction.
    bound : float
        No set of ``k`` groups has a weighted total loss below this with unmeasured groups at their median.
    optimistic_bound : float
        The same with every unmeasured group ``optimism`` standard deviations better than predicted.
    optimism : float
    exact : bool
        Whether the bounds come from enumerating every plan (else Lagrangian bounds).
    unmeasured : tuple of str
        The plan's networks that were not measured (predicted; train them to deploy).
    contenders : tuple of (str, float)
        Up to five unmeasured groups with the largest optimistic improvement over the plan (the summed drop of
        the plan's per-task losses if the group were added to it), largest first.
    """

    objective: float
    bound: float
    optimistic_bound: float
    optimism: float
    exact: bool
    unmeasured: tuple[str, ...]
    contenders: tuple[tuple[str, float], ...]

    @property
    def gap(self) -> float:
        """Relative gap ``(objective - bound) / |objective|`` under the median predictions."""
        return (self.objective - self.bound) / abs(self.objective) if self.objective else 0.0

    @property
    def optimistic_gap(self) -> float:
        """Relative gap to the optimistic bound."""
        return (self.objective - self.optimistic_bound) / abs(self.objective) if self.objective else 0.0

    def describe(self) -> str:
        """One paragraph for people: the bounds, what they assume, and what is still predicted.

        Returns
        -------
        str
            The plan's loss, the bound and the optimistic bound with their gaps, the caveat that they hold under
            the model only, then the unmeasured groups in the plan and the contenders (when there are any).
        """
        kind = "exact over every plan" if self.exact else "a Lagrangian bound over every plan"
        text = (
            f"Plan loss {self.objective:.6g} (measured networks at measured loss, the others predicted). Under the "
            f"model ({kind}) no plan goes below {self.bound:.6g} ({self.gap:.1%} better), and below "
            f"{self.optimistic_bound:.6g} ({self.optimistic_gap:.1%}) even if every unmeasured group were "
            f"{self.optimism:g} standard deviations better than predicted. The bound is only as good as the model: "
            "it holds for the true losses only if no unmeasured group is better than that."
        )
        if self.unmeasured:
            text += f" Predicted, not measured: {', '.join(self.unmeasured)}."
        if self.contenders:
            listing = ", ".join(f"{name} ({gain:.3g})" for name, gain in self.contenders)
            text += f" Unmeasured groups that could improve it most (optimistically): {listing}."
        return text


def certify(posterior: GroupPosterior, plan: tuple[int, ...], n_networks: int, *, optimism: float = 1.0) -> Certificate:
    """The :class:`Certificate` of the plan of rows ``plan`` of ``posterior`` with ``n_networks`` networks.

    Parameters
    ----------
    posterior : GroupPosterior
    plan : tuple of int
        Rows of ``posterior.groups``.
    n_networks : int
        Networks any competing plan may use.
    optimism : float
        Standard deviations of optimism for the optimistic bound (>= 0).

    Returns
    -------
    Certificate
    """
    k = n_networks
    median, hopeful = posterior.values(0.0), posterior.values(optimism)
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
        optimistic_bound=-bound(hopeful),
        optimism=float(optimism),
        exact=exact,
        unmeasured=tuple(names[g] for g in plan if not posterior.measured[g]),
        contenders=tuple((names[g], float(gains[g])) for g in order),
    )
