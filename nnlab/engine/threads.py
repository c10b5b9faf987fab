"""Torch's intra-op thread count, set in one place.

Why: small batches gain nothing from threads, and on a loaded 2-core machine two spinning torch threads ran 10-50x
slower than one, so engine code sets the count for a stretch of work and restores it after.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Torch's intra-op threads set to n (0: unchanged) for one stretch of work (between a generator's yields, so
    that a consumer's own torch work is not affected), then restored."""
    import torch

    old = torch.get_num_threads()
    if n > 0 and n != old:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n > 0 and n != old:
            torch.set_num_threads(old)


def set_torch_threads(n: int, only_if_loaded: bool = False) -> None:
    """Torch's intra-op threads for the rest of a worker's life (a study worker: 1; an app host: all cores but
    one, the GUI renders on the CPU). `only_if_loaded`: do nothing when torch is not imported yet (it is heavy)."""
    import sys

    if only_if_loaded and "torch" not in sys.modules:
        return
    import torch

    torch.set_num_threads(max(1, n))
