"""Command line: `nnlab [gui] [SCENE]`, `nnlab train`, `nnlab optimize`, `nnlab export`, `nnlab study`.

User errors (NnlabError, OSError) are one line on stderr and exit code 2; an interrupt is one line and exit code 130;
anything else is a bug and keeps its traceback (exit 1). The subcommand modules hold the work.
"""
from __future__ import annotations

import sys

COMMANDS = ("gui", "train", "optimize", "export", "study")
_NEGATIVE = ("-inf", "-nan", "-infinity")


def _looks_negative(token: str) -> bool:
    """A value such as -5, -5,-5, -.5 or -inf that argparse would take for an option."""
    if len(token) < 2 or token[0] != "-" or token.startswith("--"):
        return False
    return token[1].isdigit() or token[1] == "." or token.split(",")[0].lower() in _NEGATIVE


def join_negative_values(argv: list[str]) -> list[str]:
    """`--lower -5,-5` -> `--lower=-5,-5`: argparse reads a value that starts with '-' and is not a plain number
    as a new option, so values that look like negative numbers are attached to the long option before them."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if (tok.startswith("--") and "=" not in tok and len(tok) > 2 and i + 1 < len(argv)
                and _looks_negative(argv[i + 1])):
            out.append(f"{tok}={argv[i + 1]}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def build_parser():  # -> argparse.ArgumentParser (imported lazily, with the subcommands)
    import argparse
    import importlib

    parser = argparse.ArgumentParser(prog="nnlab", description="A lab for the landscapes of small neural networks.")
    sub = parser.add_subparsers(dest="command")
    for name in COMMANDS:
        mod = importlib.import_module(f"nnlab.cli.{name}")
        mod.add_parser(sub)
    return parser


def _run(argv: list[str]) -> int:
    import importlib

    from nnlab.errors import NnlabError

    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv = ["gui", *argv]  # `nnlab` and `nnlab SCENE` open the app
    from nnlab.interrupts import deferred_interrupts, interrupt_handlers

    with interrupt_handlers(), deferred_interrupts():  # an interrupt inside a C extension's import breaks it
        parser = build_parser()
    args = parser.parse_args(join_negative_values(argv))
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    mod = importlib.import_module(f"nnlab.cli.{args.command}")
    try:
        return int(mod.run(args) or 0)
    except (NnlabError, OSError) as e:
        print(f"nnlab {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, OSError) and e.filename is not None and str(e.filename) not in text:
        text = f"{e.filename}: {text}"
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """Entry point of `nnlab`, `python -m nnlab` and main.py; returns the exit code."""
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt as stop:  # Ctrl+C, or nnlab.interrupts.Interrupted for SIGTERM/SIGHUP too
        signum = getattr(stop, "signum", 2)
        print("nnlab: interrupted" if signum == 2 else f"nnlab: stopped by signal {signum}", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
