"""Your own PyTorch model through taskgroup: measure every task grouping, TAG affinity, solve, train, deploy.

Run it from the repository root (it writes into ./own-model-run/):

    python examples/own_model.py            # a few minutes on 2 CPU cores
    python examples/own_model.py --quick    # seconds: tiny data and schedules (what the test suite runs)

The model is an ordinary ``nn.Module``: a trunk shared by the tasks it serves and one head per task. taskgroup
only needs a factory ``build(tasks, variant, example_batch) -> nn.Module`` whose forward returns
``{task name: output of shape (n, out_dim)}``, and (for TAG/CS affinity) a ``shared_parameters()`` method.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from torch import nn

import taskgroup as tg


class ResidualNet(nn.Module):
    """A small residual MLP trunk with layer norm, and one linear head per task."""

    def __init__(self, tasks, n_inputs: int, width: int, blocks: int = 2) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(n_inputs, width))
        self.blocks = nn.ModuleList(
            [nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU()) for _ in range(blocks)]
        )
        self.heads = nn.ModuleDict({t.name: nn.Linear(width, t.out_dim) for t in tasks})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.embed(x)
        for block in self.blocks:
            h = h + block(h)
        return {name: head(h) for name, head in self.heads.items()}

    def shared_parameters(self):
        """Everything but the heads: what TAG's lookahead steps and what all served tasks share."""
        return [p for name, p in self.named_parameters() if not name.startswith("heads.")]


def build(tasks, variant: str, example_batch: torch.Tensor) -> nn.Module:
    """The model factory: ``variant`` picks the size (Standley et al.'s full and half networks)."""
    width = {"full": 64, "half": 32}[variant]
    return ResidualNet(tasks, example_batch[0].numel(), width)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny data and schedules")
    parser.add_argument("--out", default="own-model-run", help="output folder (replaced)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    tg.engine.configure_threads()  # the cores this process may use; OpenMP threads sleep rather than spin

    suite = tg.datasets.load_suite("synthetic", n_samples=600 if args.quick else 3000, clusters=[2, 1])
    config = tg.engine.TrainConfig(model=build, epochs=4 if args.quick else 40, patience=10)

    # 1. every task grouping (all subsets, plus half-size single-task networks), trained and profiled
    tg.measure.measure(suite, out / "results.db", config=config, progress=not args.quick)
    problem = tg.measure.ResultStore(out / "results.db").to_problem(cost="flops")

    # 2. TAG affinity from one all-task run of the same model: which tasks help each other
    tag = tg.strategies.tag_affinity(suite, config=config, epochs=2 if args.quick else 10)
    print("TAG affinity (row helps column):\n", tag.round(3).to_string())

    # 3. the budget frontier and the plan at a budget of two single-task networks' FLOPs
    print(tg.frontier(problem).to_frame().to_string(index=False))
    plan = tg.solve(problem, budget=2.0)
    print(plan.summary())

    # 4. train the plan's networks (and single-task baselines), write checkpoints and the manifest
    report = tg.train.train_plan(plan, suite, out / "trained", tg.train.RunConfig(fit=config))
    print(f"Δm% against single-task networks: {report.delta_m['multitask']:+.2f}")

    # 5. serve raw inputs from the manifest alone: its preprocessing entry standardises them first
    manifest = tg.train.read_manifest(report.manifest)
    pre = manifest["preprocessing"]
    raw = suite.test.x.numpy() * torch.tensor(pre["std"]).numpy() + torch.tensor(pre["mean"]).numpy()
    outputs = tg.train.predict_tasks(report.manifest, raw, raw=True, model=build)
    print({task: value.shape for task, value in outputs.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
