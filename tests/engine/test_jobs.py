"""drain and relay: the two ways a job generator is run by another."""
from __future__ import annotations

from nnlab.engine.jobs import drain, relay


def _job(n: int):
    for i in range(n):
        yield i
    return f"done {n}"


def test_drain_returns_the_value_and_shows_every_event():
    seen: list[int] = []
    assert drain(_job(4), seen.append) == "done 4"
    assert seen == [0, 1, 2, 3]
    assert drain(_job(0)) == "done 0"


def test_relay_maps_events_and_passes_the_result_on():
    def outer():
        res = yield from relay(_job(3), lambda i: ("step", i * 10))
        return res.upper()

    gen = outer()
    events = []
    while True:
        try:
            events.append(next(gen))
        except StopIteration as stop:
            assert stop.value == "DONE 3"
            break
    assert events == [("step", 0), ("step", 10), ("step", 20)]


def test_closing_a_relay_closes_the_inner_job():
    closed = []

    def inner():
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    job = inner()
    gen = relay(job, str)
    assert next(gen) == "1"
    gen.close()
    assert closed == [True]
    del job, gen
