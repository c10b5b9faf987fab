"""The command-line entry point: user errors vs bugs, negative option values, interrupts."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnlab.cli import main as cli
from nnlab.errors import NnlabError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv, joined", [
    (["--lower", "-5,-5", "--upper", "5,5"], ["--lower=-5,-5", "--upper", "5,5"]),
    (["--azimuth", "-30"], ["--azimuth=-30"]),
    (["--lower", "-.5"], ["--lower=-.5"]),
    (["--lower", "-inf,0"], ["--lower=-inf,0"]),
    (["--lower=-5,-5"], ["--lower=-5,-5"]),
    (["--json", "-h"], ["--json", "-h"]),          # a short option is not a value
    (["--model", "--json"], ["--model", "--json"]),
    (["-5"], ["-5"]),
])
def test_negative_values_are_attached_to_their_option(argv: list[str], joined: list[str]) -> None:
    assert cli.join_negative_values(argv) == joined


def _fake_command(monkeypatch: pytest.MonkeyPatch, exc: BaseException) -> None:
    import nnlab.cli.optimize as mod

    def boom(args):  # noqa: ANN001
        raise exc

    monkeypatch.setattr(mod, "run", boom)


def test_user_error_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    _fake_command(monkeypatch, NnlabError("the box\nis wrong"))
    assert cli.main(["optimize", "--model", "x.npz"]) == 2
    err = capsys.readouterr().err
    assert err == "nnlab optimize: error: the box is wrong\n"


def test_os_error_names_the_file(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    _fake_command(monkeypatch, FileNotFoundError(2, "No such file or directory", "/nowhere/x.npz"))
    assert cli.main(["optimize", "--model", "x.npz"]) == 2
    assert "/nowhere/x.npz" in capsys.readouterr().err


def test_a_bug_is_not_disguised_as_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain ValueError (e.g. numpy broadcasting) is a bug: it propagates, so the process prints a traceback."""
    _fake_command(monkeypatch, ValueError("operands could not be broadcast together"))
    with pytest.raises(ValueError, match="broadcast"):
        cli.main(["optimize", "--model", "x.npz"])


def test_interrupt_is_one_line_exit_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    _fake_command(monkeypatch, KeyboardInterrupt())
    assert cli.main(["optimize", "--model", "x.npz"]) == 130
    assert capsys.readouterr().err == "nnlab: interrupted\n"


def test_a_bug_exits_1_with_a_traceback(tmp_path: Path) -> None:
    code = ("import sys, nnlab.cli.main as c, nnlab.cli.optimize as o\n"
            "def boom(a): raise ValueError('internal broadcasting bug')\n"
            "o.run = boom\nsys.exit(c.main(['optimize', '--model', 'x.npz']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 1 and "Traceback" in r.stderr and "internal broadcasting bug" in r.stderr


def test_ctrl_c_in_the_first_moments_is_one_line() -> None:
    """SIGINT while a command is still importing its modules: one line, never a traceback. (The first ~40 ms are
    CPython's own start-up, site and runpy, before any nnlab code runs; the delays start after that.)"""
    bad = []
    for i in range(8):
        delay = 0.08 + 0.06 * i
        p = subprocess.Popen([sys.executable, "-m", "nnlab", "optimize", "--model", "default", "--method", "grid"],
                             cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=60)
        if "Traceback" in err or p.returncode not in (0, 130, -signal.SIGINT):
            bad.append((delay, p.returncode, err[-300:]))
    assert not bad
