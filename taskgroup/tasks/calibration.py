"""Temperature scaling of a classification head (Guo et al. 2017), as pure functions over numpy arrays.

A head trained on few labels, or sharing a trunk with other tasks, can rank classes well yet be over- or
under-confident, and its cross-entropy then says more about its confidence than about its predictions. Dividing
its logits by one temperature ``T > 0`` fitted on the validation rows removes that part (accuracy and AUC are
unchanged by it); :func:`calibrated_loss` is the loss left. Regression heads have no temperature: their loss is
returned unchanged with ``T = 1``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_expit, log_softmax

from taskgroup.errors import InvalidArgument

__all__ = ["nll", "fit_temperature", "calibrated_loss", "TEMPERATURE_RANGE"]

#: The temperatures searched: wide enough for any head taskgroup trains, bounded so that a head whose
#: validation rows are all predicted right (the NLL then falls towards 0 as T -> 0) still gets a finite answer.
TEMPERATURE_RANGE = (0.05, 20.0)


def nll(kind: str, y_true: np.ndarray, output: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the labels under the head's output divided by ``temperature``.

    Parameters
    ----------
    kind : {"binary", "multiclass"}
    y_true : array of int, shape (n,)
        Class ids of the labelled rows.
    output : array, shape (n,) or (n, 1) for binary, (n, k) for multiclass
        The head's logits.
    temperature : float
        ``T > 0``.

    Returns
    -------
    float
        The binary or categorical cross-entropy (the training loss at ``T = 1``).

    Raises
    ------
    InvalidArgument
        Another kind, a temperature not > 0, or labels and outputs of different lengths.
    """
    if not temperature > 0:
        raise InvalidArgument(f"temperature={temperature!r}; a temperature must be > 0.")
    y = np.asarray(y_true).astype(int)
    z = np.asarray(output, dtype=np.float64) / temperature
    if z.shape[0] != y.shape[0]:
        raise InvalidArgument(f"Labels and outputs differ in length: {y.shape[0]} vs {z.shape[0]}.")
    if kind == "binary":
        z = z.reshape(-1)
        return float(-np.mean(np.where(y == 1, log_expit(z), log_expit(-z))))
    if kind == "multiclass":
        return float(-np.mean(log_softmax(z, axis=1)[np.arange(len(y)), y]))
    raise InvalidArgument(f"Temperatures apply to 'binary' and 'multiclass' heads; got kind {kind!r}.")


def fit_temperature(kind: str, y_true: np.ndarray, output: np.ndarray) -> float:
    """The temperature in :data:`TEMPERATURE_RANGE` that minimises :func:`nll` on these rows (1.0 for regression).

    The search is over ``log T`` (bounded Brent), where the NLL is smooth and its scale even on both sides of 1.

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    y_true : numpy.ndarray, shape (n,)
        Labels of the labelled rows.
    output : numpy.ndarray
        The head's raw output on those rows (logits).

    Returns
    -------
    float
        The temperature found, or 1.0 where it does not lower the NLL below that at 1.0.

    Raises
    ------
    InvalidArgument
        An unknown kind, no labelled rows, or labels and outputs of different lengths.
    """
    if kind == "regression":
        return 1.0
    if len(np.asarray(y_true)) == 0:
        raise InvalidArgument("fit_temperature needs at least one labelled row; got none.")
    low, high = np.log(TEMPERATURE_RANGE)
    found = minimize_scalar(
        lambda log_t: nll(kind, y_true, output, float(np.exp(log_t))),
        bounds=(low, high),
        method="bounded",
        options={"xatol": 1e-4},
    )
    best = float(np.exp(found.x))
    # Brent stops within its tolerance of the optimum; never return a temperature worse than none at all
    return best if nll(kind, y_true, output, best) < nll(kind, y_true, output, 1.0) else 1.0


def calibrated_loss(kind: str, y_true: np.ndarray, output: np.ndarray, loss: float) -> tuple[float, float]:
    """``(calibrated loss, temperature)`` of one head on its labelled rows.

    Parameters
    ----------
    kind : {"regression", "binary", "multiclass"}
    y_true : array, shape (n,)
        Labels of the labelled rows.
    output : array
        The head's raw output on those rows.
    loss : float
        The head's loss at ``T = 1`` (returned as it is for regression, which has no temperature).

    Returns
    -------
    tuple of float
        The NLL at the fitted temperature (never above the NLL at ``T = 1``), and that temperature.
    """
    if kind == "regression":
        return float(loss), 1.0
    temperature = fit_temperature(kind, y_true, output)
    return nll(kind, y_true, output, temperature), temperature
