"""Running a study's tasks on an existing Dask cluster (dask.distributed), with the executor interface of study_run.

The workers need nnlab importable (same environment); they do not need the study's output folder: results come back
to this process, which writes the cache. Start a cluster with e.g.
    dask scheduler --scheduler-file sched.json &  dask worker --scheduler-file sched.json --nthreads 1
and pass the scheduler's address (tcp://host:port) or the scheduler file's path as `--scheduler`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable


def scheduler_address(spec: str) -> str:
    """An address as given, or the "address" entry of a scheduler file written by `dask scheduler`."""
    p = Path(spec)
    if "://" not in spec and p.is_file():
        try:
            return str(json.loads(p.read_text())["address"])
        except (OSError, ValueError, KeyError):
            raise ValueError(f"{spec}: not a Dask scheduler file (no 'address' entry)") from None
    return spec


class DaskExecutor:
    """submit/wait/close over a dask.distributed Client connected to `address`."""

    def __init__(self, address: str, timeout: float = 20.0) -> None:
        from dask.distributed import Client

        addr = scheduler_address(address)
        try:
            self.client = Client(addr, timeout=timeout)
        except (OSError, TimeoutError) as e:
            raise ValueError(f"cannot connect to the Dask scheduler at {addr}: {e}") from None

    def submit(self, fn: Callable, *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def wait(self, futures: Any) -> set:
        from dask.distributed import wait

        return set(wait(list(futures), return_when="FIRST_COMPLETED").done)

    def close(self, cancel: bool = False) -> None:
        self.client.close()
