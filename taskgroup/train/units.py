"""One run folder and its units: a network trained, taken from measurement, or found finished, with its files.

A unit is one network of a run (a baseline, a plan network, the all-in-one network, a distilled student), written
to ``<run>/<group>/<name>-<hash>.pt`` with its raw test outputs beside it (``.test.npz``). :class:`RunFolder` checks
a folder's identity on start so that a rerun resumes and another run is refused; :func:`network_unit` trains one
unit, or loads it when it is finished, or takes the weights measurement kept for the same network.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from taskgroup.checkpoints import load_checkpoint, network_config, save_checkpoint
from taskgroup.engine import TrainConfig, build_model, configure_threads, fit, predict
from taskgroup.errors import InvalidArgument, MeasurementError
from taskgroup.files import atomic_write
from taskgroup.measure.executors import TORCH_WORKER_MODULES, drive, open_executor, preload_workers
from taskgroup.measure.store import ResultStore
from taskgroup.outputs import claim_folder, output_path
from taskgroup.serve.plan_cost_file import PLAN_COST_FILE
from taskgroup.tasks import TaskSuite, evaluate_outputs

__all__ = ["RunFolder", "Unit", "network_unit", "train_in_parallel", "test_outputs", "file_stem", "plain"]


def plain(value: Any) -> Any:
    """Tuples to lists and mapping keys to strings (recursively), so configs compare equal after a JSON round trip.

    Parameters
    ----------
    value : object
        Plain data (numbers, strings, lists, tuples, mappings).

    Returns
    -------
    object
        The same data with every tuple a list and every mapping a dict with string keys.
    """
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def file_stem(name: str) -> str:
    """A file-name-safe stem for a network or task name: the name with unsafe characters replaced, and a hash.

    Parameters
    ----------
    name : str
        A network name (``"a+b@half"``) or a task name.

    Returns
    -------
    str
        ``<safe name>-<first 8 hex digits of its sha256>``: distinct names give distinct stems.
    """
    # network names like "a+b@half" are not safe file names everywhere; a short hash keeps distinct names distinct
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "network"
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class RunFolder:
    """The folder of one run: its identity checked on start, the paths of its units, the store it may take from.

    Parameters
    ----------
    out : path
        The run folder (claimed with :func:`taskgroup.outputs.claim_folder`).
    identity : dict
        What the run trains (schema, suite, plan, configuration), written to ``run.json`` and compared on resume.
    force : bool
        Write into a folder that holds files taskgroup did not write.
    replan : bool
        Accept a folder whose ``run.json`` differs in the plan alone (finished networks are kept).
    measured : str or None
        A results store whose measured networks :func:`network_unit` takes instead of training them.

    Raises
    ------
    InvalidArgument
        The folder holds a run with another identity, a damaged ``run.json``, a symbolic link, or (without
        ``force``) files taskgroup did not write; or ``measured`` is not a results store.
    MeasurementError
        ``measured`` is damaged.
    """

    def __init__(
        self, out: Path, identity: dict[str, Any], force: bool, replan: bool, measured: str | None = None
    ) -> None:
        self.out = claim_folder(out, "run", force=force)
        self.measured = None if measured is None else ResultStore(measured, create=False)
        path = output_path(out, "run.json")
        if path.exists():
            stored = _read_json(path)
            identity = json.loads(json.dumps(identity))  # compare in JSON form (tuples are lists there)
            differs = sorted(k for k in set(stored) | set(identity) if stored.get(k) != identity.get(k))
            if replan and differs == ["plan"]:
                # another plan over the same suite and settings: a network trains the same in any plan (its seed
                # comes from the run's seed and the repeat), so finished ones are kept; what described the old plan goes
                (out / PLAN_COST_FILE).unlink(missing_ok=True)
                atomic_write(path, lambda p: p.write_text(json.dumps(identity, indent=1)))
            elif differs:
                raise InvalidArgument(
                    f"{str(out)!r} holds a run with a different {', '.join(differs)}; use another --out folder "
                    "or the same plan, suite and settings to resume it."
                )
        else:
            atomic_write(path, lambda p: p.write_text(json.dumps(identity, indent=1)))

    def path(self, group: str, stem: str, suffix: str) -> Path:
        """The path of a unit's file, ``<out>/<group>/<stem><suffix>``, checked to stay inside the folder.

        Parameters
        ----------
        group : str
            The unit's group (``"baselines"``, ``"networks"``, ``"all_in_one"``, ``"students"``, ``"teachers"``).
        stem : str
            Its :func:`file_stem` (with ``-r<k>`` for repeat k).
        suffix : str
            ``".pt"``, ``".npz"``, ...

        Returns
        -------
        pathlib.Path
        """
        return output_path(self.out, f"{group}/{stem}{suffix}")


def _read_json(path: Path) -> Any:
    """A JSON file the run wrote; InvalidArgument naming it when it is damaged (a crash, an edit)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(
            f"{str(path)!r} is not the JSON taskgroup wrote ({exc}); delete it to start this run afresh, or use "
            "another --out folder."
        ) from None


_UNIT_LABELS = {
    "baselines": "baseline",
    "networks": "network",
    "students": "student",
    "teachers": "teacher",
    "all_in_one": "all-in-one network",
}


def network_unit(
    run: RunFolder,
    group: str,
    name: str,
    tasks: Sequence[str],
    variant: str,
    suite: TaskSuite,
    fit_config: TrainConfig,
    base_seed: int,
    soft: Mapping[str, np.ndarray] | None,
    say: Callable[[str], None],
    *,
    repeat: int = 0,
) -> dict[str, dict[str, float]]:
    """Train one network (or load it when its checkpoint exists, or take it from measurement) and return its test
    metrics per task.

    Its checkpoint goes to ``<run>/<group>/``, its raw test outputs beside it (``.test.npz``) for the intervals of
    Δm%. The seed is ``base_seed + repeat``, as in measurement, so a network that ``run.measured`` holds with
    this suite, configuration and seed is this network: its weights are taken instead of training it again
    (students, which learn from ``soft`` targets, are always trained).

    Parameters
    ----------
    run : RunFolder
        The run folder.
    group : str
        The unit's group (``"baselines"``, ``"networks"``, ``"all_in_one"``, ``"students"``).
    name : str
        The network's name.
    tasks : sequence of str
        The tasks it is trained on.
    variant : str
        Its size variant.
    suite : TaskSuite
        The data.
    fit_config : TrainConfig
        How it is built and trained.
    base_seed : int
        The run's seed.
    soft : mapping of str to numpy.ndarray, or None
        Soft targets per task (a distilled student), or None.
    say : callable(str)
        Receives one line when the unit is finished, kept or taken.
    repeat : int, default 0
        The training repeat.

    Returns
    -------
    dict
        ``task -> metric -> value`` on the test split.

    Raises
    ------
    MeasurementError
        Training diverged (a loss became NaN or infinite).
    ManifestError
        A finished unit's checkpoint or a measured network's weights cannot be read.
    """
    path = run.path(group, _unit_stem(name, repeat), ".pt")
    label = _UNIT_LABELS[group] + (f" (repeat {repeat})" if repeat else "")
    if path.exists():
        _, extra = load_checkpoint(path, model=fit_config.factory())
        say(f"{label} {name}: finished earlier, kept")
        return extra["test_metrics"]
    sub = suite.subset([t for t in suite.task_names if t in tasks])
    # The seed depends on the repeat alone, not on the network's role, as in measurement: a plan network that is a
    # single-task network trains exactly as that task's baseline (the comparison is then paired, not two draws of
    # initialisation noise), students share the vanilla network's seed, so that the soft targets are the only
    # difference between them, and a measured network is the network this unit would train.
    seed = base_seed + repeat
    factory = fit_config.factory()
    measured = None if soft or run.measured is None else _measured(run.measured, suite, fit_config, name, seed)
    if measured is not None:
        model, training = load_checkpoint(io.BytesIO(measured), model=factory)
        done = f"{label} {name}: measured earlier, its weights kept"
    else:
        model = build_model(factory, sub.tasks, variant, sub.example_batch(), seed)
        fitted = fit(model, sub.train, sub.tasks, fit_config, val=sub.val, soft_targets=soft, seed=seed)
        if fitted.status != "ok":
            raise MeasurementError(
                f"Training {_UNIT_LABELS[group]} {name!r} failed: {fitted.reason}. Try a lower learning rate."
            )
        training = fitted.summary()
        done = (
            f"{label} {name}: trained in {training['train_seconds']:.1f}s ({fitted.batching} batches, "
            f"best epoch {fitted.best_epoch})"
        )
    model.cpu()
    test_outputs = predict(model, sub.test)
    metrics = evaluate_outputs(test_outputs, sub.test, sub.tasks)
    _save_outputs(path, test_outputs)
    extra = {
        "name": name,
        "test_metrics": metrics,
        **training,
        "distilled_tasks": sorted(soft or {}),
    }
    save_checkpoint(model, path, network_config(factory, sub.tasks, variant, sub.example_batch(), seed), extra)
    say(done)
    return metrics


@dataclass(frozen=True)
class Unit:
    """One vanilla network of a run: its group, name, tasks, size variant and training repeat.

    Attributes
    ----------
    group : str
        ``"baselines"``, ``"networks"`` or ``"all_in_one"``.
    name : str
        The network's name.
    tasks : tuple of str
        The tasks it is trained on.
    variant : str
        Its size variant.
    repeat : int
        The training repeat.
    """

    group: str
    name: str
    tasks: tuple[str, ...]
    variant: str
    repeat: int = 0


@dataclass(frozen=True)
class _UnitJob:
    """A unit to train in a worker (plain picklable data, like a measurement job)."""

    run: RunFolder
    unit: Unit
    suite: TaskSuite
    fit_config: TrainConfig
    base_seed: int
    threads: int


def _run_unit_job(job: _UnitJob) -> tuple[Unit, list[str]]:
    lines: list[str] = []
    configure_threads(job.threads)  # a pool of k workers on k cores must not oversubscribe them
    u = job.unit
    network_unit(
        job.run,
        u.group,
        u.name,
        u.tasks,
        u.variant,
        job.suite,
        job.fit_config,
        job.base_seed,
        None,
        lines.append,
        repeat=u.repeat,
    )
    return u, lines


def train_in_parallel(
    run: RunFolder,
    units: Sequence[Unit],
    suite: TaskSuite,
    fit_config: TrainConfig,
    base_seed: int,
    say: Callable[[str], None],
    executor: str = "serial",
) -> set[Unit]:
    """Train the units that are neither finished nor measured on ``executor``'s workers, side by side.

    Each worker trains one network at a time on one torch thread (or the caller's count), so a network's numbers
    do not depend on how many ran beside it: the result is the one :func:`network_unit` gives alone. Finished
    units are written as they finish; the caller then reads them with :func:`network_unit`.

    Parameters
    ----------
    run : RunFolder
        The run folder.
    units : sequence of Unit
        The vanilla networks the run needs.
    suite : TaskSuite
        The data.
    fit_config : TrainConfig
        How they are built and trained.
    base_seed : int
        The run's seed.
    say : callable(str)
        Receives each trained unit's line as it finishes.
    executor : str, default "serial"
        ``"serial"`` (nothing is done here), ``"auto"``, ``"process"``, ``"process:N"`` or ``"dask://HOST:PORT"``
        (:mod:`taskgroup.measure.executors`).

    Returns
    -------
    set of Unit
        The units trained here (empty where the executor has one worker or fewer than two units need training).

    Raises
    ------
    MeasurementError
        A network diverged, or a worker kept dying.
    InvalidArgument
        An unknown executor.
    """
    pending = [
        u
        for u in dict.fromkeys(units)
        if not run.path(u.group, _unit_stem(u.name, u.repeat), ".pt").exists()
        and (run.measured is None or _measured(run.measured, suite, fit_config, u.name, base_seed + u.repeat) is None)
    ]
    if executor == "serial" or len(pending) < 2:
        return set()
    trained: set[Unit] = set()
    preload_workers(TORCH_WORKER_MODULES)
    with open_executor(executor) as (pool, workers):
        if workers < 2:
            return trained

        def commit(result: tuple[Unit, list[str]]) -> None:
            trained.add(result[0])
            for line in result[1]:
                say(line)

        threads = torch.get_num_threads()
        jobs = [_UnitJob(run, u, suite, fit_config, base_seed, threads) for u in pending]
        drive(pool, _run_unit_job, jobs, commit, retries=2, describe=lambda job: f"{job.unit.group} {job.unit.name}")
    return trained


def _measured(store: ResultStore, suite: TaskSuite, fit_config: TrainConfig, name: str, seed: int) -> bytes | None:
    """The weights of ``name`` as measured in ``store`` with this suite, configuration and seed, if it was."""
    return store.weights(suite.fingerprint(), fit_config.hash(), name, seed)


def _unit_stem(name: str, repeat: int) -> str:
    return file_stem(name) + (f"-r{repeat}" if repeat else "")


def _outputs_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.stem + ".test.npz")


def _save_outputs(checkpoint: Path, outputs: Mapping[str, np.ndarray]) -> None:
    """Write a network's raw test outputs atomically beside its checkpoint."""
    arrays: dict[str, Any] = {f"task_{i}": out for i, out in enumerate(outputs.values())}

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, names=np.array(list(outputs)), **arrays)

    atomic_write(_outputs_path(checkpoint), write)


def test_outputs(
    run: RunFolder, group: str, name: str, tasks: Sequence[str], suite: TaskSuite, fit_config: TrainConfig, repeat: int
) -> dict[str, np.ndarray]:
    """The raw test outputs of a finished unit: from its ``.test.npz``, or (a checkpoint from before they were
    saved) computed from the checkpoint and saved.

    Parameters
    ----------
    run : RunFolder
        The run folder.
    group, name : str
        The unit's group and network name.
    tasks : sequence of str
        The tasks it was trained on.
    suite : TaskSuite
        The data (its test split).
    fit_config : TrainConfig
        How it was built (its model factory rebuilds the network).
    repeat : int
        The training repeat.

    Returns
    -------
    dict
        ``task -> raw output array`` on the test split.

    Raises
    ------
    ManifestError
        The unit's checkpoint cannot be read.
    """
    checkpoint = run.path(group, _unit_stem(name, repeat), ".pt")
    path = _outputs_path(checkpoint)
    if not path.exists():
        model, _ = load_checkpoint(checkpoint, model=fit_config.factory())
        sub = suite.subset([t for t in suite.task_names if t in tasks])
        _save_outputs(checkpoint, predict(model, sub.test))
    with np.load(path) as data:
        return {str(t): data[f"task_{i}"] for i, t in enumerate(data["names"])}
