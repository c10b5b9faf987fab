"""Command line: `nnlab [gui] [SCENE]`, `nnlab train`, `nnlab optimize`, `nnlab export`, `nnlab study`.

Errors are one line on stderr and exit code 2; the subcommand modules hold the work.
"""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("gui", "train", "optimize", "export", "study")


class UsageError(Exception):
    """A user-facing error: printed as one line, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnlab", description="A lab for the landscapes of small neural networks.")
    sub = parser.add_subparsers(dest="command")
    for name in COMMANDS:
        mod = importlib.import_module(f"nnlab.commands.{name}")
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `nnlab` and main.py; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv = ["gui", *argv]  # `nnlab` and `nnlab SCENE` open the app
    parser = build_parser()
    args = parser.parse_args(argv)
    mod = importlib.import_module(f"nnlab.commands.{args.command}")
    try:
        return int(mod.run(args) or 0)
    except KeyboardInterrupt:
        print("nnlab: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ValueError, OSError) as e:
        print(f"nnlab {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
