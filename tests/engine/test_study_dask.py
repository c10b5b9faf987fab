"""The Dask path: a real `dask scheduler` and `dask worker` on loopback run a tiny study; the results match a
serial run of the same study (the exact optima and landscape metrics are deterministic)."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnlab.engine import study as S
from nnlab.engine.study_run import run_study

pytest.importorskip("dask.distributed")
DASK = Path(sys.executable).parent / "dask"

CONFIG = {
    "title": "dask study",
    "study": {"methods": ["random"], "senses": ["max"], "time_limit": 0.2, "samples": 300, "starts": 20, "steps": 40},
    "networks": [{"inits": ["xavier_uniform", "torch_default"], "dims": [2], "hidden": [[6, 6]], "seeds": 2}],
}
DETERMINISTIC = ["net_id", "method", "sense", "status", "value", "location", "affine_r2", "regions_sampled",
                 "local_max", "local_min"]


def _start(args, log):
    return subprocess.Popen([str(DASK), *args], stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd(),
                            start_new_session=True)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def dask_cluster(tmp_path):
    sched_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")
    procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                     "--scheduler-file", str(sched_file)], log)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sched_file.exists(), (tmp_path / "dask.log").read_text()
        procs.append(_start(["worker", "--scheduler-file", str(sched_file), "--nworkers", "1", "--nthreads", "1",
                             "--host", "127.0.0.1", "--no-dashboard"], log))
        from dask.distributed import Client

        with Client(json.loads(sched_file.read_text())["address"], timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
        yield sched_file
    finally:
        for p in reversed(procs):
            _stop(p)
        log.close()


def _rows(path):
    with open(path, newline="") as fh:
        return [{k: r[k] for k in DETERMINISTIC} for r in csv.DictReader(fh) if r["method"] == "exact"]


def test_study_runs_on_a_dask_cluster(dask_cluster, tmp_path):
    cfg = S.study_from_dict(CONFIG)
    address = json.loads(dask_cluster.read_text())["address"]
    assert address.startswith("tcp://127.0.0.1:")
    outcome = run_study(cfg, tmp_path / "dask", scheduler=address, progress=False)
    assert outcome.computed == outcome.total == 16 and not outcome.failures
    run_study(cfg, tmp_path / "serial", workers=0, progress=False)
    assert _rows(tmp_path / "dask" / "results.csv") == _rows(tmp_path / "serial" / "results.csv")
    assert len(_rows(tmp_path / "dask" / "results.csv")) == 8
    again = run_study(cfg, tmp_path / "dask", scheduler=str(dask_cluster), progress=False)  # a scheduler file works too
    assert again.cached == 16 and again.computed == 0
