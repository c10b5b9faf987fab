"""Fixtures shared by the engine tests."""
from __future__ import annotations

from typing import Callable

import pytest

from nnlab.engine.optimize.base import BoundProgress, OptResult


def _cancel_after_progress(gen, progress: int = 2) -> OptResult:
    """Run an exact method's generator until it has reported `progress` bounds (the search is under way), then cancel
    it by gen.send(True) until it returns; the result."""
    n, ev = 0, next(gen)
    while n < progress:
        n += isinstance(ev, BoundProgress)
        ev = next(gen)
    with pytest.raises(StopIteration) as stop:
        while True:
            gen.send(True)
    return stop.value.value


@pytest.fixture
def cancel_after_progress() -> Callable[..., OptResult]:
    return _cancel_after_progress
