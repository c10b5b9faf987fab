"""Quitting `python -m nnlab gui` at any moment exits with code 0 within seconds and leaves no worker process:
Ctrl+Q, the window's close request, SIGTERM and Ctrl+C (SIGINT to the process group, as a terminal sends it),
0.5 s after the window appears (worker processes are still importing torch), while jobs run (the compare scene
trains its partner, the Info panel computes metrics) and while training (issue 9, items 1 and 8)."""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENES = ROOT / "resources" / "scenes"
_spec = importlib.util.spec_from_file_location("nnlab_test_xclient", Path(__file__).with_name("xclient.py"))
xclient = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(xclient)

QUIT_WITHIN = 10.0  # seconds from the quit request to the exit of the app and of every process it started


def start_app(scene: Path, home: Path) -> subprocess.Popen:
    env = dict(os.environ, NNLAB_NO_RESTORE="1", XDG_CONFIG_HOME=str(home))
    # its own process group: a terminal's Ctrl+C reaches the app and its worker processes alike
    return subprocess.Popen([sys.executable, "-m", "nnlab", "gui", str(scene)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for_window(p: subprocess.Popen, timeout: float = 90.0) -> tuple[int, tuple]:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if p.poll() is not None:
            pytest.fail(f"the app exited with {p.returncode} before its window appeared:\n{p.stderr.read()}")
        found = xclient.window_of(p.pid)
        if found is not None:
            return found
        time.sleep(0.1)
    stop(p)
    pytest.fail("the app's window did not appear")


def workers(p: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(p.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for q in procs:
        try:
            if q.is_running() and q.status() != psutil.STATUS_ZOMBIE:
                out.append(q)
        except psutil.NoSuchProcess:
            pass
    return out


def stop(p: subprocess.Popen) -> None:
    """Clean up after a failed test: SIGKILL the app and everything it started (only processes this test began)."""
    for q in [*workers(p)]:
        try:
            q.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        p.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def quit_app(p: subprocess.Popen, how: str, window: tuple[int, tuple]) -> None:
    wid, geometry = window
    if how == "ctrl_q":
        xclient.press(wid, geometry, "Control_L", "q")
    elif how == "close":
        xclient.request_close(wid)
    elif how == "sigterm":
        os.kill(p.pid, signal.SIGTERM)
    elif how == "sigint":
        os.killpg(p.pid, signal.SIGINT)  # Ctrl+C in a terminal: the whole foreground process group
    else:
        raise AssertionError(how)


@pytest.mark.slow
@pytest.mark.parametrize("scene, after, how", [
    ("default.toml", 0.5, "ctrl_q"),
    ("default.toml", 0.5, "close"),
    ("default.toml", 0.5, "sigterm"),
    ("default.toml", 0.5, "sigint"),
    ("compare.toml", 3.0, "sigterm"),  # the partner trains in a worker, the Info panel's metrics in another
    ("peaks_tanh.toml", 6.0, "ctrl_q"),  # training is under way
    ("peaks_tanh.toml", 6.0, "sigint"),
])
def test_quitting_at_any_moment_exits_zero_quickly_without_orphans(tmp_path, scene, after, how):
    p = start_app(SCENES / scene, tmp_path)
    try:
        window = wait_for_window(p)
        time.sleep(after)
        started = workers(p)
        if after > 1.0:
            assert started, "no worker process is running: the moment tested is not 'during a job'"
        t0 = time.monotonic()
        quit_app(p, how, window)
        try:
            p.wait(QUIT_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{how} {after} s after the window appeared: still running after {QUIT_WITHIN} s")
        took = time.monotonic() - t0
        left = alive(started)
        while left and time.monotonic() - t0 < QUIT_WITHIN:
            time.sleep(0.1)
            left = alive(started)
        err = p.stderr.read()
        assert p.returncode == 0, err
        assert "Traceback" not in err, err
        assert not left, f"processes left alive: {[(q.pid, q.cmdline()) for q in left]}"
        assert took < QUIT_WITHIN
    finally:
        if p.poll() is None:
            stop(p)
