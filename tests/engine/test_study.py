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
        assert 0.0 <= float(r["gap_best"]) <= 1.0 and float(r["range"]) > 0
        if r["method"] == "exact":
            assert r["proven"] == "True" and float(r["gap_best"]) < 1e-9 and float(r["gap_bound"]) < 1e-6
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
        def fake(task, w, b):
            if len(calls) == k:
                raise KeyboardInterrupt
            calls.append(task.key())
            return real(task, w, b)
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
               "local_min_best": -1.0, "n_samples": 300, "local_max": 2},
        emax: {"value": 1.8, "proven": False, "status": "time_limit", "bound": 2.6, "location": "face", "n_at_bound": 1},
        emin: {"value": -2.0, "proven": True, "status": "optimal", "bound": -2.0, "location": "vertex", "n_at_bound": 2},
        rnd: {"value": 1.2, "status": "feasible", "location": "interior", "n_at_bound": 0},
    }
    rows = {(r["method"], r["sense"]): r for r in R.network_rows(cfg, net, results, {})}
    assert rows["exact", "max"]["best_known"] == 2.0 and rows["exact", "max"]["range"] == 4.0
    assert rows["exact", "max"]["gap_best"] == pytest.approx(0.05)  # the local search beat the unproven MILP
    assert rows["exact", "max"]["gap_bound"] == pytest.approx(0.2)
    assert rows["random", "max"]["gap_best"] == pytest.approx(0.2) and rows["random", "max"]["gap_bound"] == pytest.approx(0.35)
    assert rows["random", "max"]["beats_vertices"] is True and rows["exact", "min"]["beats_vertices"] is True
    assert rows["exact", "min"]["gap_best"] == 0.0 and rows["exact", "max"]["proven"] is False


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
