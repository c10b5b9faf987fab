"""The study driver: submits the tasks that are not cached to an executor, caches each result as it arrives,
shows progress on stderr, then writes the CSV, the summary and the plots.

Executors: "serial" (in this process; workers = 0), a local process pool (default: one worker per core) or a Dask
cluster (study_dask). Every executor offers submit(fn, *args) -> future and wait(futures) -> the finished ones.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO


from nnlab.engine.study import spec as S
from nnlab.engine.study.cache import cache_path, load_net, load_saved_net, save_net, write_cached


class _Deferred:
    """A future that runs its call when first asked for (so the driver caches each result before the next runs)."""

    def __init__(self, fn: Callable, args: tuple) -> None:
        self.fn, self.args, self.done, self.value, self.error = fn, args, False, None, None

    def run(self) -> None:
        if not self.done:
            self.done = True
            try:
                self.value = self.fn(*self.args)
            except Exception as e:  # noqa: BLE001  (reported per task by the driver)
                self.error = e

    def result(self) -> Any:
        self.run()
        if self.error is not None:
            raise self.error
        return self.value


class SerialExecutor:
    """Runs the tasks one at a time in this process, in submission order (tests, debugging, workers = 0)."""

    def submit(self, fn: Callable, *args: Any) -> _Deferred:
        return _Deferred(fn, args)

    def wait(self, futures: Any) -> set:
        first = next(iter(futures))
        first.run()
        return {first}

    def close(self, cancel: bool = False) -> None:
        pass


class LocalExecutor:
    """A spawn-based process pool; each worker runs single-threaded (torch and BLAS) and dies with the driver."""

    def __init__(self, workers: int) -> None:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, "1")  # inherited by the spawned workers before they import numpy
        self.pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                           initializer=S.init_worker, initargs=(os.getpid(),))

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        return self.pool.submit(fn, *args)

    def wait(self, futures: Any) -> set:
        return cf.wait(futures, return_when=cf.FIRST_COMPLETED).done

    def close(self, cancel: bool = False) -> None:
        """Wait for the workers; with `cancel`, drop the queued tasks and terminate the running ones at once
        (an interrupted study must not wait for a task of exact_time_limit seconds, nor leave it running)."""
        if not cancel:
            self.pool.shutdown(wait=True)
            return
        procs = list((getattr(self.pool, "_processes", None) or {}).values())  # the pool offers no other handle
        self.pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(timeout=2.0)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=2.0)


class Progress:
    """`study  37/120 [#####.....] 31% elapsed 0:02:10 ETA 0:04:40` on stderr; the ETA uses computed tasks only."""

    def __init__(self, total: int, done: int = 0, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.done, self.start_done = total, done, done
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.t0 = time.perf_counter()
        self._last = 0.0
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    @staticmethod
    def _hms(s: float) -> str:
        s = int(round(s))
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"

    def line(self) -> str:
        el = time.perf_counter() - self.t0
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(20 * frac) + "." * (20 - int(20 * frac))
        computed = self.done - self.start_done
        eta = "?" if computed == 0 else self._hms(el / computed * (self.total - self.done))
        return f"study {self.done:>{len(str(self.total))}}/{self.total} [{bar}] {100 * frac:3.0f}% " \
               f"elapsed {self._hms(el)} ETA {eta}"

    def update(self, n: int = 1, force: bool = False) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.tty:
            self.stream.write("\r" + self.line() + ("\n" if self.done >= self.total else ""))
            self.stream.flush()
        elif force or self.done >= self.total or now - self._last >= 5.0:
            self._last = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()


@dataclass
class StudyOutcome:
    """What a run did: task counts, failures (one line each), output files, wall time."""

    total: int
    cached: int
    computed: int
    failures: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Any:
    """Dask when a scheduler address is given, else serial (workers = 0) or a local pool (default: all cores)."""
    if scheduler:
        from nnlab.engine.study.dask_executor import DaskExecutor

        return DaskExecutor(scheduler)
    if workers == 0:
        return SerialExecutor()
    return LocalExecutor(workers or os.cpu_count() or 1)


def run_study(config: S.StudyConfig, out: str | os.PathLike, workers: int | None = None, scheduler: str | None = None,
              progress: bool = True, stream: TextIO | None = None, executor: Any = None,
              report: bool = True) -> StudyOutcome:
    """Run every task that is not cached, then write results.csv, summary.md and the plots into `out`."""
    t0 = time.perf_counter()
    out = Path(out)
    (out / "cache" / "nets").mkdir(parents=True, exist_ok=True)
    todo: dict[S.NetConfig, list[S.Task]] = {}
    total = cached = 0
    for net in config.networks:
        tasks = config.tasks(net)
        missing = [t for t in tasks if not cache_path(out, t).exists()]
        total += len(tasks)
        cached += len(tasks) - len(missing)
        if missing:
            todo[net] = missing
    outcome = StudyOutcome(total, cached, 0)
    bar = Progress(total, cached, stream, progress)
    if progress:
        bar.update(0, force=True)
    ex = executor if executor is not None else (make_executor(workers, scheduler) if todo else SerialExecutor())
    pending: dict[Any, tuple[str, Any]] = {}

    def submit_tasks(net: S.NetConfig, built: dict) -> None:
        for t in todo[net]:
            pending[ex.submit(S.run_task, t, built["weights"], built["biases"],
                              built.get("activation", "relu"))] = ("task", t)

    finished = False
    try:
        for net in todo:  # random and file networks are built here (cheap); trained ones by a worker, then saved
            built = load_net(out, net) if S.saved_by_study(net) else None
            if built is None and S.saved_by_study(net) and config.weights:
                built = load_saved_net(config.weights, net)  # [study] weights: another study's saved networks
                if built is not None:
                    save_net(out, net, built)
            if built is None and not net.trained:
                built = S.build_network(net)
                if S.saved_by_study(net):
                    save_net(out, net, built)
            if built is None:
                pending[ex.submit(S.build_network, net)] = ("build", net)
            else:
                submit_tasks(net, built)
        while pending:
            for fut in ex.wait(list(pending)):
                kind, obj = pending.pop(fut)
                try:
                    result = fut.result()
                except Exception as e:  # noqa: BLE001  (one failed task must not stop the study)
                    msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                    if kind == "build":
                        outcome.failures.append(f"{obj.label} {obj.init} {obj.target} {obj.dim}-D seed {obj.seed}: {msg}")
                        bar.update(len(todo[obj]))
                    else:
                        outcome.failures.append(f"{obj.method} {obj.sense} on {obj.net.init} {obj.net.target} "
                                                f"{obj.net.dim}-D seed {obj.net.seed}: {msg}")
                        bar.update()
                    continue
                if kind == "build":
                    save_net(out, obj, result)
                    submit_tasks(obj, result)
                else:
                    write_cached(out, obj, result)
                    outcome.computed += 1
                    bar.update()
        finished = True
    finally:
        if executor is None:
            ex.close(cancel=not finished)
    if report:
        from nnlab.engine.study.report import write_reports

        outcome.files = write_reports(config, out)
    outcome.seconds = time.perf_counter() - t0
    return outcome
