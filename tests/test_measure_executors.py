"""Process-pool and Dask executors: same results as serial, and a killed Dask worker loses nothing."""

from __future__ import annotations

import os
import signal

import pandas as pd
import pytest

from taskgroup.datasets.suites import load_suite
from taskgroup.errors import InvalidArgument
from taskgroup.measure import ResultStore, TrainConfig, measure

CONFIG = TrainConfig(hidden=(16, 16), epochs=15, patience=15)
COLS = ["network", "seed", "task", "val_loss", "test_loss"]


@pytest.fixture(scope="module")
def suite():
    return load_suite("synthetic", n_samples=300, clusters=(2, 1), d=20)


def table(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[COLS].sort_values(COLS[:3]).reset_index(drop=True)


def test_unknown_executor_is_refused_before_training(suite, tmp_path):
    with pytest.raises(InvalidArgument, match="Unknown executor 'gpu'"):
        measure(suite, tmp_path / "x.db", config=CONFIG, executor="gpu", progress=False)
    with pytest.raises(InvalidArgument, match="positive integer"):
        measure(suite, tmp_path / "x.db", config=CONFIG, executor="process:0", progress=False)


@pytest.mark.slow
def test_process_pool_matches_serial(suite, tmp_path):
    serial = measure(suite, tmp_path / "s.db", config=CONFIG, seeds=2, stack_size=2, progress=False, latency_repeats=1)
    pooled = measure(
        suite,
        tmp_path / "p.db",
        config=CONFIG,
        seeds=2,
        stack_size=2,
        executor="process:2",
        progress=False,
        latency_repeats=1,
    )
    pd.testing.assert_frame_equal(table(serial), table(pooled), rtol=1e-5)


@pytest.mark.slow
def test_dask_cluster_with_a_worker_killed_mid_run(suite, tmp_path):
    dask = pytest.importorskip("dask")
    from distributed import Client, LocalCluster

    with dask.config.set({"temporary-directory": str(tmp_path / "dask")}):
        with (
            LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            Client(cluster) as client,
        ):
            address = cluster.scheduler_address.replace("tcp://", "dask://")
            worker_pids = list(client.run(os.getpid).values())
            killed = []

            def kill_a_worker(results):
                # After the first committed job, SIGKILL one worker while the others' jobs are in flight.
                if not killed:
                    os.kill(worker_pids[0], signal.SIGKILL)
                    killed.append(worker_pids[0])

            path = tmp_path / "d.db"
            result = measure(
                suite,
                path,
                config=CONFIG,
                seeds=2,
                stack_size=1,
                executor=address,
                progress=False,
                latency_repeats=1,
                on_result=kill_a_worker,
            )
    assert killed
    serial = measure(suite, tmp_path / "s.db", config=CONFIG, seeds=2, stack_size=1, progress=False, latency_repeats=1)
    stored = ResultStore(path).results()
    assert not stored.duplicated(["network", "seed", "task"]).any()
    assert stored["network"].nunique() == 10 and len(stored) == len(serial)
    pd.testing.assert_frame_equal(table(result), table(serial), rtol=1e-5)


def test_auto_is_a_pool_of_one_worker_per_core_and_at_least_four_and_serial_on_one(monkeypatch):

    import taskgroup.engine.runtime as runtime
    from taskgroup.measure.executors import RestartingProcessPool, SerialExecutor, open_executor

    monkeypatch.setattr(runtime, "available_cores", lambda: 1)
    with open_executor("auto") as (pool, workers):
        assert isinstance(pool, SerialExecutor) and workers == 1
    for cores, expected in ((2, 4), (3, 4), (4, 4), (6, 6)):
        monkeypatch.setattr(runtime, "available_cores", lambda cores=cores: cores)
        with open_executor("auto") as (pool, workers):  # no job submitted: no worker process starts
            assert isinstance(pool, RestartingProcessPool) and workers == expected
    with pytest.raises(InvalidArgument, match="auto takes no argument"):
        with open_executor("auto:2"):
            pass


def test_run_defaults_to_the_auto_executor():
    from taskgroup.pipeline import RunSettings

    settings = RunSettings()
    assert settings.executor == "auto" and settings.threads is None
    assert "executor" not in settings.to_dict()  # where the work runs is not part of a run's identity
