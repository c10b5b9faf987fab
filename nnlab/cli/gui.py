"""`nnlab gui [SCENE] [--quit-after S] [--screenshot PNG] [--theme dark|light] [--presenter] [--lecture]`: open the app."""
from __future__ import annotations

import argparse
import os
import sys

from nnlab.bundled import scene_path
from nnlab.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop app (default command)")
    p.add_argument("scene", nargs="?", help="scene file (.toml) or a bundled preset's name (e.g. himmelblau); default: default")
    p.add_argument("--quit-after", type=float, metavar="SECONDS", help="close the window after this long (smoke tests)")
    p.add_argument("--screenshot", metavar="PNG",
                   help="save a screenshot of the window once training is done (or at --quit-after), then quit")
    p.add_argument("--theme", choices=("dark", "light"), help="colour theme (default: the last one used)")
    p.add_argument("--presenter", action="store_true", help="start with the presenter profile (panels hidden)")
    p.add_argument("--lecture", action="store_true", help="start in the Lecture view (key L: no panels, large labels)")


def run(args: argparse.Namespace) -> int:
    if args.quit_after is not None and not args.quit_after >= 0:
        raise UsageError(f"--quit-after {args.quit_after} must be >= 0 seconds")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):
        raise UsageError("no display to open the window on: set DISPLAY (for a virtual screen: xvfb-run nnlab gui)")
    from nnlab.ui.app import run_gui

    scene = str(scene_path(args.scene)) if args.scene else None
    return run_gui(scene, args.quit_after, args.screenshot, args.theme, args.presenter, args.lecture)
