"""`nnlab train SCENE --out FILE`: fit the scene's network headless and save it (.pt, .npz or .onnx)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a scene's network on its target and save the model",
                       description="Train the scene's network on its [target] with its [train] settings, print the "
                                   "final R² and write the model (.pt state_dict, .npz arrays or .onnx).")
    p.add_argument("scene", help="scene file (.toml) or a bundled preset's name")
    p.add_argument("--out", required=True, metavar="FILE", help="model file to write: .pt, .npz or .onnx")
    p.add_argument("--epochs", type=int, metavar="N", help="override [train] epochs (within the limits of a scene file)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from nnlab.engine.model.io import SUFFIXES
    from nnlab.engine.model.scene import load_scene
    from nnlab.errors import NnlabError, SceneError, UsageError

    out = check_output_path(Path(args.out), SUFFIXES)  # before training: a bad --out must not cost a training run
    from nnlab.bundled import scene_path

    scene = load_scene(scene_path(args.scene))  # a bundled preset's name stands for its scene
    if scene.target.name == "none":
        raise NnlabError("nothing to train: [target] name = none")
    if args.epochs is not None:
        try:  # the scene's own limits apply to the override
            scene = scene.replace("train", epochs=args.epochs)
        except SceneError as e:
            raise UsageError(f"--epochs {args.epochs}: {e}") from None

    from nnlab.engine.model.io import save_model
    from nnlab.engine.train.training import TrainError, train_to_result

    errors: list[TrainError] = []
    show = _Progress(sys.stderr, quiet=args.quiet)

    def on_event(ev: object) -> None:
        if isinstance(ev, TrainError):
            errors.append(ev)
        else:
            show(ev)

    result = train_to_result(scene, on_event=on_event)
    show.close()
    if result.status == "diverged":
        e = errors[0] if errors else TrainError("training diverged", "lower the learning rate")
        raise NnlabError(f"{e.message} ({e.hint}); no model written")
    save_model(result.snapshot, out)
    label = "validation R2" if scene.train.val_fraction > 0 else "training R2 (val_fraction = 0)"
    print(f"{label}: {result.val_r2:.4f}")
    if not args.quiet:
        print(f"wrote {out} ({result.epochs_run} epochs, {result.seconds:.1f} s)", file=sys.stderr)
    return 0


def check_output_path(out: Path, suffixes: tuple[str, ...]) -> Path:
    """`out` if a model file can be written there: a known suffix, not a folder, in an existing writable folder
    (the file is written beside itself, then renamed, so the folder must be writable); else a UsageError."""
    from nnlab.errors import UsageError

    if out.suffix.lower() not in suffixes:
        raise UsageError(f"--out {out}: unsupported suffix {out.suffix or '(none)'!r}; expected {', '.join(suffixes)}")
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; expected a file name ending in {', '.join(suffixes)}")
    folder = out.parent
    if not folder.is_dir():
        raise UsageError(f"--out {out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: the folder {folder} is not writable")
    if out.exists() and not os.access(out, os.W_OK):
        raise UsageError(f"--out {out}: the file exists and is read-only")
    return out


class _Progress:
    """One updating line on a terminal; on a pipe, a line every tenth of the run."""

    def __init__(self, stream, quiet: bool) -> None:
        self.stream, self.quiet = stream, quiet
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_tenth, self.width = -1, 0

    def __call__(self, ev) -> None:
        if self.quiet:
            return
        r2 = "-" if ev.val_r2 is None else f"{ev.val_r2:.4f}"
        text = f"epoch {ev.epoch}/{ev.epochs}  loss {ev.train_loss:.4g}  R2 {r2}"
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
            self.stream.flush()
        else:
            tenth = ev.epoch * 10 // max(ev.epochs, 1)
            if tenth != self.last_tenth:
                self.last_tenth = tenth
                self.stream.write(text + "\n")

    def close(self) -> None:
        if self.tty and not self.quiet and self.width:
            self.stream.write("\n")
            self.stream.flush()
