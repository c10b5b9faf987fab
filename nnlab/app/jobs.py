"""Picklable job factories for worker processes (no Qt here): training and optimizer races."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Generator

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.model.scene import Scene


@dataclass(frozen=True)
class MethodDone:
    """One method of a race finished (result) or could not run (error)."""

    method: str
    result: object = None
    error: str = ""


def race(names: list[str], net: NetSnapshot, lower: Any, upper: Any, sense: str, time_limit: float, seed: int,
         params: dict[str, dict]) -> Generator[Any, Any, int]:
    """Run methods one after another on the same network, passing their events through; returns how many ran."""
    import sys
    import traceback

    from nnlab.engine.optimize import run_method
    from nnlab.errors import NnlabError

    for name in names:
        try:
            result = yield from run_method(name, net, lower, upper, sense, time_limit, seed, params.get(name))
        except NnlabError as e:  # this method cannot run here (bad parameter, size, activation): the race goes on
            yield MethodDone(name, error=str(e))
            continue
        except Exception as e:  # noqa: BLE001 - a bug: its traceback on stderr, and said to be one
            traceback.print_exc(file=sys.stderr)
            yield MethodDone(name, error=f"internal error: {type(e).__name__}: {e}")
            continue
        yield MethodDone(name, result=result)
    return len(names)


def race_job(*args: Any) -> partial:
    return partial(race, *args)


def train_job(scene: Scene, start: NetSnapshot | None, first_epoch: int = 0,
              surface: tuple[Any, Any, int] | None = None, cache: bool = False,
              resume_state: dict | None = None) -> partial:
    """Training (nnlab.engine.train.training.train); with `surface` = (lower, upper, n) the result also carries
    the trained network's exact n x n surface over that box (TrainResult.surface); `cache`: a finished run is
    stored in the training cache by the job (nnlab.app.training.remember) before it returns, so the GUI thread
    never compresses and writes it (17-27 ms, a stall of the window when a run ended); `resume_state`: the stopped
    run's optimizer state (TrainResult.optimizer_state), with `first_epoch`."""
    kw: dict[str, Any] = {"first_epoch": first_epoch} if first_epoch else {}
    if first_epoch and resume_state is not None:
        kw["resume_state"] = resume_state
    return partial(_train_with_surface, scene, start, surface, cache, **kw)


def _train_with_surface(scene: Scene, start: NetSnapshot | None, surface: tuple[Any, Any, int] | None,
                        cache: bool = False, **kw: Any) -> Generator[Any, None, Any]:
    from dataclasses import replace

    from nnlab.engine.analysis.surface import evaluate_network
    from nnlab.engine.train.training import train

    result = yield from train(scene, start, **kw)
    if cache and result.status == "done":
        from nnlab.app.training import remember

        remember(scene, result.snapshot)  # the next load of this scene is instant
    if surface is not None and result.snapshot.input_dim == 2:
        lo, hi, n = surface
        result = replace(result, surface=(tuple(lo), tuple(hi), evaluate_network(result.snapshot, lo, hi, n)))
    return result


def metrics_job(net: NetSnapshot, lower: Any, upper: Any, **kw: Any) -> partial:
    """The Info panel's landscape metrics (nnlab.app.metrics.landscape_job) as a picklable factory."""
    from nnlab.app.metrics import landscape_job

    return partial(landscape_job, net, lower, upper, **kw)


def regions_job(net: NetSnapshot, lower: Any, upper: Any, limit: int | None = None) -> partial:
    """The exact region polygons of the region overlay (nnlab.engine.analysis.regions_map) as a factory."""
    from nnlab.engine.analysis.regions_map import OVERLAY_LIMIT, iter_region_polygons

    return partial(iter_region_polygons, net, lower, upper, OVERLAY_LIMIT if limit is None else limit)
