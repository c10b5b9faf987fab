"""`nnlab train` in-process: the model file it writes loads back and fits; errors exit 2 with one line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnlab.cli import main
from nnlab.engine.io import load_model

SCENE = """
title = "tiny"
[network]
hidden = [12]
lower = [-1.0, -1.0]
upper = [1.0, 1.0]
[init]
scheme = "he_uniform"
[target]
name = "expression"
expression = "x + 2*y*y"
[train]
enabled = true
samples = 200
epochs = 200
batch_size = 50
lr = 0.02
"""


@pytest.fixture()
def scene(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(SCENE, encoding="utf-8")
    return p


@pytest.mark.parametrize("suffix", [".npz", ".onnx"])
def test_train_writes_a_model_that_fits(scene: Path, tmp_path: Path, capsys, suffix: str) -> None:
    out = tmp_path / f"model{suffix}"
    assert main(["train", str(scene), "--out", str(out), "--epochs", "60"]) == 0
    cap = capsys.readouterr()
    line = cap.out.strip()
    assert line.startswith("validation R2: ")
    r2 = float(line.split(":")[1])
    assert 0.9 < r2 <= 1.0
    assert "epoch 60/60" in cap.err  # progress went to stderr
    net = load_model(out)
    X = np.random.default_rng(1).uniform(-1, 1, (300, 2))
    y = X[:, 0] + 2 * X[:, 1] ** 2
    assert np.mean((net.forward(X) - y) ** 2) < 0.2 * np.var(y)


def test_quiet_prints_only_the_result(scene: Path, tmp_path: Path, capsys) -> None:
    assert main(["train", str(scene), "--out", str(tmp_path / "m.pt"), "--epochs", "2", "--quiet"]) == 0
    cap = capsys.readouterr()
    assert cap.err == "" and cap.out.startswith("validation R2: ")
    assert load_model(tmp_path / "m.pt").widths == (12,)


def test_nothing_to_train_and_bad_suffix_exit_2(scene: Path, tmp_path: Path, capsys) -> None:
    none = tmp_path / "none.toml"
    none.write_text(SCENE.replace('name = "expression"', 'name = "none"').replace('expression = "x + 2*y*y"', ""))
    assert main(["train", str(none), "--out", str(tmp_path / "m.npz")]) == 2
    assert "nothing to train: [target] name = none" in capsys.readouterr().err
    assert main(["train", str(scene), "--out", str(tmp_path / "m.h5")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnlab train: error: ") and "'.h5'" in err and err.count("\n") == 1
    assert not (tmp_path / "m.h5").exists() and not (tmp_path / "m.npz").exists()


def test_divergence_exits_2_without_writing(scene: Path, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SCENE.replace("lr = 0.02", 'lr = 1e6\noptimizer = "sgd"'))
    assert main(["train", str(bad), "--out", str(tmp_path / "m.npz"), "--quiet"]) == 2
    assert "loss became" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()
