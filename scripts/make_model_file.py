"""Write resources/models/three_outputs.npz, the small model file the bundled scene model_file.toml names.

A 2-24-24-3 ReLU network: three outputs over [-2, 2]^2, so the scene can show one output (output = K) or a linear
objective of them (objective = [1, -1, 0]: where y0 beats y1). The weights are seeded numpy draws (Glorot-uniform
scale), rounded to float32 values so the function is the same in every format nnlab writes, in nnlab's own .npz
layout (W0, b0, ..., activation; io.save_model writes one-output networks only, so the arrays are written here):
the same seed gives the same bytes on every machine. Run from the repository root:

    python scripts/make_model_file.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "resources" / "models" / "three_outputs.npz"
SIZES = (2, 24, 24, 3)
SEED = 20261202


def layers(seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(W, b)] in torch layout (out, in), float32-exact float64 values."""
    rng = np.random.default_rng(seed)
    out = []
    for n_in, n_out in zip(SIZES[:-1], SIZES[1:]):
        limit = np.sqrt(6.0 / (n_in + n_out))
        w = rng.uniform(-limit, limit, size=(n_out, n_in)) * 1.5
        b = rng.uniform(-0.5, 0.5, size=n_out)
        out.append((w.astype(np.float32).astype(np.float64), b.astype(np.float32).astype(np.float64)))
    return out


def main() -> int:
    sys.path.insert(0, str(ROOT))
    import io

    from nnlab.engine.files import atomic_write_bytes
    from nnlab.engine.model.io import read_network

    ls = layers()
    buf = io.BytesIO()
    arrays = {}
    for k, (w, b) in enumerate(ls):
        arrays[f"W{k}"], arrays[f"b{k}"] = w, b
    np.savez(buf, nnlab_format=np.array(1), activation=np.array("relu"), **arrays)  # nnlab's .npz layout, 3 outputs
    OUT.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(OUT, buf.getvalue())
    net = read_network(OUT)  # read back: the file is what nnlab reads
    assert net.n_outputs == 3 and net.widths == SIZES[1:-1] and net.activation == "relu"
    print(f"{OUT.relative_to(ROOT)}: {OUT.stat().st_size} bytes, {SIZES}, relu")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
