"""`nnlab gui`: placeholder until its issue lands."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="(not yet available)")
    p.add_argument("rest", nargs="*")


def run(args: argparse.Namespace) -> int:
    raise ValueError("'nnlab gui' is not available yet")
