"""Training benchmark: the altered-Himmelblau preset (2-100-100-1) against baselines measured in the same run.

For each run it prints wall time, the time at which validation R² first reached the goal (0.98), and the final
validation R². Baselines get the same data and a time cap:
  - torch defaults: nn.Linear's default init, Adam(lr=1e-3) constant, batch 256, raw inputs and targets;
  - plain SGD: nnlab's own engine with constant-lr SGD without momentum (lr 0.01), batch 256.
The ratio line divides a baseline's time-to-goal by the slowest preset seed's (a lower bound when the baseline
never got there).

    python bench/train.py [--seeds N] [--cap SECONDS] [--quick] [--scene FILE ...]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from nnlab.engine.model.scene import Scene, load_scene  # noqa: E402
from nnlab.engine.train.training import TrainError, TrainProgress, make_dataset, train_to_result  # noqa: E402

GOAL = 0.98


def run_engine(scene: Scene, cap: float | None = None) -> dict:
    """nnlab's training (no surfaces), noting when R² first reached the goal; stops at `cap` seconds if given."""
    t0 = time.perf_counter()
    c0 = time.process_time()
    hit: list[float] = []

    def on_event(ev: object) -> bool:
        if isinstance(ev, TrainProgress) and ev.val_r2 is not None and ev.val_r2 >= GOAL and not hit:
            hit.append(time.perf_counter() - t0)
            if cap is not None:
                return True  # a baseline: time-to-goal is all we want
        if isinstance(ev, TrainError):
            print(f"    {ev.message} ({ev.hint})")
        return cap is not None and time.perf_counter() - t0 > cap

    res = train_to_result(scene, on_event=on_event)
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "goal": hit[0] if hit else None,
            "r2": res.val_r2, "status": res.status, "epochs": res.epochs_run}


def run_torch_defaults(scene: Scene, cap: float) -> dict:
    """What a first PyTorch script does: default init and Adam, raw units, until the goal or the time cap."""
    import torch

    torch.manual_seed(scene.train.seed)
    X, y = make_dataset(scene)
    perm = np.random.default_rng(scene.train.seed + 1).permutation(len(X))
    n_val = int(round(scene.train.val_fraction * len(X)))
    tx = torch.tensor(X[perm[n_val:]], dtype=torch.float32)
    ty = torch.tensor(y[perm[n_val:]], dtype=torch.float32)
    vx = torch.tensor(X[perm[:n_val]], dtype=torch.float32)
    vy = y[perm[:n_val]]
    sizes = [scene.network.input_dim, *scene.network.hidden, 1]
    layers: list[torch.nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [torch.nn.Linear(a, b)] + ([torch.nn.ReLU()] if k < len(sizes) - 2 else [])
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0, c0 = time.perf_counter(), time.process_time()
    goal, r2, epoch = None, float("nan"), 0
    while time.perf_counter() - t0 < cap:
        epoch += 1
        for idx in torch.randperm(len(tx)).split(256):
            opt.zero_grad()
            loss = torch.mean((model(tx[idx])[:, 0] - ty[idx]) ** 2)
            loss.backward()
            opt.step()
        with torch.no_grad():
            pv = model(vx)[:, 0].double().numpy()
        r2 = 1.0 - float(np.sum((pv - vy) ** 2) / np.sum((vy - vy.mean()) ** 2))
        if r2 >= GOAL:
            goal = time.perf_counter() - t0
            break
    return {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0, "goal": goal, "r2": r2,
            "status": "done", "epochs": epoch}


def show(name: str, r: dict) -> None:
    goal = f"{r['goal']:6.2f} s" if r["goal"] is not None else "  never"
    print(f"  {name:34s} wall {r['wall']:6.2f} s  cpu {r['cpu']:6.2f} s  R2>={GOAL} at {goal}  "
          f"final R2 {r['r2']:.4f}  ({r['epochs']} epochs, {r['status']})", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="train/init seeds per scene (default 3)")
    ap.add_argument("--cap", type=float, default=30.0, help="time cap of a baseline run in seconds (default 30)")
    ap.add_argument("--quick", action="store_true", help="one seed, 10 s baseline cap")
    ap.add_argument("--scene", nargs="*", default=[str(ROOT / "resources/scenes/himmelblau.toml")])
    args = ap.parse_args()
    seeds, cap = (1, 10.0) if args.quick else (args.seeds, args.cap)
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; goal: validation R2 >= {GOAL}")
    for path in args.scene:
        base = load_scene(path)
        t = base.train
        print(f"\n{Path(path).name}: {base.network.input_dim}-{'-'.join(map(str, base.network.hidden))}-1, "
              f"{t.samples} samples, {t.optimizer} lr {t.lr} {t.schedule}, batch {t.batch_size}, {t.epochs} epochs")
        runs = []
        for s in range(seeds):
            sc = base.replace("train", seed=t.seed + s).replace("init", seed=base.init.seed + s)
            r = run_engine(sc)
            runs.append(r)
            show(f"nnlab preset (seed {s})", r)
        walls = [r["wall"] for r in runs]
        print(f"  preset: wall {min(walls):.2f}-{max(walls):.2f} s, final R2 "
              f"{min(r['r2'] for r in runs):.4f}-{max(r['r2'] for r in runs):.4f} over {seeds} seed(s)")
        sgd = base.replace("train", optimizer="sgd", momentum=0.0, lr=0.01, schedule="constant", batch_size=256,
                           epochs=1_000_000)
        baselines = [("baseline: torch defaults (Adam 1e-3)", run_torch_defaults(base, cap)),
                     ("baseline: plain SGD, constant lr", run_engine(sgd, cap))]
        for name, r in baselines:
            show(name, r)
        goals = [r["goal"] for r in runs]
        ref = None if None in goals else max(goals)  # conservative: the slowest seed
        for name, r in baselines:
            if ref is None:
                print(f"  ratio vs {name[10:]}: n/a (the preset did not reach the goal)")
            elif r["goal"] is None:
                print(f"  ratio vs {name[10:]}: > {r['wall'] / ref:.1f}x faster to R2 >= {GOAL} (baseline never got there)")
            else:
                print(f"  ratio vs {name[10:]}: {r['goal'] / ref:.1f}x faster to R2 >= {GOAL}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
