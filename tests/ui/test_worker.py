"""The generic generator-on-a-thread adapter: results, errors, stop (gen.close) and one-job-per-slot."""
from __future__ import annotations

import threading
import time

import pytest

from nnlab.ui.worker import GeneratorWorker, TaskSlot


def counting(n: int, log: list, delay: float = 0.0):
    try:
        for i in range(n):
            if delay:
                time.sleep(delay)
            got = yield i
            if got:
                return ("early", i)
        return ("done", n)
    finally:
        log.append("closed")


def test_yields_then_returns(qtbot):
    log: list = []
    w = GeneratorWorker(lambda: counting(5, log))
    seen: list = []
    w.yielded.connect(seen.append)
    with qtbot.waitSignal(w.returned, timeout=5000) as ret:
        w.start()
    assert w.wait(2000)
    assert ret.args == [("done", 5)]
    qtbot.waitUntil(lambda: seen == [0, 1, 2, 3, 4], timeout=2000)
    assert log == ["closed"]


def test_errors_are_emitted_not_raised(qtbot):
    def bad():
        yield 1
        raise ValueError("boom")

    w = GeneratorWorker(bad)
    with qtbot.waitSignal(w.errored, timeout=5000) as err:
        w.start()
    assert isinstance(err.args[0], ValueError) and str(err.args[0]) == "boom"
    assert w.wait(2000)


def test_stop_closes_the_generator_between_yields(qtbot):
    log: list = []
    w = GeneratorWorker(lambda: counting(10**6, log, delay=0.01))
    returned: list = []
    w.returned.connect(returned.append)
    with qtbot.waitSignal(w.yielded, timeout=5000):
        w.start()
    w.stop()
    assert w.wait(1000)
    assert log == ["closed"] and returned == []


def test_finish_early_sends_a_value_and_gets_the_partial_result(qtbot):
    log: list = []
    w = GeneratorWorker(lambda: counting(10**6, log, delay=0.005))
    with qtbot.waitSignal(w.yielded, timeout=5000):
        w.start()
    with qtbot.waitSignal(w.returned, timeout=5000) as ret:
        w.finish_early(True)
    assert ret.args[0][0] == "early"
    assert w.wait(2000)


def test_pause_holds_and_step_lets_one_event_through(qtbot):
    log: list = []
    w = GeneratorWorker(lambda: counting(100, log), paused=True)
    seen: list = []
    w.yielded.connect(seen.append)
    w.start()
    qtbot.waitUntil(lambda: seen == [0], timeout=3000)
    qtbot.wait(150)
    assert seen == [0]  # paused after the first event
    w.step()
    qtbot.waitUntil(lambda: seen == [0, 1], timeout=3000)
    qtbot.wait(150)
    assert seen == [0, 1]
    w.resume()
    qtbot.waitUntil(lambda: len(seen) == 100, timeout=5000)
    assert w.wait(2000)


def test_a_new_job_cancels_and_silences_the_previous_one(qtbot):
    slot = TaskSlot()
    log_a: list = []
    got_a: list = []
    got_b: list = []
    done_b = threading.Event()
    slot.start(lambda: counting(10**6, log_a, delay=0.01), on_yield=got_a.append)
    qtbot.waitUntil(lambda: len(got_a) > 0, timeout=5000)
    first = slot.worker
    slot.start(lambda: counting(3, []), on_yield=got_b.append, on_return=lambda r: done_b.set())
    n_a = len(got_a)
    assert first.wait(1000)
    assert log_a == ["closed"]
    qtbot.waitUntil(done_b.is_set, timeout=5000)
    qtbot.wait(50)
    assert len(got_a) == n_a and got_b == [0, 1, 2]
    assert slot.shutdown(2000)


def test_factory_errors_reach_errored(qtbot):
    def factory():
        raise ValueError("bad arguments")

    w = GeneratorWorker(factory)
    with qtbot.waitSignal(w.errored, timeout=5000) as err:
        w.start()
    assert "bad arguments" in str(err.args[0])
    w.wait(1000)


@pytest.mark.parametrize("n", [0])
def test_empty_generator_returns(qtbot, n):
    w = GeneratorWorker(lambda: counting(n, []))
    with qtbot.waitSignal(w.returned, timeout=5000) as ret:
        w.start()
    assert ret.args == [("done", 0)]
    w.wait(1000)


# ---- the same adapter with the generator in a worker process -------------------------------------------------
# (job factories must be importable in the child, so these use standard-library iterators)
def test_process_job_yields_returns_stops_and_reports_errors(qtbot):
    import itertools
    from functools import partial

    slot = TaskSlot()
    seen: list = []
    result: list = []
    slot.start(partial(iter, [3, 1, 4]), on_yield=seen.append, on_return=result.append, process=True)
    qtbot.waitUntil(lambda: result == [None], timeout=30000)
    assert seen == [3, 1, 4]
    ticks: list = []
    long = slot.start(partial(map, time.sleep, itertools.repeat(0.01)), on_yield=ticks.append, process=True)
    qtbot.waitUntil(lambda: len(ticks) > 5, timeout=30000)
    slot.cancel()
    assert long.wait(1000)  # stopped within 1 s; the host process stays for the next job
    errors: list = []
    slot.start(partial(map, int, ["1", "x"]), on_error=errors.append, process=True)
    qtbot.waitUntil(lambda: bool(errors), timeout=30000)
    assert isinstance(errors[0], ValueError) and "'x'" in str(errors[0])
    slot.start(lambda: iter([1]), on_error=errors.append, process=True)  # a lambda cannot be pickled
    qtbot.waitUntil(lambda: len(errors) == 2, timeout=10000)
    assert "worker process" in str(errors[1])
    assert slot.shutdown(2000)
