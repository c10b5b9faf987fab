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


# --- scenes that name a model file ([network] model, output, objective, logits) ----------------------------

def _three_outputs(tmp_path: Path) -> tuple[Path, object]:
    """A 2-5-3 tanh network with 3 outputs, as an nnlab .npz in tmp_path/models; returns its path and arrays."""
    import numpy as np

    rng = np.random.default_rng(11)
    arrays = {"W0": rng.standard_normal((5, 2)), "b0": rng.standard_normal(5), "W1": rng.standard_normal((3, 5)),
              "b1": rng.standard_normal(3)}
    (tmp_path / "models").mkdir(exist_ok=True)
    path = tmp_path / "models" / "three.npz"
    np.savez(path, activation=np.array("tanh"), **arrays)
    return path, arrays


def _forward(arrays: dict, x):
    import numpy as np

    return np.tanh(x @ arrays["W0"].T + arrays["b0"]) @ arrays["W1"].T + arrays["b1"]


def test_a_scene_names_a_model_file_and_takes_its_network(tmp_path):
    import numpy as np

    path, arrays = _three_outputs(tmp_path)
    p = write(tmp_path, '[network]\nmodel = "models/three.npz"\nobjective = [1, -1, 0.5]\n'
                        '[train]\nenabled = true\n[target]\nname = "peaks"\n')
    s = load_scene(p)
    assert (s.network.input_dim, s.network.hidden, s.network.activation) == (2, (5,), "tanh")  # the file's
    assert s.network.objective == (1.0, -1.0, 0.5) and s.network.output is None
    assert not s.trains()  # a model file is shown as it is, never trained
    assert s.domain() == ((0.0, 0.0), (1.0, 1.0))  # the network's natural box, not the target's domain
    x = np.random.default_rng(0).uniform(0, 1, (50, 2))
    np.testing.assert_allclose(s.base_network().forward(x), _forward(arrays, x) @ [1, -1, 0.5], rtol=1e-12, atol=1e-12)
    s1 = s.replace("network", output=2, objective=None)
    np.testing.assert_allclose(s1.base_network().forward(x), _forward(arrays, x)[:, 2], rtol=1e-12, atol=1e-12)
    assert s1.model_network().n_outputs == 3 and s1.model_network() is s.model_network()  # read once


def test_a_model_scene_saves_the_model_path_for_its_new_folder(tmp_path):
    _three_outputs(tmp_path)
    s = load_scene(write(tmp_path, '[network]\nmodel = "models/three.npz"\noutput = 1\nlower = [-1, -2]\n'
                                   'upper = [1, 2]\n'))
    (tmp_path / "elsewhere").mkdir()
    saved = save_scene(s, tmp_path / "elsewhere" / "copy.toml")
    text = (tmp_path / "elsewhere" / "copy.toml").read_text()
    assert 'model = "../models/three.npz"' not in text  # not below the new folder: an absolute path
    assert f'model = "{(tmp_path / "models" / "three.npz").as_posix()}"' in text
    assert "hidden" not in text and "activation" not in text and "input_dim" not in text  # the file's
    back = load_scene(tmp_path / "elsewhere" / "copy.toml")
    assert back == saved and back.network.output == 1 and back.domain() == ((-1.0, -2.0), (1.0, 2.0))
    saved_here = save_scene(s, tmp_path / "here.toml")
    assert 'model = "models/three.npz"' in (tmp_path / "here.toml").read_text() and saved_here.network.model == "models/three.npz"
    plain = dumps_scene(Scene())
    assert "model" not in plain and "logits" not in plain and "output" not in plain  # scenes without one: as before


@pytest.mark.parametrize("body,needle", [
    ('output = 1\n', r"\[network\] output = 1 is not allowed without a model file"),
    ('logits = true\n', r"\[network\] logits = true is not allowed without a model file"),
    ('model = "models/three.npz"\noutput = 1\nobjective = [1, 0, 0]\n', r"\[network\] output and objective: choose one"),
    ('model = "models/three.npz"\noutput = 3\n', r"\[network\] output = 3 is not allowed; three.npz has 3 outputs \(0 to 2\)"),
    ('model = "models/three.npz"\noutput = -1\n', r"\[network\] output = -1 is not allowed; expected a value >= 0"),
    ('model = "models/three.npz"\nobjective = [1, 2]\n', r"\[network\] objective = \[1.0, 2.0\] is not allowed; expected 3 numbers"),
    ('model = "models/three.npz"\n', r"\[network\] model three.npz has 3 outputs; choose one with output = K"),
    ('model = "models/three.npz"\noutput = 0\ninput_dim = 4\n', r"\[network\] input_dim = 4 is not allowed; the model file three.npz has 2 inputs"),
    ('model = "models/three.npz"\noutput = 0\nlower = [0, 0, 0]\nupper = [1, 1, 1]\n', r"\[network\] lower = \[0.0, 0.0, 0.0\] is not allowed; expected 2 numbers"),
    ('model = "models/none.onnx"\n', r"\[network\] model: none.onnx: no such model file"),
    ('model = "models/junk.onnx"\n', r"\[network\] model: junk.onnx: "),
    ('model = "models/three.h5"\n', r"\[network\] model: three.h5: unsupported model file suffix '.h5'"),
])
def test_model_fields_are_checked_naming_the_field(tmp_path, body, needle):
    _three_outputs(tmp_path)
    (tmp_path / "models" / "junk.onnx").write_bytes(b"\x00\x01 not a protobuf")
    (tmp_path / "models" / "three.h5").write_bytes(b"")
    assert re_search(needle, refusal(tmp_path, "[network]\n" + body))


def re_search(pattern: str, text: str) -> bool:
    import re

    assert re.search(pattern, text), text
    return True


def test_every_consumer_gets_the_model_files_network(tmp_path, capsys):
    """The training cache, the export plan, the API and `nnlab optimize SCENE` all take the file's chosen output."""
    import json

    import numpy as np

    import nnlab
    from nnlab.cli.main import main
    from nnlab.engine.export.plan import scene_network
    from nnlab.engine.train.cache import trained_network

    path, arrays = _three_outputs(tmp_path)
    p = write(tmp_path, '[network]\nmodel = "models/three.npz"\noutput = 2\nlower = [-1, -1]\nupper = [1, 1]\n')
    x = np.random.default_rng(1).uniform(-1, 1, (40, 2))
    want = _forward(arrays, x)[:, 2]
    for net in (trained_network(load_scene(p)), scene_network(load_scene(p)), nnlab.load_network(p)):
        np.testing.assert_allclose(net.forward(x), want, rtol=1e-12, atol=1e-12)
    assert main(["optimize", "--model", str(p), "--method", "grid", "--json", "--param", "resolution=20"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["value"] == pytest.approx(float(_forward(arrays, np.array(obj["x"]))[2]), abs=1e-12)
    assert all(-1 <= v <= 1 for v in obj["x"])
    assert main(["optimize", "--model", str(p), "--method", "grid", "--json", "--output", "0",
                 "--param", "resolution=20"]) == 0  # --output chooses another output of the scene's file
    obj = json.loads(capsys.readouterr().out)
    assert obj["value"] == pytest.approx(float(_forward(arrays, np.array(obj["x"]))[0]), abs=1e-12)
    (tmp_path / "bad.toml").write_text('[network]\nmodel = "models/none.onnx"\n')
    assert main(["optimize", "--model", str(tmp_path / "bad.toml")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("bad.toml: [network] model: none.onnx: no such model file") and "\n" not in err


def test_a_leaky_slope_is_an_activation_a_scene_can_name(tmp_path):
    import numpy as np

    s = Scene(network=NetworkSpec(hidden=(6,), activation="leaky_relu:0.2"))
    net = s.base_network()
    g = net.preactivations(np.array([[0.3, -0.4]]))[0]
    h = np.where(g > 0, g, 0.2 * g)
    assert net.forward(np.array([0.3, -0.4])) == pytest.approx(float((net.weights[1] @ h[0])[0] + net.biases[1][0]), abs=1e-15)
    assert load_scene(save_scene(s, tmp_path / "l.toml").source).network.activation == "leaky_relu:0.2"
    for bad in ("leaky_relu:0.20", "leaky_relu:1.5", "leaky_relu:x"):
        with pytest.raises(SceneError, match=r"\[network\] activation = .* is not allowed; expected one of relu"):
            NetworkSpec(activation=bad)


def test_an_export_of_a_model_scene_draws_the_files_output(tmp_path):
    import numpy as np

    from nnlab.engine.analysis.surface import grid_points
    from nnlab.engine.export.plan import build_plan, options_for
    from nnlab.engine.export.writers import ExportError

    def drain(gen):
        try:
            while True:
                next(gen)
        except StopIteration as done:
            return done.value

    _, arrays = _three_outputs(tmp_path)
    s = load_scene(write(tmp_path, '[network]\nmodel = "models/three.npz"\nobjective = [0, 2, -1]\n'
                                   '[camera]\nresolution = 12\n'))
    plan = drain(build_plan(s, options_for(s, kind="orbit", frames=2, width=32, height=24)))
    lo, hi = s.domain()
    want = (_forward(arrays, grid_points(lo, hi, 12)) @ [0, 2, -1]).reshape(12, 12)
    np.testing.assert_allclose(plan.frames[0].panels[0].z, want, rtol=1e-6, atol=1e-6)
    for kind in ("gallery", "training"):
        with pytest.raises(ExportError, match=f"the {kind} kind draws networks the scene initialises"):
            drain(build_plan(s, options_for(s, kind=kind, frames=2, width=32, height=24)))


def test_logits_drops_a_trailing_softmax_of_the_scenes_model(tmp_path):
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2)
    W, b = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Add", ["m", "b"], ["z"]),
             helper.make_node("Softmax", ["z"], ["y"], axis=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
                              [numpy_helper.from_array(W, "W"), numpy_helper.from_array(b, "b")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(tmp_path / "soft.onnx"))
    msg = refusal(tmp_path, '[network]\nmodel = "soft.onnx"\noutput = 1\n')
    assert "[network] model: soft.onnx: " in msg and "Softmax" in msg
    s = load_scene(write(tmp_path, '[network]\nmodel = "soft.onnx"\noutput = 1\nlogits = true\n'))
    x = rng.uniform(0, 1, (20, 2))
    np.testing.assert_allclose(s.base_network().forward(x), x @ W[:, 1].astype(np.float64) + np.float64(b[1]),
                               rtol=1e-12, atol=1e-12)  # the logit before the softmax
    assert s.network.hidden == ()  # no hidden layer: a model file may be affine
