"""`nnlab study` killed from outside: its pool workers and the multiprocessing resource tracker die with it.

Each test starts a real study with 2 local workers busy on long tasks, signals the driver, and then looks in /proc
for every process that was a child of the driver: none may remain a few seconds later (issue 9, item 13).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

CONFIG = """
title = "long tasks"
[study]
methods = ["random"]
senses = ["max"]
time_limit = 60.0
exact_time_limit = 60.0
samples = 300
starts = 20
steps = 40
[study.params.random]
samples = 1000000000
[[networks]]
inits = ["xavier_uniform"]
dims = [2]
hidden = [[6, 6]]
seeds = 4
"""


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a live process, None when it is gone (a zombie counts as gone: it runs nothing)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = text[text.rindex(")") + 2:].split()[:2]
    return None if state in ("Z", "X") else (state, int(ppid))


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _stat(int(d.name))
            if st is not None and st[1] == pid:
                out.append(int(d.name))
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _start_study(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    cfg = tmp_path / "long.toml"
    cfg.write_text(CONFIG)
    proc = subprocess.Popen([sys.executable, "-m", "nnlab", "study", str(cfg), "--out", str(tmp_path / "out"),
                             "--workers", "2", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=str(Path(__file__).resolve().parents[2]))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        kids = _children(proc.pid)
        workers = [k for k in kids if "multiprocessing.spawn" in _cmdline(k)]
        if len(workers) == 2:
            time.sleep(3.0)  # let the workers import and take their first (60 s) tasks
            return proc, _children(proc.pid)
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    out, err = proc.communicate()
    pytest.fail(f"the study did not start 2 workers: rc {proc.returncode}, {err.decode()[-2000:]}")


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = pids
    while time.monotonic() < deadline:
        alive = [p for p in pids if _stat(p) is not None]
        if not alive:
            return []
        time.sleep(0.1)
    return alive


def _cleanup(pids: list[int]) -> None:
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_stops_the_pool_and_exits_promptly(tmp_path: Path, sig: int) -> None:
    proc, kids = _start_study(tmp_path)
    assert sum("multiprocessing.spawn" in _cmdline(k) for k in kids) == 2
    try:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)  # the running tasks have 60 s left: the driver must not wait for them
        except subprocess.TimeoutExpired:
            pytest.fail("the study did not exit within 10 s of the signal")
        alive = _wait_gone(kids, 5.0)
        assert alive == [], [(p, _cmdline(p)) for p in alive]
        err = proc.stderr.read().decode()
        assert proc.returncode == (143 if sig == signal.SIGTERM else 130)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        _cleanup(kids)


def test_sigkill_of_the_driver_ends_its_workers_and_resource_tracker(tmp_path: Path) -> None:
    proc, kids = _start_study(tmp_path)
    assert any("resource_tracker" in _cmdline(k) for k in kids)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        alive = _wait_gone(kids, 5.0)  # the workers notice that their parent is gone; then the tracker sees EOF
        assert alive == [], [(p, _cmdline(p)) for p in alive]
    finally:
        _cleanup(kids)
