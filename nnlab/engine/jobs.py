"""Long jobs are generators that yield progress events and return a result; `drain` runs one to its end."""
from __future__ import annotations

from typing import Generator, TypeVar

R = TypeVar("R")


def drain(gen: Generator[object, object, R]) -> R:
    """Run a job generator to the end, ignoring its events, and return its return value (scripts, tests, wrappers)."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value
