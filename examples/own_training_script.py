"""Your own training script as a taskgroup objective: which tasks should share a network?

The objective below trains a scikit-learn multi-output MLP (one shared hidden layer: hard parameter sharing)
on the tasks it is given and returns their validation and test losses and the network's parameter count.
taskgroup calls it for every candidate group of tasks, stores each result as it finishes (rerun to resume),
and chooses the groups that fit a budget. Replace the body of ``objective`` with your own training (Lightning,
a Hugging Face Trainer, a subprocess...): taskgroup only needs the returned numbers.

    python examples/own_training_script.py --store results.db --budget 2.5
    python examples/own_training_script.py --store results.db --budget 2.5 --executor process:2

The same objective from the command line (run in this folder, or put it on PYTHONPATH):

    taskgroup measure --objective own_training_script:objective --tasks t0,t1,t2,t3 --store cli.db
    taskgroup solve --store cli.db --budget 2.5
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

TASKS = ["t0", "t1", "t2", "t3"]


def make_data(n: int = 600, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Inputs and one regression target per task; t0/t1 and t2/t3 are related pairs."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    w1, w2 = 0.4 * rng.normal(size=8), 0.4 * rng.normal(size=8)
    targets = {
        "t0": np.sin(x @ w1),
        "t1": np.sin(x @ w1) + 0.3 * x[:, 0],
        "t2": np.tanh(x @ w2),
        "t3": np.tanh(x @ w2) - 0.3 * x[:, 1],
    }
    return x, {t: y + 0.05 * rng.normal(size=n) for t, y in targets.items()}


def objective(tasks: list[str], variant: str, seed: int, n: int = 600, epochs: int = 200) -> dict:
    """Train one network serving ``tasks``; return per-task losses and its cost.

    ``variant`` is "full" (32 hidden units) or "half" (16); ``n`` and ``epochs`` are settings
    (``measure(..., settings={"epochs": 20})`` gives ESA-style short runs).
    """
    x, targets = make_data(n)
    y = np.column_stack([targets[t] for t in tasks])
    y_fit = y[:, 0] if len(tasks) == 1 else y  # scikit-learn wants a 1-D target for one output
    train, val, test = slice(0, n // 2), slice(n // 2, 3 * n // 4), slice(3 * n // 4, n)
    hidden = {"full": 32, "half": 16}[variant]
    model = MLPRegressor(hidden_layer_sizes=(hidden,), max_iter=epochs, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short runs stop before convergence on purpose
        model.fit(x[train], y_fit[train])

    def mse(part: slice) -> dict[str, float]:
        pred = model.predict(x[part]).reshape(-1, len(tasks))
        return {t: float(np.mean((pred[:, i] - y[part][:, i]) ** 2)) for i, t in enumerate(tasks)}

    params = sum(w.size for w in model.coefs_) + sum(b.size for b in model.intercepts_)
    return {"val": mse(val), "test": mse(test), "cost": {"params": float(params)}}


def main(argv: list[str] | None = None) -> int:
    import taskgroup as tg
    from taskgroup.measure.objective import measure_objective
    from taskgroup.measure.store import ResultStore

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", default="results.db")
    parser.add_argument("--budget", type=float, default=2.5, help="in full-size single-task networks")
    parser.add_argument("--executor", default="serial")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=200)
    args = parser.parse_args(argv)

    measure_objective(
        objective,
        args.store,
        tasks=TASKS,
        variants=["full", "half"],
        seeds=args.seeds,
        settings={"epochs": args.epochs},
        executor=args.executor,
        progress=False,
    )
    store = ResultStore(args.store)
    val, test = store.to_problem("val", "params"), store.to_problem("test", "params")
    plan = tg.solve(val, budget=args.budget)
    print(plan.summary())
    print(f"test loss of the chosen networks: {test.evaluate(plan.networks).objective:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
