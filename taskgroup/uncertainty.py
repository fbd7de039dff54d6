"""Standard errors and intervals: a bootstrap over evaluation rows, and errors combined over training repeats.

Two sources of noise make a measured loss differ from the loss a network of that kind would have on average:
training (initialisation and batch order: it changes with the seed) and evaluation (a finite set of validation or
test rows). With several repeats (seeds) the spread of their losses measures the first; a bootstrap over the
evaluation rows of each run measures the second. :func:`repeat_se` combines them into one standard error of the
mean over repeats. Pure numpy: nothing here needs torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from taskgroup.errors import InvalidArgument

__all__ = [
    "BOOTSTRAP_SAMPLES",
    "Z95",
    "bootstrap_rows",
    "bootstrap_counts",
    "bootstrap_se",
    "replicate_se",
    "repeat_se",
    "interval95",
]

#: Bootstrap resamples used for a standard error (the error of a standard error from 200 resamples is about 5 %).
BOOTSTRAP_SAMPLES = 200
#: The two-sided 95 % quantile of the standard normal distribution.
Z95 = 1.959963984540054


def bootstrap_rows(n: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """``samples`` resamples of row indices ``0..n-1`` with replacement: an int array (samples, n).

    Parameters
    ----------
    n : int
        Number of rows to resample.
    samples : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of the draws.

    Returns
    -------
    numpy.ndarray
        Integer row indices, shape ``(samples, n)``; row ``i`` is resample ``i``.

    Raises
    ------
    InvalidArgument
        ``n`` or ``samples`` below 1.
    """
    if n < 1 or samples < 1:
        raise InvalidArgument(f"A bootstrap needs n >= 1 rows and samples >= 1; got n={n}, samples={samples}.")
    return rng.integers(0, n, size=(samples, n))


def bootstrap_counts(n: int, samples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each row is drawn in each of ``samples`` resamples of ``n`` rows: an int array (samples, n).

    The same resamples as :func:`bootstrap_rows` with the same ``rng``, as weights: a statistic that is not a mean
    (a ROC AUC) is computed on every resample at once from them, sorting the rows once.

    Parameters
    ----------
    n : int
        Number of rows to resample.
    samples : int
        Number of resamples.
    rng : numpy.random.Generator
        Source of the draws.

    Returns
    -------
    numpy.ndarray
        Shape ``(samples, n)``; each row sums to ``n``.

    Raises
    ------
    InvalidArgument
        ``n`` or ``samples`` below 1.
    """
    rows = bootstrap_rows(n, samples, rng)
    flat = rows + n * np.arange(samples)[:, None]
    return np.bincount(flat.reshape(-1), minlength=samples * n).reshape(samples, n)


def bootstrap_se(values: np.ndarray, rng: np.random.Generator, *, samples: int = BOOTSTRAP_SAMPLES) -> float:
    """The bootstrap standard error of the mean of ``values`` (e.g. each evaluation row's loss).

    All resamples are drawn at once (an index array ``(samples, n)``), so it costs milliseconds for thousands of
    rows.

    Parameters
    ----------
    values : array, shape (n,)
    rng : numpy.random.Generator
    samples : int
        Number of resamples.

    Returns
    -------
    float
        The standard deviation of the resampled means (NaN with fewer than 2 resamples).

    Raises
    ------
    InvalidArgument
        No values, or ``samples`` below 1.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    means = values[bootstrap_rows(len(values), samples, rng)].mean(axis=1)
    return float(np.std(means, ddof=1)) if samples >= 2 else math.nan


def replicate_se(replicates: np.ndarray) -> float:
    """The standard error a statistic's bootstrap replicates give: their standard deviation (finite ones only).

    Parameters
    ----------
    replicates : array, shape (samples,)
        The statistic on each resample; NaN where it was undefined there (an AUC on a resample holding one class).

    Returns
    -------
    float
        NaN with fewer than 2 finite replicates.
    """
    values = np.asarray(replicates, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    return float(np.std(values, ddof=1)) if values.size >= 2 else math.nan


def repeat_se(values: Sequence[float], evaluation_se: Sequence[float] | None = None) -> float:
    """The standard error of the mean of ``values`` (one per training repeat, all scored on the same rows).

    ``se^2 = s^2 / K + e^2``: ``s`` is the spread of the K repeats (NaN for K = 1: training noise unknown, then only
    the evaluation part is returned), ``e`` the mean of the repeats' bootstrap errors over evaluation rows. The
    repeats share their evaluation rows, so the evaluation error does not shrink with K; taking their mean treats
    it as fully shared, which overstates it a little where the networks err on different rows.

    Parameters
    ----------
    values : sequence of float
        One value per repeat.
    evaluation_se : sequence of float, optional
        Each repeat's bootstrap error over evaluation rows (NaN or absent: unknown).

    Returns
    -------
    float
        NaN when neither part is known (one repeat and no bootstrap error).

    Raises
    ------
    InvalidArgument
        No values, or a different number of evaluation errors.
    """
    repeats = np.asarray(values, dtype=float)
    if repeats.size == 0:
        raise InvalidArgument("repeat_se needs at least one value; got none.")
    errors = np.full(repeats.shape, np.nan) if evaluation_se is None else np.asarray(evaluation_se, dtype=float)
    if errors.shape != repeats.shape:
        raise InvalidArgument(f"repeat_se got {repeats.size} values and {errors.size} evaluation errors.")
    training = np.var(repeats, ddof=1) / repeats.size if repeats.size > 1 else math.nan
    evaluation = float(np.mean(errors)) ** 2 if np.isfinite(errors).all() else math.nan
    parts = [p for p in (training, evaluation) if math.isfinite(p)]
    return math.sqrt(sum(parts)) if parts else math.nan


def interval95(samples: Sequence[float]) -> tuple[float, float]:
    """The 95 % percentile interval ``(2.5 %, 97.5 %)`` of bootstrap replicates (finite ones only).

    Parameters
    ----------
    samples : sequence of float
        Bootstrap replicates of a statistic; NaN and infinite ones are left out.

    Returns
    -------
    tuple of float
        ``(low, high)``: the 2.5 % and 97.5 % quantiles of the finite replicates.

    Raises
    ------
    InvalidArgument
        Fewer than 2 finite replicates.
    """
    values = np.asarray(samples, dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise InvalidArgument(f"A percentile interval needs at least 2 finite replicates; got {values.size}.")
    lo, hi = np.quantile(values, [0.025, 0.975])
    return float(lo), float(hi)
