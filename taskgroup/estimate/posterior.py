r"""A Bayesian model of every group's per-task loss, fitted on the groups measured so far, with uncertainty.

For task ``t`` in a group ``G`` of ``s`` tasks the model is, on the log of the loss::

    log L_t(G) = c_t + d_t log s + mean_{u in G \ {t}} W[u, t] + e,        e ~ N(0, sigma^2)

(for a single-task network ``s = 1`` and only ``c_t`` remains). It is the membership model of
:mod:`taskgroup.estimate.fitted` on a log scale, so effects are relative (a partner that lowers a loss by 10 %
does so whatever the task's scale), with Gaussian priors that share what little is measured between tasks:

- ``c_t ~ N(mean observed log loss of t, 1)``: the task's own level, nearly free;
- ``d_t = d + d'_t`` with ``d ~ N(0, 0.3^2)`` shared by all tasks and ``d'_t ~ N(0, 0.1^2)``: the cost of
  sharing one network among more tasks is learnt from every task at once;
- ``W[u, t] ~ N(0, tau^2)`` with correlation ``0.5`` between ``W[u, t]`` and ``W[t, u]`` (a pair that helps one
  way tends to help the other) and ``0.25`` between ``W[u, t]`` and ``W[u, t']`` (some tasks help most others),
  as MTG-Net's task embeddings share a task's effect over its groups.

``sigma`` and ``tau`` range over a fixed grid; predictions average the grid's posteriors weighted by their
marginal likelihood (a uniform prior on the grid), so the same settings serve every table and few measurements
leave the predictions uncertain. The grid reaches pair effects of ``tau = 0.8`` (a partner that halves or doubles
a loss): real tables have them (on the mnist suite ``digit`` more than halves ``large``'s loss), and a grid that
stopped at 0.4 left the model sure about groups it had not measured, so the acquisition spent its budget on
single-task networks (``benchmarks/results/strategies.md``, the section on the grid). The posterior is Gaussian
and exact (a joint linear model of ``2n + n(n-1)`` parameters); predictions and their standard deviations are
computed for every one of the ``2^n - 1`` groups, which limits the model to :data:`MAX_POSTERIOR_TASKS` tasks.

Measured groups are not predicted: their measured losses override the model everywhere it is used.

:meth:`GroupPosterior.calibration` checks the model on the measured groups themselves: each measured group is
predicted from the others (leave one group out, at the grid point of highest evidence) and the residuals, in
predictive standard deviations, give a factor (>= 1) by which the model's standard deviations are too small;
:func:`~taskgroup.estimate.certificate.certify` widens its bound by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import product

import numpy as np
from threadpoolctl import threadpool_limits

from taskgroup.errors import InstanceTooLarge, InvalidArgument

__all__ = ["GroupPosterior", "fit_group_posterior", "MAX_POSTERIOR_TASKS", "all_groups"]

MAX_POSTERIOR_TASKS = 12
"""Most tasks the posterior enumerates groups for (``n 2^(n-1)`` predictions: 24,576 at 12 tasks)."""

# Fixed prior scales (log-loss units) and the empirical-Bayes grid; one setting for every table.
_LEVEL_SD = 1.0
_SIZE_SHARED_SD = 0.3
_SIZE_TASK_SD = 0.1
_SWAP_CORRELATION = 0.5
_SOURCE_CORRELATION = 0.25
_SIGMA_GRID = (0.02, 0.05, 0.1, 0.2, 0.4)
_TAU_GRID = (0.05, 0.1, 0.2, 0.4, 0.8)
_NEGLIGIBLE_WEIGHT = 1e-3


@dataclass(frozen=True)
class _Design:
    """Every group of ``n`` tasks (bit masks, by size then mask) and its feature rows, built once per ``n``."""

    masks: np.ndarray  # (G,)
    members: np.ndarray  # (G, n) bool
    rows: np.ndarray  # (n_pairs, p): one row per (group, member)
    row_group: np.ndarray  # (n_pairs,) group index of each row
    row_task: np.ndarray  # (n_pairs,) task index of each row
    prior_cov: np.ndarray  # (p, p) prior covariance of the W block for tau = 1
    n: int


def all_groups(n: int) -> list[frozenset[int]]:
    """Every non-empty group of ``n`` tasks, in the order the posterior uses (by size, then bit mask).

    Parameters
    ----------
    n : int
        The number of tasks.

    Returns
    -------
    list of frozenset of int
        ``2**n - 1`` groups of task indices.
    """
    return [frozenset(int(i) for i in np.flatnonzero(row)) for row in _design(n).members]


@lru_cache(maxsize=4)
def _design(n: int) -> _Design:
    masks = np.array(sorted(range(1, 2**n), key=lambda m: (m.bit_count(), m)), dtype=np.int64)
    members = ((masks[:, None] >> np.arange(n)[None, :]) & 1).astype(bool)
    p = 2 * n + n * (n - 1)
    w_index = {(u, t): 2 * n + i for i, (u, t) in enumerate((u, t) for u, t in product(range(n), range(n)) if u != t)}
    rows, row_group, row_task = [], [], []
    for g, row in enumerate(members):
        idx = [int(i) for i in np.flatnonzero(row)]
        s = len(idx)
        for t in idx:
            phi = np.zeros(p)
            phi[t] = 1.0
            if s > 1:
                phi[n + t] = np.log(s)
                for u in idx:
                    if u != t:
                        phi[w_index[(u, t)]] = 1.0 / (s - 1)
            rows.append(phi)
            row_group.append(g)
            row_task.append(t)
    cov = np.zeros((p, p))
    for (u, t), i in w_index.items():
        cov[i, i] = 1.0
        cov[i, w_index[(t, u)]] = _SWAP_CORRELATION
        for (u2, t2), j in w_index.items():
            if u2 == u and t2 != t:
                cov[i, j] = _SOURCE_CORRELATION
    return _Design(masks, members, np.array(rows), np.array(row_group), np.array(row_task), cov, n)


@dataclass(frozen=True)
class GroupPosterior:
    """The fitted model's predictions for every group, measured groups at their measured losses.

    Attributes
    ----------
    tasks : tuple of str
    groups : list of frozenset of int
        Every group (task indices), in the order of the arrays' first axis.
    members : ndarray (G, n) bool
    log_mean, log_sd : ndarray (G, n)
        Posterior mean and standard deviation of each member's log loss (NaN outside the group; the sd is 0 for
        measured groups).
    measured : ndarray (G,) bool
        Whether each group was measured.
    observed : ndarray (G, n)
        Measured losses (NaN where not measured).
    weights : ndarray (n,)
    sigma, tau : float
        The noise and pair-effect scales of the grid point with the highest marginal likelihood.
    """

    tasks: tuple[str, ...]
    groups: list[frozenset[int]]
    members: np.ndarray
    log_mean: np.ndarray
    log_sd: np.ndarray
    measured: np.ndarray
    observed: np.ndarray
    weights: np.ndarray
    sigma: float
    tau: float

    def calibration(self) -> float:
        """How much wider the model's uncertainty should be to match its errors on the measured groups (>= 1).

        Each measured group is predicted from the others (leave one group out) under the prior and noise of the
        grid point of highest evidence (:attr:`sigma`, :attr:`tau`), task levels recomputed without it (a task
        seen only in that group is predicted as a new one would be). The answer is the root mean square of the
        residuals in predictive standard deviations, and at least 1; 1 with fewer than two measured groups.

        Returns
        -------
        float
            The factor (>= 1).
        """
        design = _design(self.members.shape[1])
        fit = self.measured[design.row_group]
        return _calibration(
            design,
            design.rows[fit],
            np.log(self.observed[design.row_group[fit], design.row_task[fit]]),
            design.row_group[fit],
            design.row_task[fit],
            np.linalg.inv(_prior(design, self.tau)),
            self.sigma,
        )

    def losses(self, optimism: float = 0.0) -> np.ndarray:
        """Loss of every member of every group, ``exp(mean - optimism * sd)`` unless measured (then measured).

        ``optimism = 0`` gives the posterior median; ``optimism > 0`` an optimistic (lower) loss: an upper
        confidence bound on each group's value. Entries outside a group are ``inf``.

        Parameters
        ----------
        optimism : float, default 0.0
            Standard deviations below the posterior mean of the log loss (measured losses are kept as measured).

        Returns
        -------
        numpy.ndarray
            Shape ``(G, n)``: per group and task, the loss; ``inf`` where the task is not in the group.
        """
        predicted = np.exp(self.log_mean - optimism * self.log_sd)
        out = np.where(self.measured[:, None], self.observed, predicted)
        return np.where(self.members, out, np.inf)

    def values(self, optimism: float = 0.0) -> np.ndarray:
        """``-w_t * loss`` (higher is better) of :meth:`losses`; ``-inf`` outside each group.

        Parameters
        ----------
        optimism : float, default 0.0
            Passed to :meth:`losses`.

        Returns
        -------
        numpy.ndarray
            Shape ``(G, n)``: per group and task, the weighted negative loss; ``-inf`` outside the group.
        """
        return np.where(self.members, -self.weights[None, :] * self.losses(optimism), -np.inf)

    def index(self, group: Sequence[str]) -> int:
        """Row of the group with these task names.

        Parameters
        ----------
        group : sequence of str
            Task names, each in :attr:`tasks` (in any order).

        Returns
        -------
        int
            The group's row in the arrays' first axis.

        Raises
        ------
        InvalidArgument
            No name, a repeated name, or a name that is not one of :attr:`tasks`.
        """
        unknown = [t for t in group if t not in self.tasks]
        if unknown or not group or len(set(group)) != len(group):
            raise InvalidArgument(
                f"group={list(group)!r} is not a group of this posterior; accepted: distinct names among "
                f"{list(self.tasks)}."
            )
        mask = sum(1 << self.tasks.index(t) for t in group)
        return int(np.searchsorted(_order_keys(self.members.shape[1]), _key(mask)))


def _key(mask: int) -> int:
    return (mask.bit_count() << 32) | mask


@lru_cache(maxsize=4)
def _order_keys(n: int) -> np.ndarray:
    return np.array([_key(int(m)) for m in _design(n).masks], dtype=np.int64)


def fit_group_posterior(
    tasks: Sequence[str],
    measurements: Mapping[tuple[str, ...], Mapping[str, float]],
    *,
    weights: Sequence[float] | None = None,
) -> GroupPosterior:
    """Fit the model of this module on the measured groups (none at all gives the prior).

    Parameters
    ----------
    tasks : sequence of str
        All tasks, in order (2 .. :data:`MAX_POSTERIOR_TASKS`).
    measurements : mapping
        ``{("a", "b"): {"a": 0.31, "b": 0.52}, ...}``: each measured group's per-task loss (> 0, lower is better).
    weights : sequence of float, optional
        Task weights of the objective (default 1).

    Returns
    -------
    GroupPosterior

    Raises
    ------
    InvalidArgument
        Unknown or repeated tasks, a group given twice (in any order of its tasks), missing, non-finite or
        non-positive losses (the model is on the log of the loss), or bad weights.
    InstanceTooLarge
        More than :data:`MAX_POSTERIOR_TASKS` tasks.

    Examples
    --------
    >>> post = fit_group_posterior(["a", "b", "c"], {("a", "b"): {"a": 0.3, "b": 0.5}})
    >>> float(post.losses()[post.index(["a", "b"]), 0])  # measured: kept as measured
    0.3
    """
    tasks = tuple(str(t) for t in tasks)
    n = len(tasks)
    if n < 2 or len(set(tasks)) != n:
        raise InvalidArgument(f"tasks must be 2 or more distinct names; got {list(tasks)!r}.")
    if n > MAX_POSTERIOR_TASKS:
        raise InstanceTooLarge(
            f"The group posterior enumerates all 2^n - 1 groups and accepts at most {MAX_POSTERIOR_TASKS} tasks; "
            f"got {n}. With more tasks use taskgroup.strategies.adaptive_select (a fitted predictor without listing)."
        )
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise InvalidArgument(f"weights must be {n} finite numbers > 0; got {weights!r}.")
    design = _design(n)
    G = len(design.masks)
    measured = np.zeros(G, dtype=bool)
    observed = np.full((G, n), np.nan)
    index = {t: i for i, t in enumerate(tasks)}
    keys = _order_keys(n)
    for group, losses in measurements.items():
        if isinstance(group, str) or not group or any(t not in index for t in group) or len(set(group)) != len(group):
            raise InvalidArgument(f"Measured group {group!r} is not accepted: give distinct tasks among {list(tasks)}.")
        if set(losses) != set(group):
            raise InvalidArgument(f"Measured group {group!r} has losses for {sorted(losses)}; give one per member.")
        bad = {t: v for t, v in losses.items() if not (np.isfinite(v) and v > 0)}
        if bad:
            raise InvalidArgument(
                f"Measured group {group!r} has losses {bad}; the posterior models log losses and accepts finite "
                "losses > 0 only."
            )
        g = int(np.searchsorted(keys, _key(sum(1 << index[t] for t in group))))
        if measured[g]:
            raise InvalidArgument(f"Group {sorted(group)} is measured twice; give it once (e.g. the mean over seeds).")
        measured[g] = True
        for t, v in losses.items():
            observed[g, index[t]] = float(v)
    # The matrices are small (2n + n(n-1) square): BLAS threads only contend with each other and with whatever else
    # runs (10x slower on a loaded 2-core machine), so the fit runs on one.
    with threadpool_limits(limits=1, user_api="blas"):
        log_mean, log_sd, sigma, tau = _posterior(design, measured, np.log(observed))
    return GroupPosterior(tasks, all_groups(n), design.members, log_mean, log_sd, measured, observed, w, sigma, tau)


def _posterior(
    design: _Design, measured: np.ndarray, log_observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, float]:
    n = design.n
    p = design.rows.shape[1]
    fit = measured[design.row_group]
    Phi = design.rows[fit]
    y = log_observed[design.row_group[fit], design.row_task[fit]]
    mu0 = np.concatenate([_levels(y, design.row_task[fit], n), np.zeros(p - n)])
    fits = []  # (log evidence, sigma, tau, posterior mean, posterior covariance) per grid point
    resid = y - Phi @ mu0
    gram, proj = Phi.T @ Phi, Phi.T @ resid
    for tau in _TAU_GRID:
        prior = _prior(design, tau)
        prior_inv = np.linalg.inv(prior)
        _, logdet_prior = np.linalg.slogdet(prior)
        for sigma in _SIGMA_GRID:
            precision = prior_inv + gram / sigma**2
            cov = np.linalg.inv(precision)
            _, logdet_precision = np.linalg.slogdet(precision)
            quad = (resid @ resid - proj @ cov @ proj / sigma**2) / sigma**2
            evidence = -0.5 * (logdet_prior + logdet_precision + len(y) * np.log(sigma**2) + quad)
            fits.append((float(evidence), sigma, tau, mu0 + cov @ proj / sigma**2, cov))
    # Average over the grid by posterior weight (a uniform prior on the log grid) rather than take the best point:
    # with few measurements the evidence cannot tell small pair effects from large ones, and the best point alone
    # would be overconfident exactly then. Points of negligible weight are skipped (the predictions are the cost).
    evidence = np.array([f[0] for f in fits])
    weight = np.exp(evidence - evidence.max())
    weight /= weight.sum()
    pred_mean = np.zeros(len(design.rows))
    second = np.zeros(len(design.rows))
    kept = weight >= _NEGLIGIBLE_WEIGHT
    for w, (_, sigma, _, mean, cov) in zip(weight[kept] / weight[kept].sum(), [f for f, k in zip(fits, kept) if k]):
        predicted = design.rows @ mean
        # the residual is part of what an unmeasured group's true loss may differ by (higher-order effects)
        variance = np.maximum(((design.rows @ cov) * design.rows).sum(axis=1), 0.0) + sigma**2
        pred_mean += w * predicted
        second += w * (variance + predicted**2)
    pred_sd = np.sqrt(np.maximum(second - pred_mean**2, 0.0))
    top = fits[int(np.argmax(weight))]
    sigma, tau = top[1], top[2]
    G = len(design.masks)
    log_mean = np.full((G, n), np.nan)
    log_sd = np.full((G, n), np.nan)
    log_mean[design.row_group, design.row_task] = pred_mean
    log_sd[design.row_group, design.row_task] = pred_sd
    log_sd[measured] = np.where(design.members[measured], 0.0, np.nan)
    return log_mean, log_sd, float(sigma), float(tau)


def _levels(y: np.ndarray, task: np.ndarray, n: int) -> np.ndarray:
    """Each task's mean observed log loss (the mean of all of them for a task never observed; 0 with none)."""
    level = np.full(n, float(y.mean()) if len(y) else 0.0)
    for t in range(n):
        mine = y[task == t]
        if len(mine):
            level[t] = float(mine.mean())
    return level


def _prior(design: _Design, tau: float) -> np.ndarray:
    """The prior covariance of the parameters for pair-effect scale ``tau``."""
    n = design.n
    prior = np.zeros_like(design.prior_cov)
    prior[:n, :n] = np.eye(n) * _LEVEL_SD**2
    prior[n : 2 * n, n : 2 * n] = _SIZE_SHARED_SD**2 + np.eye(n) * _SIZE_TASK_SD**2
    prior[2 * n :, 2 * n :] = design.prior_cov[2 * n :, 2 * n :] * tau**2
    return prior


def _calibration(
    design: _Design,
    Phi: np.ndarray,
    y: np.ndarray,
    group: np.ndarray,
    task: np.ndarray,
    prior_inv: np.ndarray,
    sigma: float,
) -> float:
    """RMS of leave-one-group-out residuals in predictive sds (>= 1): see :meth:`GroupPosterior.calibration`."""
    rows = np.unique(group)
    if len(rows) < 2:
        return 1.0
    n, p = design.n, Phi.shape[1]
    z = []
    for g in rows:
        out = group == g
        keep = ~out
        mu0 = np.concatenate([_levels(y[keep], task[keep], n), np.zeros(p - n)])
        precision = prior_inv + Phi[keep].T @ Phi[keep] / sigma**2
        cov = np.linalg.inv(precision)
        mean = mu0 + cov @ (Phi[keep].T @ (y[keep] - Phi[keep] @ mu0)) / sigma**2
        held = Phi[out]
        variance = ((held @ cov) * held).sum(axis=1) + sigma**2
        z.extend((y[out] - held @ mean) / np.sqrt(variance))
    return max(1.0, float(np.sqrt(np.mean(np.square(z)))))
