"""The Qt-free app model (nnlab.app): it loads no Qt, its worker hosts load no Qt, its events fire on change only,
and the one job control protocol behaves the same on a thread and in a host process."""
from __future__ import annotations

import gc
import subprocess
import sys
import threading
import time
from functools import partial

import numpy as np
import pytest

from nnlab.app.document import Document
from nnlab.app.events import Signal
from nnlab.app.hosts import JobControl, ProcessJob, ThreadJob, drive
from nnlab.app.view import ViewState

QT = ("PySide6", "pyqtgraph", "OpenGL", "shiboken6")


def test_importing_the_app_model_loads_no_qt():
    code = ("import sys, nnlab.app, nnlab.app.document, nnlab.app.hosts, nnlab.app.jobs, nnlab.app.metrics, "
            "nnlab.app.choices; d = nnlab.app.document.Document(); d.next_seed(); "
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT!r}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_a_host_process_loads_no_qt_even_when_the_app_has():
    pytest.importorskip("PySide6")
    import PySide6.QtCore  # noqa: F401  (the app's process has Qt; its hosts must not)

    probe = f"sorted(m for m in __import__('sys').modules if m.split('.')[0] in {QT!r})"
    reports: list = []
    ProcessJob(partial(map, eval, [probe, "__import__('os').getpid()"])).run(lambda k, p: reports.append((k, p)))
    kinds = [k for k, _ in reports]
    assert kinds == ["yield", "yield", "return"], reports
    assert reports[0][1] == []
    import os

    assert reports[1][1] != os.getpid()  # it really ran in another process


def counting(n: int, closed: list):
    try:
        for i in range(n):
            got = yield i
            if got is not None:
                return ("sent", got)
        return "done"
    finally:
        closed.append(True)


@pytest.mark.parametrize("where", ["thread", "process"])
def test_one_control_protocol_for_threads_and_processes(where):
    """Paused start, one step lets exactly one more event through, a sent value reaches the generator."""
    make = ThreadJob if where == "thread" else ProcessJob
    job = make(partial(counting, 1000, []), paused=True)
    reports: list = []
    cv = threading.Condition()

    def emit(kind, payload):
        with cv:
            reports.append((kind, payload))
            cv.notify_all()

    t = threading.Thread(target=job.run, args=(emit,), daemon=True)
    t.start()

    def wait_for(n: int, timeout: float = 60.0) -> None:
        with cv:
            assert cv.wait_for(lambda: len(reports) >= n, timeout), reports

    wait_for(1)
    time.sleep(0.3)
    assert reports == [("yield", 0)]  # paused after the first event
    job.step()
    wait_for(2)
    time.sleep(0.3)
    assert reports == [("yield", 0), ("yield", 1)]  # exactly one more
    job.finish_early("now")
    t.join(30)
    assert not t.is_alive()
    assert reports[-1] == ("return", ("sent", "now"))


def test_stop_closes_the_generator_and_reports_closed():
    closed: list = []
    ctl = JobControl()
    reports: list = []

    def emit(kind, payload):
        reports.append(kind)
        if len(reports) == 3:
            ctl.apply(("stop",))

    drive(partial(counting, 100, closed), ctl, emit)
    assert reports == ["yield", "yield", "yield", "closed"] and closed == [True]


def test_a_job_stopped_before_it_started_never_runs():
    built: list = []
    ctl = JobControl()
    ctl.apply(("stop",))
    reports: list = []
    drive(lambda: built.append(1) or iter([1]), ctl, lambda k, p: reports.append(k))
    assert reports == ["closed"] and built == []


def test_view_state_emits_only_real_changes_and_checks_values():
    v = ViewState()
    seen: list = []
    v.changed.connect(lambda name, value: seen.append((name, value)))
    v.show_target = True
    v.show_target = True  # the same value: no event
    pts = np.zeros((3, 3))
    v.points = pts
    v.points = pts  # the same array: no event
    v.set(mode="2d", unit=(0, 1))
    assert seen == [("show_target", True), ("points", pts), ("mode", "2d"), ("unit", (0, 1))]
    with pytest.raises(ValueError, match="unknown mode"):
        v.mode = "4d"
    with pytest.raises(AttributeError):
        v.set(colour="red")


def test_a_listener_does_not_outlive_its_object():
    sig = Signal()
    calls: list = []

    class Panel:
        def on(self) -> None:
            calls.append(1)

    p = Panel()
    sig.connect(p.on)
    sig.emit()
    del p
    gc.collect()
    sig.emit()
    assert calls == [1] and len(sig) == 0


def test_a_new_network_drops_the_unit_on_screen_and_jobs_use_the_net_on_screen():
    d = Document()
    d.view.unit = (0, 2)
    z_unit = d.shown_surface()
    assert z_unit.shape == d.z.shape and not np.array_equal(z_unit, d.z)
    events: list = []
    d.network_changed.connect(lambda: events.append(d.view.unit))
    assert d.next_seed()
    assert events == [None] and d.view.unit is None
    job = d.train_job()
    assert job.args[1] is d.net  # trains on from the network on screen
    race = d.race_job(["random"], "max", 1.0, 0, {})
    assert race.args[1] is d.net


def test_export_plan_takes_the_network_on_screen():
    from nnlab.engine.analysis.surface import evaluate_network
    from nnlab.engine.export.plan import options_for
    from nnlab.engine.jobs import drain
    from nnlab.engine.model.network import initial_snapshot
    from nnlab.engine.model.scene import InitSpec, NetworkSpec, Scene

    d = Document(Scene(network=NetworkSpec(hidden=(8,)), init=InitSpec(seed=3)).replace("camera", resolution=16))
    other = initial_snapshot(d.scene.network, d.scene.init.__class__(seed=99))
    d.set_network(other, trained=True)
    plan = drain(d.export_plan(options_for(d.scene, kind="orbit", frames=1, fmt="png")))
    lo, hi = d.scene.domain()
    assert np.array_equal(plan.frames[0].panels[0].z, evaluate_network(other, lo, hi, 16))
    assert np.array_equal(plan.frames[0].panels[0].z, d.z)


def test_train_state_records_epochs_once_and_clears():
    from types import SimpleNamespace as Ev

    from nnlab.app.training import TrainState

    t = TrainState()
    seen: list = []
    t.changed.connect(lambda name, value: seen.append(name))
    t.begin(10)
    assert t.running and t.history == [] and t.epochs == 10
    assert t.record(Ev(epoch=0, train_loss=1.0, val_r2=None))
    assert not t.record(Ev(epoch=0, train_loss=1.0, val_r2=None))  # a heartbeat: no new point
    assert t.record(Ev(epoch=1, train_loss=0.5, val_r2=0.25))
    assert t.history[0][:2] == (0, 1.0) and np.isnan(t.history[0][2]) and t.history[1] == (1, 0.5, 0.25)
    t.finish("result")
    assert not t.running and t.result == "result" and "running" in seen
    t.clear()
    assert t.history == [] and t.epoch == -1 and t.result is None


def test_a_training_job_brings_the_exact_surface_of_its_network():
    """The app's training job computes the trained network's surface in the worker (the same evaluate_network), so
    finishing a run costs the window no forward pass; the document shows exactly what it would have computed."""
    from nnlab.engine.analysis.surface import evaluate_network
    from nnlab.engine.jobs import drain
    from nnlab.engine.model.scene import NetworkSpec, Scene

    s = Scene(network=NetworkSpec(hidden=(6, 6), lower=(-2.0, -1.0), upper=(1.0, 3.0))).replace("target", name="peaks")
    s = s.replace("train", enabled=True, samples=64, epochs=2, batch_size=32).replace("camera", resolution=12)
    d = Document(s)
    result = drain(d.train_job()())
    lo, hi, z = result.surface
    assert (lo, hi) == d._box() and z.shape == (12, 12)
    assert np.array_equal(z, evaluate_network(result.snapshot, lo, hi, 12))
    d.set_network(result.snapshot, trained=True, surface=result.surface)
    assert np.array_equal(d.z, z)
    d.set_network(result.snapshot, trained=True, surface=((0.0, 0.0), (1.0, 1.0), z))  # another box: recomputed
    assert np.array_equal(d.z, z)  # (the same network and box, evaluated here)
    d.update("camera", resolution=10)
    d.set_network(result.snapshot, trained=True, surface=result.surface)  # another grid: recomputed, not taken
    assert d.z.shape == (10, 10)
