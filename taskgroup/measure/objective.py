"""The black-box route: measure candidate networks with the user's own training function.

``objective(tasks, variant, seed, **settings)`` trains a network serving ``tasks`` (a list, in the order
given to :func:`measure_objective`) however it likes — Lightning, a Hugging Face Trainer, a shell script —
and returns either ``{task: loss}`` (read as validation losses) or::

    {"val": {task: loss}, "test": {task: loss}, "cost": {resource: value}}

"val" is required and covers exactly ``tasks``; "test" (same tasks) and "cost" are optional. Without costs,
every network costs 1 in a resource named ``cost``. Losses are lower-is-better finite numbers.

Everything else is the suite route's: the candidates (all subsets, pairs for HOA, a list), the SQLite store
with resume, serial / process / Dask executors (one objective call per job; the objective must be importable
by name, ``module:function``, for process and Dask workers), ``ResultStore.to_problem``. An exception inside
one call (``sys.exit`` too), a bad return value, or a crash of the worker process running it, is recorded for
that candidate as a failed result with its message, and every other call goes on; a rerun tries failed calls
again. Short runs (ESA) and other training choices are ``settings``: keyword arguments
passed to every call and stored with the run, so a short-run measurement is a separate run in the same store
(``measure_objective(f, store, tasks=..., settings={"epochs": 2})``).

This module does not import torch, and neither does anything it runs besides the objective.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import math
import os
import pickle
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from taskgroup.errors import InvalidArgument
from taskgroup.measure.candidates import Candidate, check_names, make_candidates, seed_list
from taskgroup.measure.executors import RestartingProcessPool, auto_workers, drive, open_executor
from taskgroup.measure.records import NetworkResult
from taskgroup.measure.store import ResultStore

__all__ = ["measure_objective", "load_objective", "read_objective_result", "ObjectiveCall", "run_call", "DEFAULT_COST"]

# The resource every network costs 1 in when the objective reports no costs.
DEFAULT_COST = "cost"
_FIELDS = ("val", "test", "cost")


@dataclass(frozen=True)
class ObjectiveCall:
    """One job: call ``objective`` for one candidate and seed with the run's settings.

    Attributes
    ----------
    objective : callable
        ``objective(tasks, variant, seed, **settings)``, the user's function.
    candidate : Candidate
        The network to measure.
    seed : int
        The training seed.
    settings : dict
        Keyword arguments passed on every call.
    """

    objective: Callable[..., Any]
    candidate: Candidate
    seed: int
    settings: dict[str, Any] = field(default_factory=dict)


def run_call(call: ObjectiveCall) -> NetworkResult:
    """Run one objective call; an exception or a bad return value becomes a failed result, never raised.

    Parameters
    ----------
    call : ObjectiveCall
        The call.

    Returns
    -------
    NetworkResult
        The losses and costs the objective returned, or ``status="failed"`` with the reason (an exception, a
        ``sys.exit``, or a return value :func:`read_objective_result` refuses); ``train_time`` is the call's
        duration.
    """
    cand, start = call.candidate, time.perf_counter()
    try:
        value = call.objective(list(cand.tasks), cand.variant, call.seed, **call.settings)
    except Exception as exc:  # noqa: BLE001 - the user's code: any error is that candidate's failure
        return _failed(call, f"the objective raised {type(exc).__name__}: {exc}", time.perf_counter() - start)
    except SystemExit as exc:  # sys.exit() in the user's code ends that call, not the measurement
        return _failed(call, f"the objective called sys.exit({exc.code!r})", time.perf_counter() - start)
    elapsed = time.perf_counter() - start
    try:
        metrics, costs = read_objective_result(value, cand.tasks, f"candidate {cand.name!r} (seed {call.seed})")
    except InvalidArgument as exc:
        return _failed(call, str(exc), elapsed)
    return NetworkResult(
        cand.name, cand.tasks, cand.variant, call.seed, train_time=elapsed, metrics=metrics, costs=costs
    )


def _failed(call: ObjectiveCall, reason: str, elapsed: float) -> NetworkResult:
    cand = call.candidate
    return NetworkResult(
        cand.name, cand.tasks, cand.variant, call.seed, status="failed", reason=reason, train_time=elapsed
    )


def read_objective_result(
    value: Any, tasks: Sequence[str], who: str
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Check an objective's return value; per-task ``{"val_loss", "test_loss"}`` and ``{resource: cost}``.

    Parameters
    ----------
    value : object
        What the objective returned: ``{task: loss}`` (validation losses), or a mapping with ``"val"`` and
        optionally ``"test"`` (each ``{task: loss}``) and ``"cost"`` (``{resource: value}``).
    tasks : sequence of str
        The candidate's tasks; each split must cover exactly these.
    who : str
        The candidate and seed, for messages.

    Returns
    -------
    (dict of str to dict of str to float, dict of str to float)
        Per task its ``val_loss`` (and ``test_loss``); the costs (``{"cost": 1.0}`` when none is returned).

    Raises
    ------
    InvalidArgument
        Not a mapping, an unknown field, missing or extra tasks, a value that is not a finite number, a
        negative cost — the message names ``who`` (the candidate and seed) and the field.
    """
    if not isinstance(value, Mapping):
        raise InvalidArgument(
            f"The objective returned {type(value).__name__} for {who}; expected a mapping "
            "{task: loss} or {'val': {task: loss}, 'test': {...}, 'cost': {resource: value}}."
        )
    if not isinstance(value.get("val"), Mapping):
        value = {"val": value}  # a plain {task: loss} mapping is the validation losses
    unknown = [k for k in value if k not in _FIELDS]
    if unknown:
        raise InvalidArgument(
            f"The objective's result for {who} has unknown field(s) {unknown}; accepted: {list(_FIELDS)}."
        )
    metrics: dict[str, dict[str, float]] = {t: {} for t in tasks}
    for split in ("val", "test"):
        if split not in value:
            continue
        losses = _numbers(value[split], who, split)
        missing = [t for t in tasks if t not in losses]
        extra = [t for t in losses if t not in tasks]
        if missing or extra:
            raise InvalidArgument(
                f"The objective's {split!r} for {who} must cover exactly the tasks "
                f"{list(tasks)}; missing {missing}, extra {extra}."
            )
        for task in tasks:
            metrics[task][f"{split}_loss"] = losses[task]
    if "cost" not in value:
        return metrics, {DEFAULT_COST: 1.0}
    costs = _numbers(value["cost"], who, "cost")
    negative = {k: v for k, v in costs.items() if v < 0}
    if not costs or negative:
        raise InvalidArgument(
            f"The objective's 'cost' for {who} must map resource names to numbers >= 0; got {value['cost']!r}."
        )
    return metrics, costs


def _numbers(mapping: Any, who: str, name: str) -> dict[str, float]:
    if not isinstance(mapping, Mapping):
        raise InvalidArgument(
            f"The objective's {name!r} for {who} must be a mapping; got {type(mapping).__name__} {mapping!r}."
        )
    out = {}
    for key, raw in mapping.items():
        if not isinstance(key, str) or isinstance(raw, (bool, str, bytes)) or not hasattr(raw, "__float__"):
            raise InvalidArgument(
                f"The objective's {name}[{key!r}] for {who} must be a number keyed by a "
                f"name; got {type(raw).__name__} {raw!r}."
            )
        number = float(raw)
        if not math.isfinite(number):
            raise InvalidArgument(
                f"The objective's {name}[{key!r}] for {who} is {number}; losses and costs must be finite numbers."
            )
        out[key] = number
    return out


def load_objective(spec: str, option: str = "--objective") -> Callable[..., Any]:
    """The function named ``"package.module:function"`` (the current folder is searched first).

    Only for a name the user gave (``option`` names where, for messages); never for a name read from a file.

    Parameters
    ----------
    spec : str
        ``"package.module:function"`` (the function part may be dotted: ``module:Class.method``).
    option : str, default "--objective"
        Where the user gave it, for messages.

    Returns
    -------
    callable

    Raises
    ------
    InvalidArgument
        Not of that form, the module cannot be imported, or the name is missing or not callable.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise InvalidArgument(f"{option} {spec!r} must look like 'package.module:function'.")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # as `python -m`: a script in the current folder can be named
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any failure importing the user's module is reported as one line
        raise InvalidArgument(
            f"Cannot import module {module_name!r} for {option} {spec!r}: "
            f"{type(exc).__name__}: {exc} (run from its folder or put it on PYTHONPATH)."
        ) from None
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise InvalidArgument(f"Module {module_name!r} has no {attr!r} ({option} {spec!r}).")
        target = getattr(target, part)
    if not callable(target):
        raise InvalidArgument(f"{option} {spec!r} names a {type(target).__name__}, not a function.")
    return target


def _check_settings(objective: Callable[..., Any], settings: Mapping[str, Any]) -> None:
    """Refuse settings the objective does not take, before any call (each call would fail with a TypeError)."""
    try:
        parameters = inspect.signature(objective).parameters
    except (TypeError, ValueError):  # a builtin or C function: nothing to check against
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    accepted = [n for n, p in list(parameters.items())[3:] if p.kind is not inspect.Parameter.VAR_POSITIONAL]
    unknown = sorted(set(settings) - set(accepted))
    if unknown:
        raise InvalidArgument(
            f"The objective {_objective_name(objective)} takes no setting(s) {unknown}; after (tasks, variant, seed) "
            f"it accepts {accepted or 'none'}."
        )


def _needs_pickling(executor: str | Executor) -> bool:
    """Process pools pickle functions by name (Dask's cloudpickle can send lambdas and closures); ``auto`` is a
    process pool on two cores or more."""
    if isinstance(executor, (ProcessPoolExecutor, RestartingProcessPool)):
        return True
    if executor == "auto":
        from taskgroup.engine.runtime import available_cores  # the engine imports torch, this route does not

        return auto_workers(available_cores()) > 1
    return isinstance(executor, str) and (executor == "process" or executor.startswith("process:"))


def _objective_name(objective: Callable[..., Any]) -> str:
    return f"{getattr(objective, '__module__', '?')}:{getattr(objective, '__qualname__', type(objective).__name__)}"


def _key(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def measure_objective(
    objective: Callable[..., Any],
    store: str | PathLike | ResultStore,
    *,
    tasks: Sequence[str],
    candidates: str | Sequence[str] = "all",
    variants: Sequence[str] = ("full",),
    seeds: int | Sequence[int] = 1,
    settings: Mapping[str, Any] | None = None,
    executor: str | Executor = "serial",
    progress: bool = True,
    retries: int = 2,
    on_result: Callable[[list[NetworkResult]], None] | None = None,
) -> pd.DataFrame:
    """Measure candidate networks with the user's own training function; results go to ``store``.

    Parameters
    ----------
    objective : callable
        ``objective(tasks, variant, seed, **settings)`` returning ``{task: loss}`` or
        ``{"val": {...}, "test": {...}, "cost": {resource: value}}`` (see the module docstring).
    store : path or ResultStore
        SQLite results database (created if missing). Calls already in it for this objective, task list
        and settings are skipped (resume).
    tasks : sequence of str
        The tasks; names without ``+ @ ,``.
    candidates : "all", "pairs" or list of names
        "all": every non-empty subset (in each variant); "pairs": singles and pairs (what HOA needs); or
        names like ``"a+b", "c@small"``.
    variants : sequence of str
        The objective's own variant names (default: only "full").
    seeds : int or list of int
        ``K`` means seeds 0..K-1.
    settings : mapping, optional
        JSON-serialisable keyword arguments for every call (e.g. ``{"epochs": 2}`` for ESA short runs); a
        different mapping is a different run in the store.
    executor : str or Executor
        ``"serial"``, ``"process"``, ``"process:N"``, ``"dask://HOST:PORT"`` or an Executor.
    progress : bool
        Show a progress bar.
    retries : int
        How many times a call whose worker died is submitted again.
    on_result : callable, optional
        Called with each call's results (a one-element list) after they are committed.

    Returns
    -------
    pandas.DataFrame
        ``ResultStore.results`` for this run: one row per (network, seed, task); failed calls have one row
        with ``status="failed"`` and the reason.

    Raises
    ------
    InvalidArgument
        Bad objective, tasks, candidates, variants, seeds, settings or executor, before any call.
    MeasurementError
        The store cannot be written (read-only, damaged), or a worker died more than ``retries`` times.
    """
    if not callable(objective):
        raise InvalidArgument(f"objective must be a function objective(tasks, variant, seed); got {objective!r}.")
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    task_list = check_names("Task", tasks)
    seeds_ = seed_list(seeds)
    settings = dict(settings or {})
    try:
        settings_json = json.loads(json.dumps(settings, sort_keys=True))
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"settings must be JSON-serialisable (they key the run in the store): {exc}.") from None
    _check_settings(objective, settings)
    cands = make_candidates(task_list, candidates, half_singles=False, variants=variants)
    if _needs_pickling(executor):
        try:
            pickle.dumps(objective)
        except Exception as exc:  # noqa: BLE001 - any pickling failure means the same thing here
            raise InvalidArgument(
                f"executor {executor!r} runs the objective in other processes, which import it "
                f"by name; {objective!r} cannot be sent ({type(exc).__name__}: {exc}). Define it "
                "at the top level of a module, or use executor='serial'."
            ) from None
    store = store if isinstance(store, ResultStore) else ResultStore(store)
    name = _objective_name(objective)
    fp, cfg = _key({"objective": name, "tasks": task_list}), _key({"settings": settings_json})
    store.register_run(fp, cfg, f"objective {name}", task_list, {"objective": name}, {"settings": settings_json})

    # failed calls are tried again: an objective's failure may be passing (a busy GPU, a fixed bug)
    done = store.done(fp, cfg, failed=False)
    calls = [ObjectiveCall(objective, c, s, settings) for s in seeds_ for c in cands if (c.name, s) not in done]
    with store.writer(), open_executor(executor) as (pool, _):
        bar = tqdm(total=len(calls), unit="net", desc=f"measure {name}", disable=not progress, leave=False)

        def commit(result: NetworkResult) -> None:
            bar.update(store.add_results(fp, cfg, [result]))
            if on_result is not None:
                on_result([result])

        try:
            drive(
                pool,
                run_call,
                calls,
                commit,
                retries=retries,
                describe=lambda call: f"{call.candidate.name}, seed {call.seed}",
                crashed=lambda call, reason: _failed(call, f"crashed: {reason}", 0.0),
            )
        finally:
            bar.close()
    return store.results(fp, cfg)
