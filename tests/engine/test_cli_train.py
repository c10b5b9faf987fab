"""`nnlab train` in-process: the model file it writes loads back and fits; errors exit 2 with one line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnlab.cli.main import main
from nnlab.engine.model.io import load_model

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


# ----- limits and paths checked before training (issue 9, items 12 and 16) -----

def test_epochs_override_obeys_the_scene_limit(scene: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.npz"
    assert main(["train", str(scene), "--out", str(out), "--epochs", "1000000000000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnlab train: error: --epochs 1000000000000: [train] epochs") and err.count("\n") == 1
    assert "<= 100000" in err and "epoch 1/" not in err and not out.exists()


@pytest.mark.parametrize("target, words", [
    ("missing/m.npz", "the folder"),           # folder does not exist
    ("scene_is_a_file.toml/m.npz", "the folder"),  # "folder" is a file
    ("adir.npz", "is a folder"),
])
def test_out_is_checked_before_training(scene: Path, tmp_path: Path, capsys, monkeypatch, target: str,
                                        words: str) -> None:
    import nnlab.engine.train.training as T

    (tmp_path / "scene_is_a_file.toml").write_text("x")
    (tmp_path / "adir.npz").mkdir()
    trained = []
    monkeypatch.setattr(T, "train_to_result", lambda *a, **k: trained.append(1) or pytest.fail("trained"))
    assert main(["train", str(scene), "--out", str(tmp_path / target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnlab train: error: --out ") and words in err and err.count("\n") == 1
    assert trained == []


def test_csv_error_does_not_echo_the_named_file(tmp_path: Path, capsys) -> None:
    private = tmp_path / "notes.txt"
    private.write_text("my bank PIN is 4711\n1,2,3\n")
    sc = tmp_path / "csv.toml"
    sc.write_text(SCENE.replace('name = "expression"', 'name = "csv"\ncsv = "notes.txt"')
                  .replace('expression = "x + 2*y*y"', ""))
    assert main(["train", str(sc), "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert "notes.txt line 1" in err and "4711" not in err and "PIN" not in err


def test_csv_dev_zero_is_one_line(tmp_path: Path, capsys) -> None:
    sc = tmp_path / "zero.toml"
    sc.write_text(SCENE.replace('name = "expression"', 'name = "csv"\ncsv = "/dev/zero"')
                  .replace('expression = "x + 2*y*y"', ""))
    assert main(["train", str(sc), "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert err == "nnlab train: error: /dev/zero: not a regular file; expected a CSV file\n"


def test_scene_with_utf8_bom_trains(tmp_path: Path, capsys) -> None:
    sc = tmp_path / "bom.toml"
    sc.write_bytes(b"\xef\xbb\xbf" + SCENE.encode("utf-8"))
    assert main(["train", str(sc), "--out", str(tmp_path / "m.npz"), "--epochs", "2", "--quiet"]) == 0
    assert capsys.readouterr().out.startswith("validation R2: ")


def test_a_bundled_preset_name_trains(tmp_path, monkeypatch):
    """`nnlab train peaks_tanh --out F` from any folder trains the bundled preset (and records its activation)."""
    from nnlab.engine.model.io import load_model

    monkeypatch.chdir(tmp_path)
    assert main(["train", "peaks_tanh", "--out", "net.npz", "--epochs", "2", "--quiet"]) == 0
    net = load_model(tmp_path / "net.npz")
    assert net.activation == "tanh" and net.input_dim == 2
