"""Worker processes never hold up an exit: a host killed while its pipe is full (it was still importing torch when
an 84 KB job was queued) must not make interpreter exit wait on multiprocessing's feeder thread (issue 9, item 8),
and shutting down N hosts takes as long as shutting down one (item 12)."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_script(code: str, timeout: float = 60.0) -> tuple[subprocess.CompletedProcess | None, float]:
    """Run `code` in a fresh interpreter; (result, seconds), result None when it did not exit within `timeout`."""
    t0 = time.monotonic()
    p = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()  # the process we started, by its own handle
        p.communicate()
        return None, time.monotonic() - t0
    return subprocess.CompletedProcess(p.args, p.returncode, out, err), time.monotonic() - t0


def test_killing_a_host_with_a_full_pipe_does_not_block_interpreter_exit():
    # the job pickle (300 kB) is larger than a pipe's buffer: the queue's feeder thread blocks writing it while the
    # host is still importing torch; kill() must cancel that thread, or interpreter exit joins it forever
    code = """
        import time
        from functools import partial
        from nnlab.app.hosts import Host

        h = Host()
        h.ctrl.put(("job", partial(len, b"x" * 300_000), False))
        time.sleep(0.3)
        h.kill()
        print("killed", h.alive())
    """
    r, seconds = run_script(code, timeout=30)
    assert r is not None, f"interpreter exit hung after Host.kill() ({seconds:.0f} s)"
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "killed False"


def test_shutdown_of_many_hosts_is_parallel_and_leaves_none_alive():
    # four hosts stuck in a job that never yields: one shared deadline for all of them, not a timeout per host
    code = """
        import time
        from functools import partial
        from nnlab.app import hosts as pw

        hosts = [pw.acquire() for _ in range(4)]
        for h in hosts:
            h.ctrl.put(("job", partial(time.sleep, 600), False))
        time.sleep(1.0)
        t0 = time.monotonic()
        pw.shutdown_hosts(timeout=1.0)
        print(f"{time.monotonic() - t0:.2f}", sum(h.alive() for h in hosts))
    """
    r, seconds = run_script(code, timeout=60)
    assert r is not None, f"exit hung ({seconds:.0f} s)"
    assert r.returncode == 0, r.stderr
    took, alive = r.stdout.split()
    assert alive == "0"
    assert float(took) < 4.0  # 1 s for all to quit, then terminate/kill all at once (not 4 x per-host waits)
