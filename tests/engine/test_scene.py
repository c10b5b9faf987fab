"""Scene files: defaults, TOML round trips, and one-line errors that name the field."""
from pathlib import Path

import pytest

from nnlab.engine.model.scene import (
    InitSpec, NetworkSpec, OptimizerSpec, Scene, SceneError, TargetSpec, dumps_scene, load_scene, save_scene,
    scene_from_dict,
)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def refusal(tmp_path: Path, text: str) -> str:
    """The SceneError load_scene gives for a scene file with `text`: one line, starting with the file's name."""
    p = write(tmp_path, text)
    with pytest.raises(SceneError) as e:
        load_scene(p)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(p))
    return msg


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


FIELD_ERRORS = [
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
]


@pytest.mark.parametrize("text, needle", FIELD_ERRORS)
def test_invalid_fields_give_one_line_errors(tmp_path, text, needle):
    assert needle in refusal(tmp_path, text)


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
    import nnlab.engine.model.scene as sc

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


# ----- limits and hostile input (issue 9, items 12, 14, 16) -----

LIMIT_ERRORS = [
    ("[network]\nhidden = [" + ", ".join(["2"] * 10000) + "]\n", "[network] hidden has 10000 layers; the limit is 64"),
    ("[network]\nhidden = [100000, 100000]\n", "[network] hidden = 100000 is not allowed; expected a value <= 4096"),
    ("[network]\nhidden = [4096, 4096, 4096]\n", "weights and biases; the limit is 20,000,000"),
    ("[network]\ninput_dim = 5000\n", "[network] input_dim = 5000 is not allowed; expected a value <= 1000"),
    ("[network]\ninput_dim = 100\n[train]\nsamples = 1000000\n", "samples x input_dim"),
    ("[train]\nsamples = 50000000\n", "[train] samples = 50000000 is not allowed; expected a value <= 1000000"),
    ("[train]\nepochs = 1000000\n", "[train] epochs = 1000000 is not allowed; expected a value <= 100000"),
    ("[train]\nbatch_size = 100000000\n", "[train] batch_size = 100000000 is not allowed"),
    ("[camera]\nresolution = 2000\n", "[camera] resolution = 2000 is not allowed; expected a value <= 1000"),
    ("[optimizer.params]\nstarts = [[[1]]]\n", "[optimizer.params] starts is not allowed as a list"),
]


@pytest.mark.parametrize("text, needle", LIMIT_ERRORS)
def test_sizes_beyond_the_limits_are_refused_naming_field_and_limit(tmp_path, text, needle):
    assert needle in refusal(tmp_path, text)


# ----- specs validate themselves on construction (issue 10) -----

def _constructed(data: dict) -> Scene:
    """A scene built in code from parsed TOML sections, without the file reader."""
    from nnlab.engine.model.scene import SECTIONS

    return Scene(**{k: SECTIONS[k](**v) for k, v in data.items()})


@pytest.mark.parametrize("text, needle", [
    case for case in FIELD_ERRORS + LIMIT_ERRORS
    if "not a known" not in case[1] and not case[0].startswith(("format_version", "network = 3"))])
def test_construction_refuses_what_the_file_reader_refuses_with_the_same_message(tmp_path, text, needle):
    import tomllib

    from_file = refusal(tmp_path, text)
    with pytest.raises(SceneError) as e:
        _constructed(tomllib.loads(text))
    msg = str(e.value)
    assert "\n" not in msg and needle in msg and from_file.endswith(msg)


def test_a_spec_that_cannot_be_loaded_back_cannot_be_built(tmp_path):
    """The issue's case: this scene used to build and save, and then failed to load."""
    with pytest.raises(SceneError, match=r"^\[network\] activation = 'swish' is not allowed; expected one of relu"):
        Scene(network=NetworkSpec(hidden=(), activation="swish"))
    with pytest.raises(SceneError, match=r"^\[network\] hidden = \[\] is not allowed"):
        NetworkSpec(hidden=())
    with pytest.raises(SceneError, match="only defined for input_dim = 2"):
        Scene(network=NetworkSpec(input_dim=5), target=TargetSpec(name="branin"))
    with pytest.raises(SceneError, match=r"^title = 3 is not allowed; expected a string"):
        Scene(title=3)
    with pytest.raises(SceneError, match=r"^\[camera\] must be a CameraSpec"):
        Scene(camera=NetworkSpec())
    ok = Scene(network=NetworkSpec(input_dim=5, hidden=[8]), target=TargetSpec(name="rastrigin"))
    p = tmp_path / "ok.toml"
    save_scene(ok, p)
    assert load_scene(p) == ok  # what builds, loads back


def test_construction_normalises_values_like_the_file_reader():
    import numpy as np

    net = NetworkSpec(hidden=[np.int64(8), 4], lower=[0, -1], upper=[1, 1])
    assert net.hidden == (8, 4) and type(net.hidden[0]) is int
    assert net.lower == (0.0, -1.0) and all(type(v) is float for v in net.lower)
    hash(net)  # a frozen spec with tuples, usable as a cache key
    params = {"starts": 4}
    spec = Scene(optimizer=OptimizerSpec(params=params)).optimizer
    params["starts"] = 99
    assert spec.params == {"starts": 4}  # the spec holds its own copy


def test_replace_of_a_two_d_target_to_five_inputs_is_refused_like_a_file():
    s = Scene(target=TargetSpec(name="himmelblau"))
    with pytest.raises(SceneError, match="target 'himmelblau'.*only defined for input_dim = 2, not 5"):
        s.replace("network", input_dim=5)
    with pytest.raises(SceneError, match=r"\[target\] name = 'expression' is not allowed with input_dim = 3"):
        Scene(target=TargetSpec(name="expression", expression="x")).replace("network", input_dim=3)


def test_largest_admitted_network_is_within_the_parameter_limit():
    from nnlab.engine.model.scene import MAX_HIDDEN_LAYERS, MAX_PARAMS, MAX_WIDTH

    sc = scene_from_dict({"network": {"hidden": [MAX_WIDTH, MAX_WIDTH]}})  # one 4096 x 4096 layer is allowed
    assert sc.network.hidden == (4096, 4096)
    scene_from_dict({"network": {"hidden": [8] * MAX_HIDDEN_LAYERS}})
    sizes = (2, 4096, 4096, 1)
    assert sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])) <= MAX_PARAMS


@pytest.mark.parametrize("section, change, needle", [
    ("train", {"epochs": 10**12}, "[train] epochs = 1000000000000 is not allowed; expected a value <= 100000"),
    ("train", {"epochs": 0}, "[train] epochs = 0"),
    ("train", {"samples": "many"}, "[train] samples = 'many' is not allowed; expected an integer"),
    ("network", {"hidden": (100000,)}, "[network] hidden = 100000"),
    ("camera", {"colormap": "jet"}, "[camera] colormap = 'jet'"),
    ("init", {"seed": -1}, "[init] seed = -1 is not allowed; expected a value >= 0"),
    ("train", {"learning_rate": 0.1}, "[train] learning_rate is not a known field"),
])
def test_replace_applies_the_scene_file_checks_to_every_override(section, change, needle):
    with pytest.raises(SceneError) as e:
        Scene().replace(section, **change)
    assert needle in str(e.value)


def test_replace_converts_numpy_numbers_like_a_scene_file():
    import numpy as np

    s = Scene().replace("train", epochs=np.int64(7), lr=np.float32(0.5))
    assert s.train.epochs == 7 and type(s.train.epochs) is int and type(s.train.lr) is float


def test_utf8_bom_is_accepted(tmp_path):
    p = tmp_path / "bom.toml"
    p.write_bytes("\ufeff".encode("utf-8") + b'title = "with BOM"\n[network]\nhidden = [5]\n')
    s = load_scene(p)
    assert s.title == "with BOM" and s.network.hidden == (5,)


@pytest.mark.parametrize("text", ["a = " + "[" * 100000 + "]" * 100000 + "\n",
                                  "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n"])
def test_deeply_nested_toml_is_a_one_line_scene_error(tmp_path, text):
    p = write(tmp_path, text)
    with pytest.raises(SceneError, match="nested too deeply") as e:
        load_scene(p)
    assert "\n" not in str(e.value) and str(e.value).startswith(str(p))


def test_scene_paths_that_are_not_regular_files_are_refused_before_reading(tmp_path):
    import os

    with pytest.raises(SceneError, match=r"/dev/zero: not a regular file"):
        load_scene("/dev/zero")  # reading it would never end
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    with pytest.raises(SceneError, match="not a regular file"):
        load_scene(fifo)  # opening it must not wait for a writer
    with pytest.raises(SceneError, match="not a regular file|Is a directory"):
        load_scene(tmp_path)


def test_a_huge_scene_file_is_refused_by_its_size(tmp_path):
    p = tmp_path / "huge.toml"
    with open(p, "wb") as fh:  # sparse: costs no disk
        fh.truncate(3_000_000_000)
    with pytest.raises(SceneError, match=r"too large for a scene file; the limit is 1,000,000 bytes"):
        load_scene(p)
