"""MMoE (Ma et al., KDD 2018) reproduced: shared bottom vs one-gate MoE vs MMoE as task correlation falls.

Part of ``benchmarks/train.py`` (which writes ``benchmarks/results/train.md``); also runnable alone:

    python -m benchmarks.train --only mmoe [--quick]

The data is the paper's synthetic generator (sec. 3.2) as :func:`taskgroup.datasets.suites.synthetic_suite`
builds it, two regression tasks whose weight vectors have cosine ``p``. The three models are the paper's:

- **MMoE**: 8 experts, each one ReLU layer of 16 units; one softmax gate per task on the input; a tower per
  task of one ReLU layer of 8 units and a linear output (the ``mmoe`` family).
- **OMoE**: the same, with one gate shared by both tasks (the ``omoe`` family).
- **Shared bottom**: one shared ReLU layer of ``h`` units and the same towers. It is built as a mixture with
  one expert (``mmoe``, ``n_experts=1``): a softmax over one expert is the constant 1, so that network *is* a
  shared bottom with per-task towers; its two gates receive no gradient and are not counted as parameters.
  ``h`` is chosen so that the trained parameters match MMoE's.

Every run is one seed: the seed draws the inputs, the label noise, the orthonormal directions ``u1, u2``, the
split, the initial weights and the batch order. The sine frequencies and phases ``alpha, beta`` are drawn once
(``alpha_beta_seed=0``) for every run, as the paper keeps them fixed. Runs go to a pool of worker processes
with one torch thread each.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from taskgroup.datasets.suites import synthetic_suite
from taskgroup.engine import TrainConfig, build_model, fit, predict, score

TITLE = "1. MMoE vs one-gate MoE vs shared bottom as task correlation falls (Ma et al., KDD 2018)"
CORRELATIONS = (1.0, 0.9, 0.5, 0.0)
MODELS = ("shared bottom", "OMoE", "MMoE")
# the paper's generator: d = 100 inputs, c = ||w|| = 1, m = 10 sine terms, label noise std 0.1 (its
# epsilon ~ N(0, 0.01) read as a variance); alpha, beta ~ N(0, 1) drawn once
GENERATOR = dict(clusters=(2,), d=100, scale=1.0, n_sin=10, noise_std=0.1, alpha_beta_seed=0)
N_EXPERTS, EXPERT_WIDTH, TOWER_WIDTH = 8, 16, 8


@dataclass(frozen=True)
class Setting:
    """One experimental setting: data size, model sizes and the training schedule."""

    name: str
    n_train: int
    epochs: int
    expert_width: int = EXPERT_WIDTH
    n_experts: int = N_EXPERTS
    tower_width: int = TOWER_WIDTH
    batch_size: int = 256
    lr: float = 1e-3
    n_eval: int = 2500  # validation and test rows each

    def options(self, model: str) -> tuple[str, dict]:
        """The family and options of ``model`` in this setting."""
        tower = (self.tower_width,)
        if model == "shared bottom":
            return "mmoe", {"n_experts": 1, "expert_hidden": (self.bottom_width(),), "tower_hidden": tower}
        family = {"OMoE": "omoe", "MMoE": "mmoe"}[model]
        return family, {"n_experts": self.n_experts, "expert_hidden": (self.expert_width,), "tower_hidden": tower}

    def trained_parameters(self, model: str, d: int = 100, n_tasks: int = 2) -> int:
        """Parameters that receive gradient (a one-expert mixture's gates do not)."""
        width = self.bottom_width() if model == "shared bottom" else self.expert_width
        experts = 1 if model == "shared bottom" else self.n_experts
        gates = {"shared bottom": 0, "OMoE": 1, "MMoE": n_tasks}[model] * (d + 1) * experts
        towers = n_tasks * ((width + 1) * self.tower_width + self.tower_width + 1)
        return experts * (d + 1) * width + gates + towers

    def bottom_width(self, d: int = 100, n_tasks: int = 2) -> int:
        """Shared-bottom width ``h`` whose trained parameters are closest to MMoE's."""
        mmoe = (
            self.n_experts * (d + 1) * self.expert_width
            + n_tasks * (d + 1) * self.n_experts
            + n_tasks * ((self.expert_width + 1) * self.tower_width + self.tower_width + 1)
        )
        per_unit = (d + 1) + n_tasks * self.tower_width  # one bottom unit: its input weights and the towers' reads
        fixed = n_tasks * (2 * self.tower_width + 1)
        return max(1, round((mmoe - fixed) / per_unit))

    @property
    def n_samples(self) -> int:
        return self.n_train + 2 * self.n_eval

    @property
    def split(self) -> tuple[float, float, float]:
        return (self.n_train / self.n_samples, self.n_eval / self.n_samples, self.n_eval / self.n_samples)


@dataclass
class Run:
    setting: str
    p: float
    model: str
    seed: int
    test_mse: float  # mean over the two tasks, standardised targets
    r2: float
    val_curve: list[float] = field(default_factory=list)  # mean validation MSE per epoch
    seconds: float = 0.0


def one_run(setting: Setting, p: float, model: str, seed: int) -> Run:
    """Train one model on one seed's data and score it on the test split."""
    torch.set_num_threads(1)
    suite = synthetic_suite(
        n_samples=setting.n_samples, within=p, seed=seed, weight_seed=seed, split=setting.split, **GENERATOR
    )
    family, options = setting.options(model)
    config = TrainConfig(
        model=family,
        options=options,
        epochs=setting.epochs,
        batch_size=setting.batch_size,
        lr=setting.lr,
        patience=None,
    )
    net = build_model(config.factory(), suite.tasks, "full", suite.example_batch(), seed)
    start = time.perf_counter()
    result = fit(net, suite.train, suite.tasks, config, val=suite.val, seed=seed)
    seconds = time.perf_counter() - start
    if result.status != "ok":
        raise RuntimeError(f"{model} p={p} seed={seed} failed to train: {result.reason}")
    outputs = predict(net, suite.test)
    losses = score(outputs, suite.test, suite.tasks)
    y = suite.test.y.numpy()
    r2 = [
        1 - float(np.mean((outputs[t.name][:, 0] - y[:, c]) ** 2) / np.var(y[:, c])) for c, t in enumerate(suite.tasks)
    ]
    return Run(
        setting.name,
        p,
        model,
        seed,
        statistics.mean(s["loss"] for s in losses.values()),
        statistics.mean(r2),
        [v / len(suite.tasks) for v in result.val_loss],
        seconds,
    )


def _star(args: tuple) -> Run:
    return one_run(*args)


def run_all(settings: Sequence[tuple[Setting, Sequence[float], Sequence[int]]], workers: int) -> list[Run]:
    jobs = [(s, p, m, seed) for s, ps, seeds in settings for p in ps for seed in seeds for m in MODELS]
    # the slowest jobs (MMoE, OMoE) first so the pool does not end on one long job
    jobs.sort(key=lambda j: (j[2] == "shared bottom", -j[0].n_train * j[0].epochs))
    runs = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for i, run in enumerate(pool.map(_star, jobs), 1):
            runs.append(run)
            if i % 20 == 0 or i == len(jobs):
                print(f"mmoe: {i}/{len(jobs)} runs", flush=True)
    return runs


def ci95(values: Sequence[float]) -> float:
    """Half-width of the 95 % confidence interval of the mean (Student t)."""
    n = len(values)
    return float(stats.t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n)) if n > 1 else float("nan")


def fmt(values: Sequence[float], spec: str = ".4f") -> str:
    spread = spec.replace("+", "")
    return f"{statistics.mean(values):{spec}} ± {ci95(values):{spread}}"


def _select(runs: Sequence[Run], setting: str) -> dict[tuple[float, str], dict[int, Run]]:
    table: dict[tuple[float, str], dict[int, Run]] = {}
    for r in runs:
        if r.setting == setting:
            table.setdefault((r.p, r.model), {})[r.seed] = r
    return table


def degradation(runs: Sequence[Run], setting: str, ps: Sequence[float]) -> tuple[dict, list[float], str]:
    """Per model, the per-seed rise in test MSE from the highest to the lowest correlation; the shared bottom's
    rise minus MMoE's; and the verdict on the paper's claim (MMoE degrades less)."""
    table = _select(runs, setting)
    seeds = sorted(table[(ps[0], MODELS[0])])
    drops = {m: [table[(ps[-1], m)][s].test_mse - table[(ps[0], m)][s].test_mse for s in seeds] for m in MODELS}
    gap = [a - b for a, b in zip(drops["shared bottom"], drops["MMoE"])]
    if len(gap) > 1 and statistics.mean(gap) - ci95(gap) > 0:
        verdict = "MMoE degrades less than the shared bottom (the interval of the difference excludes 0)"
    elif len(gap) > 1 and statistics.mean(gap) + ci95(gap) < 0:
        verdict = "MMoE degrades more than the shared bottom (the interval of the difference excludes 0)"
    else:
        verdict = (
            "MMoE does not degrade measurably less than the shared bottom (the interval of the difference includes 0)"
        )
    return drops, gap, verdict


def summary(data: dict) -> list[str]:
    """One line per setting: does MMoE degrade less, and is it better at the lowest correlation."""
    runs = [Run(**r) for r in data["runs"]]
    lines = []
    for entry in data["settings"]:
        name, ps = entry["setting"]["name"], entry["correlations"]
        _, gap, verdict = degradation(runs, name, ps)
        table = _select(runs, name)
        seeds = sorted(table[(ps[-1], "MMoE")])
        diff = [table[(ps[-1], "MMoE")][s].test_mse - table[(ps[-1], "shared bottom")][s].test_mse for s in seeds]
        lines.append(
            f"- MMoE, setting `{name}`: {verdict} (shared bottom's rise minus MMoE's "
            f"{fmt(gap, '+.4f')}); at p = {ps[-1]} MMoE − shared bottom test MSE {fmt(diff, '+.4f')}."
        )
    return lines


def setting_lines(runs: Sequence[Run], setting: Setting, ps: Sequence[float]) -> list[str]:
    """The loss table, the paired degradation and the paired MMoE − shared-bottom difference of one setting."""
    table = _select(runs, setting.name)
    seeds = sorted(table[(ps[0], MODELS[0])])
    lines = [
        "Test MSE (standardised targets, mean of the two tasks; lower is better), mean ± 95 % CI over seeds "
        f"{seeds[0]}..{seeds[-1]} ({len(seeds)} runs per cell):",
        "",
        "| correlation p | " + " | ".join(MODELS) + " | MMoE − shared bottom (paired) | MMoE − OMoE (paired) |",
        "|---:|" + "---:|" * (len(MODELS) + 2),
    ]
    for p in ps:
        cells = [fmt([table[(p, m)][s].test_mse for s in seeds]) for m in MODELS]
        diff_sb = [table[(p, "MMoE")][s].test_mse - table[(p, "shared bottom")][s].test_mse for s in seeds]
        diff_o = [table[(p, "MMoE")][s].test_mse - table[(p, "OMoE")][s].test_mse for s in seeds]
        lines.append(f"| {p} | " + " | ".join(cells) + f" | {fmt(diff_sb, '+.4f')} | {fmt(diff_o, '+.4f')} |")
    hi, lo = ps[0], ps[-1]
    drops, gap, verdict = degradation(runs, setting.name, ps)
    lines += [
        "",
        f"Degradation, test MSE at p = {lo} minus at p = {hi} (paired by seed): "
        + ", ".join(f"{m} {fmt(drops[m], '+.4f')}" for m in MODELS)
        + f". Shared bottom's degradation minus MMoE's: {fmt(gap, '+.4f')}. **{verdict}.**",
        "",
        "Trainability (the spread of final losses over runs, the paper's Figure 6): standard deviation, min and "
        "max of the test MSE over seeds:",
        "",
        "| correlation p | " + " | ".join(f"{m} std (min–max)" for m in MODELS) + " |",
        "|---:|" + "---:|" * len(MODELS),
    ]
    for p in ps:
        cells = []
        for m in MODELS:
            v = [table[(p, m)][s].test_mse for s in seeds]
            cells.append(f"{statistics.stdev(v):.4f} ({min(v):.4f}–{max(v):.4f})" if len(v) > 1 else f"{v[0]:.4f}")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return lines


def plot(runs: Sequence[Run], setting: Setting, ps: Sequence[float], folder: Path) -> tuple[str, str]:
    """Two figures: validation MSE per epoch (Figure 4's view) and final test MSE per run (Figure 6's view)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = _select(runs, setting.name)
    colours = {"shared bottom": "tab:blue", "OMoE": "tab:orange", "MMoE": "tab:green"}
    fig, axes = plt.subplots(1, len(ps), figsize=(3.2 * len(ps), 3), sharey=True)
    for ax, p in zip(np.atleast_1d(axes), ps):
        for m in MODELS:
            curves = np.array([r.val_curve for r in table[(p, m)].values()])
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, curves.mean(0), color=colours[m], label=m)
            ax.fill_between(epochs, curves.min(0), curves.max(0), color=colours[m], alpha=0.15)
        ax.set_title(f"p = {p}")
        ax.set_xlabel("epoch")
        ax.set_yscale("log")
    np.atleast_1d(axes)[0].set_ylabel("validation MSE")
    fig.suptitle("mean over seeds; band: min–max over seeds", fontsize=9)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    curves_name = f"train_mmoe_{setting.name}_curves.png"
    fig.savefig(folder / curves_name, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(1.9 * len(ps) + 1.5, 3.2))
    positions, labels = [], []
    for i, p in enumerate(ps):
        for j, m in enumerate(MODELS):
            x = i * (len(MODELS) + 1) + j
            v = [r.test_mse for r in table[(p, m)].values()]
            ax.boxplot(
                [v],
                positions=[x],
                widths=0.7,
                showfliers=False,
                patch_artist=True,
                boxprops={"facecolor": colours[m], "alpha": 0.35},
            )
            ax.scatter(np.full(len(v), x), v, s=9, color=colours[m], zorder=3, label=m if i == 0 else None)
        positions.append(i * (len(MODELS) + 1) + 1)
        labels.append(f"p = {p}")
    ax.set_xticks(positions, labels)
    ax.set_ylabel("final test MSE per run")
    ax.legend(fontsize=8)
    fig.tight_layout()
    spread_name = f"train_mmoe_{setting.name}_trainability.png"
    fig.savefig(folder / spread_name, dpi=110)
    plt.close(fig)
    return curves_name, spread_name


# the settings of the full run: the paper's sizes, then two probes of why the effect is (or is not) there
SETTINGS = (
    (Setting("paper", n_train=20_000, epochs=12), CORRELATIONS, tuple(range(10))),
    (Setting("more_data", n_train=60_000, epochs=8), (1.0, 0.0), tuple(range(6))),
    (Setting("small_experts", n_train=20_000, epochs=12, expert_width=4), (1.0, 0.0), tuple(range(6))),
)
QUICK_SETTINGS = tuple(
    (Setting(s.name, n_train=1000, epochs=2, expert_width=s.expert_width, n_eval=300), (1.0, 0.0), (0, 1))
    for s, _, _ in SETTINGS
)


def experiment(quick: bool, workers: int) -> dict:
    """Run every setting; return plain data (settings and runs) for :func:`report`."""
    settings = QUICK_SETTINGS if quick else SETTINGS
    start = time.perf_counter()
    runs = run_all(settings, workers)
    return {
        "settings": [
            {"setting": asdict(s), "correlations": list(ps), "seeds": list(seeds)} for s, ps, seeds in settings
        ],
        "runs": [asdict(r) for r in runs],
        "minutes": (time.perf_counter() - start) / 60,
        "workers": workers,
    }


def report(data: dict, folder: Path) -> list[str]:
    """The Markdown section (and the plots in ``folder``) from :func:`experiment`'s data."""
    runs = [Run(**r) for r in data["runs"]]
    g = GENERATOR
    lines: list[str] = [
        f"Data: the paper's generator (sec. 3.2), two regression tasks, d = {g['d']} inputs x ~ N(0, I), c = ||w|| = "
        f"{g['scale']}, m = {g['n_sin']} sine terms with alpha, beta ~ N(0, 1) drawn once (seed "
        f"{g['alpha_beta_seed']}) for every run, label noise std {g['noise_std']}; p = cos(w1, w2). Targets are "
        "standardised on the training split. Models as in the paper and its public reproductions: experts and "
        "towers are one ReLU layer each; the shared bottom is one ReLU layer of h units with the same towers, h "
        "chosen to match MMoE's trained parameters. Seed = inputs, noise, directions u1, u2, split, initial weights "
        "and batch order.",
        "",
        "Shrunk for 2 shared CPU cores (the whole part must run in about 20 minutes): public reproductions train "
        "on 100,000 rows with batch 32 for hundreds of thousands of steps; here 20,000 rows (60,000 in the "
        "`more_data` probe), batch 256 and about 1,000-2,000 Adam steps per run, learning rate 1e-3.",
        "",
    ]
    for entry in data["settings"]:
        setting, ps = Setting(**entry["setting"]), entry["correlations"]
        curves, spread = plot(runs, setting, ps, folder)
        params = ", ".join(f"{m} {setting.trained_parameters(m):,}" for m in MODELS)
        lines += [
            f"### Setting `{setting.name}`: {setting.n_train:,} training rows, {setting.epochs} epochs "
            f"({setting.epochs * math.ceil(setting.n_train / setting.batch_size):,} steps of batch "
            f"{setting.batch_size}), experts {setting.n_experts} x {setting.expert_width}",
            "",
            f"Shared bottom width h = {setting.bottom_width()}; trained parameters: {params}. Adam lr {setting.lr}; "
            f"{setting.n_eval:,} validation and {setting.n_eval:,} test rows; the epoch with the lowest validation "
            "loss is kept.",
            "",
            *setting_lines(runs, setting, ps),
            "",
            f"![validation loss per epoch]({curves})",
            f"![final test loss per run]({spread})",
            "",
        ]
    return lines
