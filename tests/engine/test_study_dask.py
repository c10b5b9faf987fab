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

from nnlab.engine.study import spec as S
from nnlab.engine.study.run import run_study

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


# ----- --scheduler pointing at something that is not a Dask scheduler (issue 9, item 12); localhost only -----

import socket  # noqa: E402
import threading  # noqa: E402

from nnlab.engine.study.spec import StudyError  # noqa: E402
from nnlab.engine.study.dask_executor import DaskExecutor  # noqa: E402


class _Server:
    """A TCP server on 127.0.0.1 that answers every connection with `reply` (None: says nothing) and keeps it open."""

    def __init__(self, reply: bytes | None) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.reply, self.conns, self.stop = reply, [], False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if self.reply is not None:
                try:
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.stop = True
        self.thread.join(timeout=5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.mark.parametrize("reply", [
    bytes(range(256)) * 16,                                  # random-looking bytes: dask read a huge length prefix
    b"\xff" * 8 + b"x" * 100,                                # a length prefix of 2^64 - 1
    (10**9).to_bytes(8, "little") + b"\0" * 64,              # a plausible but huge length: MemoryError
    b"SSH-2.0-OpenSSH_9.6\r\n",                              # another protocol that speaks first
    (40).to_bytes(8, "little") + b"\x01" + b"\0" * 39,       # a small frame that is not a Dask handshake
], ids=["random-bytes", "max-length", "huge-length", "ssh-banner", "bad-frame"])
def test_a_server_that_is_not_dask_is_refused_in_one_line(reply: bytes) -> None:
    srv = _Server(reply)
    try:
        t0 = time.monotonic()
        with pytest.raises(StudyError) as err:
            DaskExecutor(f"tcp://127.0.0.1:{srv.port}", timeout=3.0)
        assert "is not a Dask scheduler" in str(err.value) and "\n" not in str(err.value)
        assert time.monotonic() - t0 < 15  # generous: a hang guard, not a timing test
    finally:
        srv.close()


def test_a_silent_server_times_out_after_the_short_timeout() -> None:
    srv = _Server(None)
    try:
        t0 = time.monotonic()
        with pytest.raises(StudyError, match=r"no Dask scheduler answered within 1 s"):
            DaskExecutor(f"tcp://127.0.0.1:{srv.port}", timeout=1.0)
        assert time.monotonic() - t0 < 15
    finally:
        srv.close()


def test_a_closed_port_fails_at_once_not_after_the_connect_timeout() -> None:
    s = socket.create_server(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    t0 = time.monotonic()
    with pytest.raises(StudyError, match=r"cannot connect \(Connection refused\)"):
        DaskExecutor(f"tcp://127.0.0.1:{port}")  # the default timeout: dask's own retried for 20 s
    assert time.monotonic() - t0 < 4.0  # the old path took 21 s; connection refused is immediate


def test_cli_reports_a_wrong_scheduler_with_exit_2(tmp_path: Path, capsys) -> None:
    from nnlab.cli import main as cli

    srv = _Server(b"HTTP/1.1 200 OK\r\n\r\n" * 10)
    cfg = tmp_path / "s.toml"
    cfg.write_text('[study]\nmethods = ["random"]\ntime_limit = 0.2\n[[networks]]\ndims = [2]\nhidden = [[4]]\n')
    try:
        assert cli.main(["study", str(cfg), "--out", str(tmp_path / "o"), "--scheduler",
                         f"tcp://127.0.0.1:{srv.port}", "--quiet"]) == 2
    finally:
        srv.close()
    err = capsys.readouterr().err
    assert err.startswith("nnlab study: error: --scheduler tcp://127.0.0.1:") and err.count("\n") == 1
    assert "not a Dask scheduler" in err


def test_a_scheduler_file_without_address_is_a_study_error(tmp_path: Path) -> None:
    bad = tmp_path / "sched.json"
    bad.write_text('{"id": 1}')
    with pytest.raises(StudyError, match="not a Dask scheduler file"):
        DaskExecutor(str(bad))
