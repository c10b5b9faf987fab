"""`nnlab study CONFIG.toml --out DIR [--workers N] [--scheduler ADDRESS]`: run a study (engine/study/spec.py: the
config format; budgets in work, both senses, repeats).

Writes DIR/results.csv, DIR/summary.md and PNG plots; DIR/cache keeps every finished task, so an interrupted study
resumes and a re-run is instant. Progress (done/total, ETA) goes to stderr.
"""
from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="run a grid of networks x optimizers and summarise their landscapes",
                       description="Run a study config (see nnlab/engine/study/spec.py for the format).")
    p.add_argument("config", help="study TOML file, e.g. resources/studies/conjecture.toml")
    p.add_argument("--out", required=True, help="output folder (results.csv, summary.md, plots, cache/)")
    p.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: all cores; 0: run in this process)")
    p.add_argument("--scheduler", default=None,
                   help="address (tcp://host:port) or scheduler file of an existing Dask cluster to run on")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from nnlab.engine.study.run import run_study
    from nnlab.engine.study.spec import load_study
    from nnlab.errors import UsageError
    from nnlab.interrupts import interrupt_handlers

    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers {args.workers} is not allowed; expected 0 or more")
    from nnlab.bundled import study_path

    config = load_study(study_path(args.config))  # every task's settings are checked here, before any work starts
    # SIGINT/SIGTERM/SIGHUP raise nnlab.interrupts.Interrupted (a KeyboardInterrupt) at once: run_study's cleanup
    # then terminates the worker pool, and the CLI exits 128 + signum with one line (finished tasks stay cached)
    with interrupt_handlers():
        outcome = run_study(config, args.out, workers=args.workers, scheduler=args.scheduler, progress=not args.quiet)
    print(f"{outcome.total} tasks: {outcome.cached} cached, {outcome.computed} computed, "
          f"{len(outcome.failures)} failed, {outcome.seconds:.1f} s", file=sys.stderr)
    for f in outcome.failures[:10]:
        print(f"failed: {f}", file=sys.stderr)
    for f in outcome.files:
        print(f)
    return 1 if outcome.failures else 0
