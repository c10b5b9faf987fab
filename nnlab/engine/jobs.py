"""Long jobs are generators that yield progress events and return a result; `drain` runs one to its end, `relay`
passes its events on, transformed."""
from __future__ import annotations

from typing import Any, Callable, Generator, TypeVar

R = TypeVar("R")
E = TypeVar("E")


def drain(gen: Generator[Any, Any, R], on_event: Callable[[Any], None] | None = None) -> R:
    """Run a job generator to the end and return its return value (scripts, tests, wrappers); `on_event` sees each
    event (e.g. to record an anytime curve)."""
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(ev)


def relay(gen: Generator[Any, Any, R], f: Callable[[Any], E]) -> Generator[E, None, R]:
    """`yield from` with each event mapped through `f`: an outer job reports an inner one's progress in its own
    terms and gets the inner result. Closing the relay closes the inner job (as `yield from` would)."""
    try:
        while True:
            try:
                ev = next(gen)
            except StopIteration as stop:
                return stop.value
            yield f(ev)
    finally:
        gen.close()
