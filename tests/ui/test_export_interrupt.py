"""Ctrl+C and SIGTERM during `nnlab export`, in a subprocess with its own Xvfb (issue 9, items 11 and 14).

An interrupt must stop the export within a frame, never crash, exit 130 (SIGINT) or 143 (SIGTERM), keep the file the
user already had byte for byte, leave no temporary file and no Xvfb behind, and print one line, not a traceback.
pyqtgraph's paint loop swallows exceptions raised while a frame is drawn, so before the fix about 1 Ctrl+C in 10
was ignored (the export ran on and replaced the file) and some crashed (SIGSEGV, or an abort inside shiboken's
import).
"""
from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENE = ROOT / "resources" / "scenes" / "default.toml"
OLD = b"GIF89a the user's earlier file " * 64


def _xvfb_children(pid: int) -> set[int]:
    found = set()
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for k in kids:
        try:
            if b"Xvfb" in Path(f"/proc/{k}/cmdline").read_bytes():
                found.add(int(k))
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        return b"Xvfb" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _maps(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return ""


def interrupt_export(folder: Path, signum: int, after: str, library: str = "",
                     renderer: str = "qt") -> tuple[int, float, str, set[int]]:
    """Start an orbit export of 400 frames over an existing F.gif (no DISPLAY: with the Qt `renderer` it starts its
    own Xvfb; with EGL it needs none; NNLAB_EXPORT_RENDERER forces the renderer) and send
    `signum` once a progress line with `after` in it appeared on stderr (a pty, so progress is shown) or, with
    `library`, as soon as the process has mapped that shared library (the moment an import or GL start-up runs);
    returns (exit code, seconds from the signal to the exit, stderr, Xvfb pids seen)."""
    out = folder / "F.gif"
    out.write_bytes(OLD)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["NNLAB_EXPORT_RENDERER"] = renderer
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "nnlab", "export", str(SCENE), "--kind", "orbit", "--frames",
                             "400", "--size", "400x300", "--out", str(out)], cwd=folder, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    err = b""
    xvfb: set[int] = set()

    def read(wait: float) -> bool:
        nonlocal err
        ready, _, _ = select.select([master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(master, 65536)
        except OSError:
            return False
        err += chunk
        return bool(chunk)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if (library in _maps(proc.pid)) if library else (after.encode() in err):
                break
            read(0.002 if library else 0.05)
            xvfb |= _xvfb_children(proc.pid)
        xvfb |= _xvfb_children(proc.pid)
        assert proc.poll() is None, f"the export ended before the signal: {err.decode(errors='replace')[-300:]}"
        t0 = time.monotonic()
        proc.send_signal(signum)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        elapsed = time.monotonic() - t0
        while read(0.05):
            pass
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, elapsed, err.decode(errors="replace"), xvfb


def check_clean_stop(folder: Path, code: int, elapsed: float, err: str, xvfb: set[int], expected: int) -> None:
    text = err.replace("\r", "\n")
    assert code == expected, f"exit {code}: {text[-600:]}"
    assert elapsed < 5, f"took {elapsed:.1f} s to stop"
    assert "Traceback" not in text and "Error while drawing" not in text, text[-600:]
    assert (folder / "F.gif").read_bytes() == OLD  # the earlier file, exactly
    assert sorted(os.listdir(folder)) == ["F.gif"]  # no temporary file left
    time.sleep(0.2)
    assert not [p for p in xvfb if _alive(p)], "an Xvfb outlived the export"


@pytest.mark.parametrize("attempt", range(4))
def test_ctrl_c_while_rendering_stops_cleanly(tmp_path, attempt):
    # progress "frame N/400" appears once the frame loop runs; the signal lands at different moments of a frame
    code, elapsed, err, xvfb = interrupt_export(tmp_path, signal.SIGINT, f"frame {10 + 7 * attempt}/400")
    check_clean_stop(tmp_path, code, elapsed, err, xvfb, 130)
    assert messages(err) == ["nnlab: interrupted"], err
    assert xvfb, "the export should have started its own Xvfb"


def test_sigterm_while_rendering_stops_cleanly_with_143(tmp_path):
    code, elapsed, err, xvfb = interrupt_export(tmp_path, signal.SIGTERM, "frame 12/400")
    check_clean_stop(tmp_path, code, elapsed, err, xvfb, 128 + signal.SIGTERM)
    assert messages(err) == ["nnlab export: stopped by SIGTERM"], err


@pytest.mark.parametrize("library", [
    "Shiboken.abi3.so",  # PySide6 importing shiboken: an interrupt here aborted the interpreter (SIGABRT)
    "libQt6Widgets",  # QtWidgets loaded, pyqtgraph next (it was left half-imported: AttributeError traceback)
    "libQt6OpenGLWidgets",  # pyqtgraph.opengl importing
    "libLLVM",  # the first GL context (llvmpipe) is being made
])
def test_ctrl_c_in_the_first_moments_is_one_line(tmp_path, library):
    """Ctrl+C while the export starts up: Qt imports, the Qt application on the private Xvfb, the first view."""
    code, elapsed, err, xvfb = interrupt_export(tmp_path, signal.SIGINT, "", library)
    check_clean_stop(tmp_path, code, elapsed, err, xvfb, 130)
    assert messages(err) == ["nnlab: interrupted"], err


def _egl_works() -> bool:
    code = "from nnlab.ui.egl_render import egl_unavailable; raise SystemExit(egl_unavailable() is not None)"
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, timeout=60).returncode == 0


needs_egl = pytest.mark.skipif(not _egl_works(), reason="no offscreen EGL (Mesa libegl-mesa0) on this machine")


@needs_egl
@pytest.mark.parametrize("attempt", range(3))
def test_ctrl_c_while_rendering_with_egl_stops_cleanly(tmp_path, attempt):
    """The EGL path (no Qt, no Xvfb): the same clean stop, and no Xvfb was started at all."""
    code, elapsed, err, xvfb = interrupt_export(tmp_path, signal.SIGINT, f"frame {10 + 9 * attempt}/400", renderer="egl")
    check_clean_stop(tmp_path, code, elapsed, err, xvfb, 130)
    assert messages(err) == ["nnlab: interrupted"], err
    assert not xvfb


@needs_egl
def test_sigterm_while_rendering_with_egl_stops_cleanly_with_143(tmp_path):
    code, elapsed, err, xvfb = interrupt_export(tmp_path, signal.SIGTERM, "frame 12/400", renderer="egl")
    check_clean_stop(tmp_path, code, elapsed, err, xvfb, 128 + signal.SIGTERM)
    assert messages(err) == ["nnlab export: stopped by SIGTERM"], err


@needs_egl
@pytest.mark.parametrize("library", [
    "libEGL_mesa",  # the EGL probe: Mesa's EGL vendor library is loading
    "libLLVM",  # llvmpipe: the EGL context is being made
    "_imaging",  # Pillow (labels, the GIF writer)
])
def test_ctrl_c_in_the_first_moments_with_egl_is_one_line(tmp_path, library):
    code, elapsed, err, xvfb = interrupt_export(tmp_path, signal.SIGINT, "", library, renderer="egl")
    check_clean_stop(tmp_path, code, elapsed, err, xvfb, 130)
    assert messages(err) == ["nnlab: interrupted"], err


def messages(err: str) -> list[str]:
    """The lines of stderr that are not progress lines ("render: 12/400 frame 12/400")."""
    lines = [ln.strip() for ln in err.replace("\r", "\n").splitlines()]
    return [ln for ln in lines if ln and not ln.split(":")[0] in ("prepare", "train", "optimize", "render", "write")]
