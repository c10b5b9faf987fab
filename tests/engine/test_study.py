"""Studies: config validation, the CSV schema, summary and plots, resume from the cache, the CLI."""
import csv
import io

import pytest

from nnlab.cli import main as cli
from nnlab.engine.study import spec as S
from nnlab.engine.study import report as R
from nnlab.engine.study.run import Progress, run_study

TINY = {
    "title": "tiny study",
    "study": {"methods": ["random"], "senses": ["max"], "time_limit": 0.2, "exact_time_limit": 10.0,
              "samples": 300, "starts": 20, "steps": 40},
    "networks": [{"label": "random", "inits": ["xavier_uniform", "torch_default"], "targets": ["none"],
                  "dims": [2], "hidden": [[6, 6]], "seeds": 2}],
}
TINY_TOML = """
title = "tiny study"
[study]
methods = ["random"]
senses = ["max"]
time_limit = 0.2
samples = 300
starts = 20
steps = 40
[[networks]]
inits = ["xavier_uniform"]
dims = [2]
hidden = [[6, 6]]
seeds = 1
"""


def read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("change, words", [
    ({"study": {"methods": ["nope"]}}, "[study] methods = 'nope'"),
    ({"study": {"time_limit": -1}}, "[study] time_limit"),
    ({"study": {"colour": 1}}, "colour is not a known field"),
    ({"networks": [{"dims": [2, "x"]}]}, "#1 dims"),
    ({"networks": [{"inits": ["bogus"]}]}, "#1 inits = 'bogus'"),
    ({"networks": [{"hidden": [[0]]}]}, "#1 hidden"),
    ({"networks": [{"seeds": [-1]}]}, "#1 seeds"),
    ({"networks": [{"train": {"epochs": 0}}]}, "#1 train: [train] epochs"),
    ({"networks": []}, "[[networks]] is missing"),
    ({"bogus": 1}, "bogus is not a known section"),
])
def test_bad_configs_are_one_line_errors(change, words):
    data = {**TINY, **change}
    with pytest.raises(S.StudyError) as err:
        S.study_from_dict(data)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_grid_is_the_cross_product_and_keys_are_stable():
    cfg = S.study_from_dict(TINY)
    assert len(cfg.networks) == 4  # 2 inits x 1 target x 1 dim x 1 width x 2 seeds
    net = cfg.networks[0]
    assert [(t.kind, t.sense) for t in cfg.tasks(net)] == [("landscape", "max"), ("exact", "max"), ("exact", "min"),
                                                          ("method", "max")]
    assert net.key() == S.study_from_dict(TINY).networks[0].key()
    assert len({n.key() for n in cfg.networks}) == 4
    other = S.study_from_dict({**TINY, "study": {**TINY["study"], "time_limit": 0.3}})
    assert cfg.tasks(net)[3].key() != other.tasks(net)[3].key()  # the method budget is part of its cache key
    assert cfg.tasks(net)[0].key() == other.tasks(net)[0].key()


def test_study_writes_csv_summary_and_plots(tmp_path):
    cfg = S.study_from_dict(TINY)
    err = io.StringIO()
    outcome = run_study(cfg, tmp_path, workers=0, stream=err)
    assert outcome.total == 16 and outcome.computed == 16 and not outcome.failures
    assert "16/16" in err.getvalue() and "ETA" in err.getvalue()
    rows = read_csv(tmp_path / "results.csv")
    with open(tmp_path / "results.csv") as fh:
        assert fh.readline().strip().split(",") == R.COLUMNS
    assert len(rows) == 4 * 3  # exact max, exact min, random max per network
    for r in rows:
        assert r["method"] in ("exact", "random") and r["dim"] == "2" and r["hidden"] == "6x6"
        assert r["location"] in ("vertex", "face", "interior")
        assert float(r["gap"]) >= 0.0 and float(r["gap_best"]) >= 0.0 and float(r["scale"]) > 0
        assert r["proven"] == "True" and r["gap_vs"] == "optimum"  # 2-D regions prove every optimum
        x = [float(c) for c in r["x"].split(";")]
        assert len(x) == 2 and all(0.0 <= c <= 1.0 for c in x)
        if r["method"] == "exact":
            assert float(r["gap"]) == 0.0 and r["budget"] == "" and r["repeat"] == ""
        else:
            assert r["budget"] == "none" and r["repeat"] == "0" and int(r["run_seed"]) == S.run_seed(int(r["seed"]), "random", 0)
    for r in rows:  # zero-bias Xavier nets: f(0) = 0, so the max is >= 0 and the min <= 0
        if r["init"] == "xavier_uniform" and r["method"] == "exact":
            assert r["zero_bias"] == "True"
            assert (float(r["value"]) >= 0) if r["sense"] == "max" else (float(r["value"]) <= 0)
    md = (tmp_path / "summary.md").read_text()
    assert "# tiny study" in md
    assert "| xavier_uniform | 2 | 6x6 | 2 |" in md and "| torch_default | 2 | 6x6 | 2 |" in md
    for name in ("extrema_location.png", "heuristic_gap.png", "landscape.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_interrupted_study_resumes_and_rerun_is_instant(tmp_path, monkeypatch):
    cfg = S.study_from_dict(TINY)
    real = S.run_task
    calls = []

    def interrupt_after(k):
        def fake(task, w, b, activation="relu"):
            if len(calls) == k:
                raise KeyboardInterrupt
            calls.append(task.key())
            return real(task, w, b, activation)
        return fake

    monkeypatch.setattr(S, "run_task", interrupt_after(5))
    with pytest.raises(KeyboardInterrupt):
        run_study(cfg, tmp_path, workers=0, progress=False)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 5
    first = list(calls)
    calls.clear()
    monkeypatch.setattr(S, "run_task", interrupt_after(10**6))
    outcome = run_study(cfg, tmp_path, workers=0, progress=False)
    assert len(calls) == 11 and not set(calls) & set(first)  # only the 16 - 5 missing tasks
    assert outcome.cached == 5 and outcome.computed == 11
    calls.clear()
    again = run_study(cfg, tmp_path, workers=0, progress=False)
    assert calls == [] and again.cached == 16 and again.computed == 0
    assert len(read_csv(tmp_path / "results.csv")) == 12


def test_gap_and_vertex_columns_from_hand_made_results():
    cfg = S.study_from_dict(TINY)
    net = cfg.networks[0]
    land, emax, emin, rnd = cfg.tasks(net)
    results = {
        land: {"vertex_max": 1.0, "vertex_min": -1.0, "sample_max": 1.5, "sample_min": -0.5, "local_max_best": 2.0,
               "local_min_best": -1.0, "n_samples": 300, "local_max": 2, "sample_std": 0.5, "starts": 20},
        emax: {"value": 1.8, "proven": False, "status": "time_limit", "bound": 2.6, "location": "face", "n_at_bound": 1},
        emin: {"value": -2.0, "proven": True, "status": "optimal", "bound": -2.0, "location": "vertex", "n_at_bound": 2},
        rnd: {"value": 1.2, "x": [0.25, 0.5], "status": "work_limit", "location": "interior", "n_at_bound": 0,
              "work": {"forward": 300, "lp": 0, "gradient_steps": 0}},
    }
    rows = {(r["method"], r["sense"]): r for r in R.network_rows(cfg, net, results, {})}
    ex, rn, mn = rows["exact", "max"], rows["random", "max"], rows["exact", "min"]
    assert ex["scale"] == rn["scale"] == 0.5 and ex["best_known"] == 2.0 and ex["local_starts"] == 20
    # the max is not proven: gaps are against the exact method's bound 2.6, and say so
    assert (ex["reference"], ex["proven"], ex["gap_vs"]) == (2.6, False, "bound")
    assert ex["gap"] == pytest.approx(0.8 / 0.5) and rn["gap"] == pytest.approx(1.4 / 0.5)
    assert ex["gap_best"] == pytest.approx(0.2 / 0.5)  # the local search beat the unproven incumbent
    assert rn["gap_best"] == pytest.approx(0.8 / 0.5)
    # the min is proven: the reference is the optimum
    assert (mn["reference"], mn["proven"], mn["gap_vs"], mn["gap"]) == (-2.0, True, "optimum", 0.0)
    assert rn["x"] == "0.25;0.5" and (rn["work_forward"], rn["work_lp"], rn["work_gradient_steps"]) == (300, 0, 0)
    assert rn["status"] == "work_limit" and rn["budget"] == "none" and rn["budget_forward"] is None
    assert rn["beats_vertices"] is True and mn["beats_vertices"] is True and ex["proven"] is False
    del results[emax]  # no exact max at all: the gap is against the best known value, and says so
    rn = {(r["method"], r["sense"]): r for r in R.network_rows(cfg, net, results, {})}["random", "max"]
    assert (rn["reference"], rn["gap_vs"], rn["gap"]) == (2.0, "best_known", pytest.approx(1.6))


def test_progress_line_counts_and_estimates():
    out = io.StringIO()
    p = Progress(10, done=4, stream=out)
    assert "4/10" in p.line() and "ETA ?" in p.line()
    p.update(3, force=True)
    assert "7/10" in out.getvalue() and "70%" in out.getvalue() and "ETA ?" not in out.getvalue()


def test_cli_runs_a_study_and_reports_bad_files(tmp_path, capsys):
    cfg = tmp_path / "s.toml"
    cfg.write_text(TINY_TOML)
    assert cli.main(["study", str(cfg), "--out", str(tmp_path / "o"), "--workers", "0", "--quiet"]) == 0
    assert len(read_csv(tmp_path / "o" / "results.csv")) == 3
    assert "results.csv" in capsys.readouterr().out
    cfg.write_text(TINY_TOML.replace('"random"', '"teleport"'))
    assert cli.main(["study", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nnlab study: error:") and "teleport" in err and "\n" not in err


# ----- settings checked before any work; limits; hostile files (issue 9, items 12, 14, 16) -----

def _with_study(**study):
    return {**TINY, "study": {**TINY["study"], **study}}


@pytest.mark.parametrize("data, words", [
    (_with_study(methods=["walk"], params={"walk": {"samples": 0}}), "[study.params.walk] with dims = 2: parameter 'samples' must be > 0"),
    (_with_study(methods=["gradient"], params={"gradient": {"optimizer": "bogus"}}), "[study.params.gradient] with dims = 2: optimizer 'bogus'"),
    (_with_study(methods=["sampling"], params={"sampling": {"rho": 3.0}}), "[study.params.sampling]"),
    ({**_with_study(methods=["grid"]), "networks": [{"dims": [10], "hidden": [[4]]}]}, "[study] methods = 'grid' with dims = 10"),
    ({**_with_study(methods=["regions"]), "networks": [{"dims": [5], "hidden": [[4]]}]}, "[study] methods = 'regions' with dims = 5"),
    (_with_study(exact_method="exact", params={}, methods=["random"]) | {"networks": [{"dims": [2]}]}, None),
])
def test_every_task_setting_is_checked_when_the_study_is_loaded(data, words):
    """A parameter a method refuses when it starts used to fail each task at run time, minutes into the study."""
    if words is None:
        S.study_from_dict(data)
        return
    with pytest.raises(S.StudyError) as err:
        S.study_from_dict(data)
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("block, words", [
    ({"hidden": [[100000]]}, "[network] hidden = 100000 is not allowed; expected a value <= 4096"),
    ({"hidden": [[8] * 100]}, "hidden has 100 layers; the limit is 64"),
    ({"hidden": [[4096, 4096, 4096]]}, "the limit is 20,000,000"),
    ({"seeds": 10**9}, "#1 seeds = 1000000000 is not allowed; the limit is 10000"),
    ({"train": {"samples": 10**8}}, "[train] samples = 100000000"),
    ({"targets": ["rastrigin"], "dims": [100], "train": {"samples": 500000}}, "samples x input_dim"),
])
def test_network_blocks_obey_the_scene_limits(block, words):
    data = {**TINY, "networks": [{**TINY["networks"][0], **block}]}
    with pytest.raises(S.StudyError) as err:
        S.study_from_dict(data)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_study_settings_have_limits():
    for key, value in (("samples", 10**9), ("starts", 10**7), ("time_limit", 1e9), ("steps", 10**8)):
        with pytest.raises(S.StudyError, match=rf"\[study\] {key} = .* the limit is"):
            S.study_from_dict(_with_study(**{key: value}))


def test_study_files_with_bom_nesting_or_not_regular(tmp_path):
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + TINY_TOML.encode())
    assert S.load_study(bom).title == "tiny study"
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 50000 + "]" * 50000 + "\n")
    with pytest.raises(S.StudyError, match="nested too deeply"):
        S.load_study(deep)
    with pytest.raises(S.StudyError, match="/dev/zero: not a regular file"):
        S.load_study("/dev/zero")


def test_cli_refuses_a_bad_parameter_before_any_work(tmp_path, capsys):
    cfg = tmp_path / "s.toml"
    cfg.write_text(TINY_TOML + "[study.params.random]\nsamples = -5\n")
    out = tmp_path / "never"
    assert cli.main(["study", str(cfg), "--out", str(out), "--workers", "0", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nnlab study: error: ") and "[study.params.random]" in err and err.count("\n") == 1
    assert not out.exists()  # nothing started: no cache, no results


# ----- issue 13: work budgets, both senses, repeats, networks from files and torch's own seeding, real data -----

import numpy as np  # noqa: E402

from nnlab.engine.study import datasets as D  # noqa: E402

HAS_CAPS = bool(S.method_caps("random"))  # the heuristics' max_forward / max_lp (work budgets)


def _study(networks=None, **study):
    return {"title": "t", "study": {"methods": ["random"], "time_limit": 30.0, "samples": 200, "starts": 10,
                                    "steps": 20, **study},
            "networks": networks or [{"inits": ["xavier_uniform"], "dims": [2], "hidden": [[6, 6]], "seeds": 1}]}


def test_budgets_repeats_and_both_senses_make_the_tasks():
    cfg = S.study_from_dict(_study(methods=["random", "grid"], budgets=[{"forward": 100, "lp": 3}, {"forward": 1000}],
                                   repeats=3, params={"grid": {"resolution": 5}}))
    assert cfg.senses == ("max", "min")  # both senses by default
    tasks = [t for t in cfg.tasks(cfg.networks[0]) if t.kind == "method"]
    rnd = [t for t in tasks if t.method == "random"]
    assert len(rnd) == 2 * 2 * 3 and len([t for t in tasks if t.method == "grid"]) == 2 * 2  # grid: no repeats
    assert {t.budget for t in rnd} == {(("forward", 100), ("lp", 3)), (("forward", 1000),)}
    assert sorted({t.repeat for t in rnd}) == [0, 1, 2]
    seeds = {t.repeat: t.seed for t in rnd}
    assert len(set(seeds.values())) == 3 and seeds[1] == S.run_seed(0, "random", 1)
    assert S.run_seed(0, "random", 1) == S.run_seed(0, "random", 1) != S.run_seed(0, "walk", 1) != S.run_seed(1, "random", 1)
    assert len({t.key() for t in tasks}) == len(tasks)  # every budget and repeat is its own cached task
    assert S.budget_label(rnd[0].budget) == "forward 100, lp 3" and S.budget_label(()) == "none"
    exact_as_method = S.study_from_dict(_study(methods=["random", "regions"], budgets=[{"forward": 100}], repeats=2))
    regions = [t for t in exact_as_method.tasks(exact_as_method.networks[0]) if t.method == "regions"]
    assert len(regions) == 2 and dict(regions[0].settings) == {}  # deterministic, no caps: one run per sense
    assert exact_as_method.uncapped() == ["regions"] + ([] if HAS_CAPS else ["random"])
    if HAS_CAPS:
        assert dict(rnd[0].settings) == {"max_forward": 100, "max_lp": 3}
        assert dict([t for t in rnd if t.budget == (("forward", 1000),)][0].settings) == {"max_forward": 1000}
        assert cfg.uncapped() == []


@pytest.mark.parametrize("budgets, words", [
    ([], "[study] budgets has 0 entries"),
    ([{"forward": 0}], "[study] budgets #1 forward = 0"),
    ([{"nodes": 5}], "[study] budgets #1 nodes is not a known field"),
    ([{}], "[study] budgets #1 = {}"),
    ([{"forward": 10}, {"forward": 10}], "the same budget twice"),
    (["x"], "[study] budgets #1 = 'x'"),
])
def test_bad_budgets_are_one_line_errors(budgets, words):
    with pytest.raises(S.StudyError) as err:
        S.study_from_dict(_study(budgets=budgets))
    assert words in str(err.value) and "\n" not in str(err.value)


@pytest.mark.skipif(not HAS_CAPS, reason="the heuristics have no work caps (max_forward) yet")
def test_a_work_budget_caps_the_run_and_its_work_is_in_the_csv(tmp_path):
    cfg = S.study_from_dict(_study(senses=["max"], budgets=[{"forward": 50}, {"forward": 400}], repeats=2,
                                   time_limit=60.0))
    run_study(cfg, tmp_path, workers=0, progress=False)
    rows = [r for r in read_csv(tmp_path / "results.csv") if r["method"] == "random"]
    assert len(rows) == 2 * 2
    for r in rows:
        assert r["status"] == "work_limit" and int(r["work_forward"]) == int(r["budget_forward"])
        assert r["budget"] == f"forward {r['budget_forward']}"
    by = {(r["budget_forward"], r["repeat"]): float(r["value"]) for r in rows}
    assert by["400", "0"] >= by["50", "0"]  # the same seed: the first 50 points are among the first 400
    with pytest.raises(S.StudyError, match="caps come from the budgets"):
        S.study_from_dict(_study(budgets=[{"forward": 50}], params={"random": {"max_forward": 10}}))


def test_torch_seeded_networks_are_torch_s_own_construction_bit_for_bit():
    """Tong, Cai & Serra built their instances as torch.manual_seed(seed); nn.Sequential(nn.Linear(...), ...)."""
    import torch
    from torch import nn

    for seed in (50, 54):
        torch.manual_seed(seed)
        ref = nn.Sequential(nn.Linear(10, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 1))
        snap = S.torch_seeded_snapshot(10, (100, 100), seed)
        mods = [m for m in ref if isinstance(m, nn.Linear)]
        assert len(snap.weights) == 3
        for m, w, b in zip(mods, snap.weights, snap.biases):
            assert np.array_equal(w, m.weight.detach().double().numpy())
            assert np.array_equal(b, m.bias.detach().double().numpy())
        x = torch.rand(7, 10, generator=torch.Generator().manual_seed(1))
        assert np.allclose(snap.forward(x.double().numpy()), ref.double()(x.double()).detach().numpy()[:, 0],
                           rtol=0, atol=1e-12)
    # the registered torch_default init draws the same distribution with numpy's generator: other weights
    cfg = S.study_from_dict(_study([{"inits": ["torch_default", "torch_seeded"], "dims": [10], "hidden": [[100]],
                                     "seeds": [50]}]))
    numpy_net, torch_net = (S.build_network(n) for n in cfg.networks)
    assert torch_net["weights"][0].shape == numpy_net["weights"][0].shape == (100, 10)
    assert not np.array_equal(torch_net["weights"][0], numpy_net["weights"][0])
    assert np.array_equal(torch_net["weights"][0], S.torch_seeded_snapshot(10, (100,), 50).weights[0])
    assert cfg.networks[1].box() == ((0.0,) * 10, (1.0,) * 10)
    with pytest.raises(S.StudyError, match="not allowed with init torch_seeded"):
        S.study_from_dict(_study([{"init": "torch_seeded", "bias": "zero"}]))


def test_networks_from_files_with_an_output_and_a_box(tmp_path):
    from nnlab.engine.model.io import save_model
    from nnlab.engine.model.network import snapshot_from_layers

    rng = np.random.default_rng(0)
    one = snapshot_from_layers([(rng.normal(size=(5, 3)), rng.normal(size=5)), (rng.normal(size=(1, 5)), np.zeros(1))])
    two = [(rng.normal(size=(4, 3)), rng.normal(size=4)), (rng.normal(size=(2, 4)), np.zeros(2))]
    save_model(one, tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", W0=two[0][0], b0=two[0][1], W1=two[1][0], b1=two[1][1], activation=np.array("relu"))
    block = {"label": "published", "source": "files", "files": ["a.npz"], "lower": -1.0, "upper": [1.0, 2.0, 3.0]}
    cfg = S.study_from_dict(_study([block], methods=["random"], senses=["max"]), base=tmp_path)
    net = cfg.networks[0]
    assert (net.dim, net.hidden, net.kind, net.box()) == (3, (5,), "file", ((-1.0,) * 3, (1.0, 2.0, 3.0)))
    run_study(cfg, tmp_path / "out", workers=0, progress=False)
    rows = read_csv(tmp_path / "out" / "results.csv")
    assert {r["group"] for r in rows} == {"published"} and {r["source"] for r in rows} == {"files"}
    for r in rows:
        x = np.array([float(c) for c in r["x"].split(";")])
        assert float(r["value"]) == pytest.approx(float(one.forward(x[None])[0]), abs=1e-9)
        assert np.all(x >= -1.0) and np.all(x <= [1.0, 2.0, 3.0])
    # a file with two outputs needs output (or objective); the key follows the file's content, not its path
    with pytest.raises(S.StudyError, match="#1 files: b.npz"):
        S.study_from_dict(_study([{**block, "files": ["b.npz"]}]), base=tmp_path)
    two_out = S.study_from_dict(_study([{"source": "files", "files": ["b.npz"], "output": 1}]), base=tmp_path)
    assert two_out.networks[0].output == 1
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.npz").write_bytes((tmp_path / "a.npz").read_bytes())
    moved = S.study_from_dict(_study([{**block, "files": ["sub/a.npz"]}]), base=tmp_path)
    assert moved.networks[0].key() == net.key()
    for bad, words in (({"files": []}, "files = []"), ({"lower": [0, 1]}, "lower = [0, 1]"),
                       ({"files": ["nope.npz"]}, "nope.npz: no such model file"), ({"dims": [2]}, "dims is not used"),
                       ({"lower": 5.0}, "lower < upper")):
        with pytest.raises(S.StudyError) as err:
            S.study_from_dict(_study([{**block, **bad}]), base=tmp_path)
        assert words in str(err.value) and "\n" not in str(err.value)


TRAINED_BLOCK = {"label": "trained", "inits": ["torch_default"], "targets": ["styblinski_tang"], "dims": [2],
                 "hidden": [[6, 6]], "seeds": 1, "train": {"samples": 200, "epochs": 3}}


def test_trained_weights_are_saved_and_reused_from_another_folder(tmp_path, monkeypatch):
    first = S.study_from_dict(_study([TRAINED_BLOCK], senses=["max"]))
    run_study(first, tmp_path / "a", workers=0, progress=False)
    assert len(list((tmp_path / "a" / "cache" / "nets").glob("*.npz"))) == 1
    rows_a = read_csv(tmp_path / "a" / "results.csv")

    def no_training(net):
        raise AssertionError("the saved weights should have been used")

    monkeypatch.setattr(S, "build_network", no_training)
    again = S.study_from_dict(_study([TRAINED_BLOCK], senses=["max"], weights="a"), base=tmp_path)
    out = run_study(again, tmp_path / "b", workers=0, progress=False)
    assert not out.failures and len(list((tmp_path / "b" / "cache" / "nets").glob("*.npz"))) == 1
    rows_b = read_csv(tmp_path / "b" / "results.csv")
    strip = lambda rows: [{k: v for k, v in r.items() if k not in R.TIMING_COLUMNS} for r in rows]  # noqa: E731
    assert strip(rows_a) == strip(rows_b) and rows_a[0]["val_r2"] != ""
    with pytest.raises(S.StudyError, match="weights = 'missing': no such folder"):
        S.study_from_dict(_study(weights="missing"), base=tmp_path)


def test_a_network_trained_on_the_diabetes_data_set():
    pytest.importorskip("sklearn")
    X, y = D.load("dataset:diabetes")
    assert X.shape == (442, 10) and y.shape == (442,) and X.min() == 0.0 and X.max() == 1.0
    cfg = S.study_from_dict(_study([{"label": "diabetes", "inits": ["torch_default"], "targets": ["dataset:diabetes"],
                                     "hidden": [[8]], "train": {"epochs": 30, "lr": 0.01, "batch_size": 32}}]))
    net = cfg.networks[0]
    assert (net.dim, net.kind, net.box()) == (10, "trained", ((0.0,) * 10, (1.0,) * 10))
    built = S.build_network(net)
    assert 0.0 < built["val_r2"] <= 1.0  # a real fit of the held-out patients (a linear model reaches ~0.5)
    from nnlab.engine.model.network import NetSnapshot

    pred = NetSnapshot(tuple(built["weights"]), tuple(built["biases"])).forward(X)
    assert 25.0 <= float(np.median(pred)) <= 346.0  # in the target's own units
    with pytest.raises(S.StudyError, match="has 10 inputs; dims = 5"):
        S.study_from_dict(_study([{"targets": ["dataset:diabetes"], "dims": [5]}]))


def test_summary_leads_with_the_ranking_flips_between_random_and_trained(tmp_path):
    cfg = S.study_from_dict(_study([{"inits": ["xavier_uniform"], "dims": [2], "hidden": [[6, 6]], "seeds": 2},
                                    TRAINED_BLOCK], methods=["random", "lhs"], budgets=[{"forward": 64}], repeats=2))
    run_study(cfg, tmp_path, workers=0, progress=False)
    md = (tmp_path / "summary.md").read_text()
    heads = [ln for ln in md.splitlines() if ln.startswith("## ")]
    assert heads[0] == "## Where a ranking flips and where it does not"
    assert "### random vs all trained networks" in md and "| max | forward 64 | random vs lhs |" in md
    assert "| min | forward 64 | random vs lhs |" in md and "standard deviation of f" in md
    assert "### budget forward 64, min" in md and "bootstrap over networks x repeats" in md


def test_the_bundled_studies_load():
    from nnlab.bundled import study_path

    quick = S.load_study(study_path("quick"))
    assert quick.senses == ("max", "min") and len(quick.budgets) == 2 and quick.repeats == 3
    assert {n.kind for n in quick.networks} == {"random", "trained"} and {n.dim for n in quick.networks} == {2, 5}
    conj = S.load_study(study_path("conjecture"))
    assert conj.senses == ("max", "min") and len(conj.budgets) >= 2 and conj.repeats >= 5
    assert "dataset:diabetes" in {n.target for n in conj.networks} and "torch_seeded" in {n.init for n in conj.networks}
    sweep = S.load_study(study_path("sweep"))
    assert {n.dim for n in sweep.networks} == {20, 50, 100} and {len(n.hidden) for n in sweep.networks} == {1, 2, 3}
    assert not any(n.trained for n in sweep.networks) and sweep.budgets == conj.budgets
    small = S.load_study(study_path("sweep_small"))
    assert {n.dim for n in small.networks} == {20, 50, 100} and {len(n.hidden) for n in small.networks} == {1, 2, 3}
    assert not any(n.trained for n in small.networks) and small.budgets == conj.budgets


def test_the_conjecture_study_ships_every_net_it_would_train():
    """docs/study/ must repeat on any machine: every trained or torch-seeded net of conjecture.toml is read from
    resources/studies/nets ([study] weights), so a rerun trains nothing (training differs across machines)."""
    from nnlab.bundled import study_path
    from nnlab.engine.study.cache import load_saved_net

    conj = S.load_study(study_path("conjecture"))
    saved = [n for n in conj.networks if S.saved_by_study(n)]
    assert conj.weights and len(saved) == 75
    missing = [n.key() for n in saved if load_saved_net(conj.weights, n) is None]
    assert not missing
    st = next(n for n in saved if n.trained and n.dim == 2)
    built = load_saved_net(conj.weights, st)
    assert [w.shape for w in built["weights"]] == [(100, 2), (100, 100), (1, 100)] and built["val_r2"] > 0.99


def _tiny_quick() -> dict:
    """quick.toml shrunk to seconds: the same methods, senses, budgets' shape and repeats on tiny 2-D nets."""
    import tomllib

    from nnlab.bundled import study_path

    data = tomllib.loads(study_path("quick").read_text())
    st = data["study"]
    st.update(budgets=[{"forward": 300, "lp": 4}, {"forward": 1500, "lp": 12}], repeats=2, samples=200, starts=8,
              steps=20, time_limit=120.0, exact_time_limit=60.0)
    if not HAS_CAPS:  # before the work caps: fixed counts (the same at each budget), deterministic as well
        st["params"] = {"gradient": {"starts": 8, "steps": 20, "rounds": 1}, "walk": {"restarts": 2},
                        "sampling": {"samples": 100}, "random": {"samples": 500}}
    for b in data["networks"]:
        b.update(dims=[2], hidden=[[6, 6]], seeds=1)
        if "train" in b:
            b["train"] = {**b["train"], "samples": 300, "epochs": 4}
    return data


@pytest.mark.slow
def test_quick_study_gives_the_same_csv_with_one_and_two_workers(tmp_path):
    """Work budgets, not seconds: the rows repeat whatever the schedule (only the timing columns differ)."""
    cfg = S.study_from_dict(_tiny_quick())
    outs = {}
    for workers in (1, 2):
        outcome = run_study(cfg, tmp_path / f"w{workers}", workers=workers, progress=False)
        assert not outcome.failures and outcome.computed == outcome.total
        with open(tmp_path / f"w{workers}" / "results.csv") as fh:
            outs[workers] = list(csv.DictReader(fh))
    assert len(outs[1]) == len(outs[2]) > 0
    assert all(r["status"] != "time_limit" for r in outs[1])
    keep = [c for c in R.COLUMNS if c not in R.TIMING_COLUMNS]
    assert [[r[c] for c in keep] for r in outs[1]] == [[r[c] for c in keep] for r in outs[2]]
    assert {r["method"] for r in outs[1]} == {"exact", "gradient", "walk", "sampling", "random"}
    if HAS_CAPS:  # the budgets, not the methods' own counts, ended the runs
        assert {r["status"] for r in outs[1] if r["method"] != "exact"} == {"work_limit"}


@pytest.mark.skipif(not HAS_CAPS, reason="the heuristics have no work caps (max_forward) yet")
def test_2d_nets_get_certified_local_optima_and_runs_keep_their_anytime_curve(tmp_path):
    from nnlab.engine.analysis.local_optima import certified_local_optima
    from nnlab.engine.model.network import NetSnapshot
    from nnlab.engine.study.cache import read_cached

    nets = [{"inits": ["torch_default"], "dims": [2, 3], "hidden": [[6, 6]], "seeds": 1}]
    cfg = S.study_from_dict(_study(nets, senses=["max"], budgets=[{"forward": 50}, {"forward": 3000}]))
    run_study(cfg, tmp_path, workers=0, progress=False)
    rows = read_csv(tmp_path / "results.csv")
    for net in cfg.networks:
        mine = [r for r in rows if r["net_id"] == net.key()]
        if net.dim == 2:
            built = S.build_network(net)
            c = certified_local_optima(NetSnapshot(tuple(built["weights"]), tuple(built["biases"])), *net.box())
            assert {r["local_max_certified"] for r in mine} == {str(c.maxima.strict)}
            assert {r["local_min_certified"] for r in mine} == {str(c.minima.strict)}
            assert {r["local_max_plateaus"] for r in mine} == {"0"}
        else:  # n-D: no certified count, the multistart's lower bound only
            assert {r["local_max_certified"] for r in mine} == {""} and mine[0]["local_starts"] == "10"
        for t in cfg.tasks(net):
            if t.kind != "method":
                continue
            res = read_cached(tmp_path, t)
            tr = res["trace"]
            assert 1 <= len(tr) <= S.TRACE_POINTS
            fw, vals = [p[0] for p in tr], [p[3] for p in tr]
            assert fw == sorted(fw) and vals == sorted(vals) and fw[-1] <= dict(t.budget)["forward"]
            assert vals[-1] == pytest.approx(res["value"], rel=1e-12, abs=1e-15)  # the last incumbent is the result
    assert "certified max" in (tmp_path / "summary.md").read_text()
    assert (tmp_path / "gap_anytime.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_anytime_curve_is_the_median_gap_of_the_runs_best_so_far():
    from nnlab.engine.study.plots import anytime_curves

    ex = {"method": "exact", "sense": "max", "net_id": "a", "reference": 1.0, "scale": 0.5, "group": "g",
          "hidden": "4", "dim": 2, "kind": "random"}
    tr = [{"net_id": "a", "method": "m", "sense": "max", "trace": [[1, 0, 0.0, 0.0], [10, 0, 0.0, 0.5]]},
          {"net_id": "a", "method": "m", "sense": "max", "trace": [[1, 0, 0.0, 0.5], [100, 0, 0.0, 1.0]]},
          {"net_id": "a", "method": "m", "sense": "max", "trace": [[5, 0, 0.0, 0.25]]},
          {"net_id": "a", "method": "m", "sense": "max", "trace": [[None, None, 0.0, 0.9]]}]  # no work: left out
    (xs, ys), = anytime_curves([ex], tr, points=3).values()  # grid 1, 10, 100 forward passes
    assert xs == [1.0, 10.0, 100.0]
    # at 1: gaps 2, 1, (none yet: worst) -> median 2; at 10: 1, 1, 1.5 -> 1; at 100: 1, 0, 1.5 -> 1
    assert ys == [2.0, 1.0, 1.0]
