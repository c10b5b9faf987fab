"""Scene files: defaults, TOML round trips, and one-line errors that name the field."""
from pathlib import Path

import pytest

from nnlab.engine.scene import (
    InitSpec, NetworkSpec, Scene, SceneError, dumps_scene, load_scene, save_scene, scene_from_dict,
)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_round_trip_keeps_every_field(tmp_path):
    s = Scene(title="t", network=NetworkSpec(hidden=(7, 5), lower=(-1.0, 0.0), upper=(2.0, 3.0)),
              init=InitSpec(scheme="he_normal", seed=9, bias="constant", bias_value=0.25))
    p = tmp_path / "a.toml"
    save_scene(s, p)
    back = load_scene(p)
    assert back == s
    assert back.domain() == ((-1.0, 0.0), (2.0, 3.0))
    assert dumps_scene(back) == dumps_scene(s)


def test_default_domain_is_unit_box():
    assert Scene().domain() == ((0.0, 0.0), (1.0, 1.0))
    assert Scene(network=NetworkSpec(input_dim=3)).domain() == ((0.0,) * 3, (1.0,) * 3)


@pytest.mark.parametrize("text, needle", [
    ("[network]\nhidden = [100, -3]\n", "[network] hidden = -3"),
    ("[network]\nactivation = 'relux'\n", "[network] activation = 'relux'"),
    ("[init]\nscheme = 'nope'\n", "[init] scheme = 'nope'"),
    ("[init]\nseed = 'one'\n", "[init] seed = 'one'"),
    ("[train]\nlr = -1.0\n", "[train] lr = -1.0"),
    ("[train]\nepochs = 1.5\n", "[train] epochs = 1.5"),
    ("[train]\nlearning_rate = 0.1\n", "[train] learning_rate is not a known field"),
    ("[camera]\ncolormap = 'jet'\n", "[camera] colormap = 'jet'"),
    ("[network]\ninput_dim = 2\nlower = [0.0]\nupper = [1.0]\n", "[network] lower = [0.0]"),
    ("[network]\nlower = [1.0, 0.0]\nupper = [0.0, 1.0]\n", "[network] lower = [1.0, 0.0]"),
    ("format_version = 99\n", "format_version = 99"),
    ("colour = 'red'\n", "colour is not a known section"),
    ("network = 3\n", "[network] must be a table"),
    ("[target]\nname = 'expression'\n", "[target] expression = ''"),
])
def test_invalid_fields_give_one_line_errors(tmp_path, text, needle):
    p = write(tmp_path, text)
    with pytest.raises(SceneError) as e:
        load_scene(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(str(p))
    assert needle in msg


def test_malformed_toml_names_file_and_line(tmp_path):
    p = write(tmp_path, "[network\nhidden = 3\n")
    with pytest.raises(SceneError, match=r"not a valid TOML file.*line 1"):
        load_scene(p)


def test_missing_file_is_a_scene_error(tmp_path):
    with pytest.raises(SceneError, match="cannot read scene file"):
        load_scene(tmp_path / "missing.toml")


def test_allowed_values_are_listed():
    with pytest.raises(SceneError, match="xavier_uniform") as e:
        scene_from_dict({"init": {"scheme": "bogus"}})
    assert "torch_default" in str(e.value)


def test_replace_validates_section():
    s = Scene().replace("init", seed=5)
    assert s.init.seed == 5 and s.network == Scene().network
    with pytest.raises(SceneError):
        Scene().replace("network", hidden=())


def test_save_is_atomic_and_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "k.toml"
    save_scene(Scene(title="old"), p)
    import nnlab.engine.scene as sc

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(sc.os, "replace", boom)
    with pytest.raises(OSError):
        save_scene(Scene(title="new"), p)
    assert load_scene(p).title == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["k.toml"]


def test_saved_files_get_ordinary_permissions(tmp_path):
    import os

    p = tmp_path / "perm.toml"
    save_scene(Scene(), p)
    umask = os.umask(0)
    os.umask(umask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~umask
    os.chmod(p, 0o640)
    save_scene(Scene(title="again"), p)
    assert p.stat().st_mode & 0o777 == 0o640
