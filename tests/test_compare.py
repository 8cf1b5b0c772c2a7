"""dbc_jax.stats (rliable's interval estimates) on synthetic scores with known answers, and experiments/compare.py:
independent runs per cell, kept in one JSON from which the page and the README block are regenerated."""

import json
import os
import sys

import numpy as np
import pytest

import dbc_jax
from dbc_jax import stats
from dbc_jax.demos import make_demos
from dbc_jax.metrics import MetricsLog
from dbc_jax.provenance import hardware

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
import compare  # noqa: E402


pytestmark = pytest.mark.usefixtures("fewer_resamples")  # the statistics tests pass their own resample counts


def test_the_mean_interval_covers_the_true_mean_in_at_least_90_percent_of_draws():
    """200 independent draws of 20 runs from N(0.7, 0.1^2): the 95% interval covers 0.7 in >= 90% of them (the
    percentile bootstrap's real coverage at 20 runs is about 93%), and it is not vacuous (covers < 100%)."""
    rng = np.random.default_rng(0)
    covered = [lo <= 0.7 <= hi for lo, hi in
               (stats.mean_and_iqm(rng.normal(0.7, 0.1, 20), reps=500, seed=i)["mean_ci"] for i in range(200))]
    assert 0.90 <= np.mean(covered) < 1.0
    assert abs(compare.percentile_coverage(20) - 0.929) < 0.005  # what the page states for its run counts


def test_intervals_are_reproducible_and_contain_their_estimates():
    x = np.random.default_rng(1).normal(50, 10, 10)
    a, b = stats.mean_and_iqm(x, reps=500, seed=3), stats.mean_and_iqm(x, reps=500, seed=3)
    assert a == b  # the same scores and seed give the same intervals
    # IQM: the mean after trimming a quarter of the runs, rounded down, from each end (2 of 10).
    assert a["mean"] == pytest.approx(x.mean()) and a["iqm"] == pytest.approx(np.sort(x)[2:8].mean())
    for kind in ("mean", "iqm"):
        assert a[f"{kind}_ci"][0] < a[kind] < a[f"{kind}_ci"][1]
    with pytest.raises(ValueError, match=r"scores: expected finite \[runs >= 2, tasks\], got shape \(1, 1\)"):
        stats.mean_and_iqm([3.0], reps=10, seed=0)


def test_probability_of_improvement_is_one_half_for_identical_distributions_and_near_one_when_separated():
    rng = np.random.default_rng(2)
    x = rng.normal(0, 1, 10)
    same = stats.probability_of_improvement(x, x, reps=500, seed=0)
    assert same["p"] == 0.5 and same["ci"][0] < 0.5 < same["ci"][1] and not stats.shows_difference(same["ci"])
    # Independent draws of one distribution: P averages 0.5, and its interval excludes 0.5 rarely.
    draws = [stats.probability_of_improvement(rng.normal(0, 1, 10), rng.normal(0, 1, 10), reps=200, seed=i)
             for i in range(100)]
    assert abs(np.mean([d["p"] for d in draws]) - 0.5) < 0.03
    assert np.mean([stats.shows_difference(d["ci"]) for d in draws]) <= 0.15
    apart = stats.probability_of_improvement(rng.normal(1, 0.1, 10), rng.normal(0, 0.1, 5), reps=500, seed=0)
    assert apart["p"] > 0.99 and apart["ci"][0] > 0.99 and stats.shows_difference(apart["ci"])
    below = stats.probability_of_improvement(rng.normal(0, 0.1, 10), rng.normal(1, 0.1, 10), reps=500, seed=0)
    assert below["p"] < 0.01 and stats.shows_difference(below["ci"])


def run(tmp_path, *args):
    compare.main(["--preset", "smoke", "--quiet", "--no-plan", "--out", str(tmp_path / "docs"),
                  "--paper-data", str(tmp_path / "no_such_folder"), "--rows", "maze:ours", *args])
    with open(tmp_path / "docs" / "compare_smoke.json") as f:
        return json.load(f)


def test_cells_of_independent_runs_kept_in_the_json_and_regenerated_from_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    table = run(tmp_path, "--methods", "dbc", "bc", "--runs", "3")
    cells = {c["method"]: c for c in table["cells"]}
    assert set(cells) == {"dbc", "bc"}
    for method, cell in cells.items():
        with open(os.path.join(tmp_path, "runs", "compare_smoke", f"maze-ours_{method}_n3", "results.json")) as f:
            saved = json.load(f)
        episodes = np.asarray(saved["episodes"]["success"], float) * 100  # [runs, episodes]
        assert [r["score"] for r in cell["runs"]] == saved["per_member"] and len(cell["runs"]) == 3
        assert [r["stderr"] for r in cell["runs"]] == pytest.approx(episodes.std(1, ddof=1) / np.sqrt(4))
        assert cell["stats"]["n"] == 3 and cell["stats"]["mean"] == pytest.approx(np.mean(saved["per_member"]))
        assert cell["config"]["num_seeds"] == 3 and "workdir" not in cell["config"]
        assert cell["hardware"] == hardware() == saved["code"][0]["hardware"]  # as the run recorded it
    assert cells["dbc"]["config"]["diffusion"]["shared"] is False  # each run pretrains its own model
    (pair,) = [c for c in table["comparisons"] if c["baseline"] == "bc"]
    assert pair == {"task": "maze", "data": "ours", "baseline": "bc",
                    **stats.probability_of_improvement(compare.scores(cells["dbc"]), compare.scores(cells["bc"]),
                                                       compare.BOOTSTRAP["pairs_reps"], compare.BOOTSTRAP["seed"])}
    missing = {(m["task"], m["data"], m["method"]): m["reason"] for m in table["missing"]}
    assert missing[("maze", "ours", "dp")] == "not trained yet (run without --no-train)"
    assert missing[("walker", "paper", "bc")] == f"{tmp_path / 'no_such_folder' / 'walker.pt'} not found (--paper-data)"
    md_path = tmp_path / "docs" / "compare_smoke.md"
    assert compare.render(str(tmp_path / "docs" / "compare_smoke.json")) == md_path.read_text()  # byte for byte
    assert (tmp_path / "docs" / "compare_smoke.png").stat().st_size > 10_000

    # The runs' workdirs gone (a clean clone): the cells come from the JSON alone, nothing is trained again.
    import shutil

    shutil.rmtree(tmp_path / "runs")
    again = run(tmp_path, "--methods", "dbc", "bc", "--runs", "3")
    assert [c["runs"] for c in again["cells"]] == [c["runs"] for c in table["cells"]]
    assert not (tmp_path / "runs").exists()

    # A cell with fewer finished runs than asked is marked and left out of every comparison, never averaged in.
    table = json.loads((tmp_path / "docs" / "compare_smoke.json").read_text())
    table["cells"][1]["runs"] = table["cells"][1]["runs"][:2]
    (tmp_path / "docs" / "compare_smoke.json").write_text(json.dumps(table))
    partial = run(tmp_path, "--methods", "dbc", "bc", "--runs", "3", "--no-train")
    assert [len(c["runs"]) for c in partial["cells"]] == [3, 2] and partial["comparisons"] == []
    assert " (2 of 3 runs) |" in md_path.read_text()
    assert "- Maze (our demos), BC (3 runs): 2 of 3 runs recorded (run without --no-train to train the cell" in (
        md_path.read_text())

    # A recorded cell whose config no longer matches is not reused: listed with the fields that differ, and kept
    # aside (a mistyped flag loses no runs); with the config it was trained with, it is back.
    stale = run(tmp_path, "--methods", "dbc", "bc", "--runs", "3", "--no-train", "--set", "policy.lr=0.5",
                "--set", "eval.num_episodes=8")
    assert stale["cells"] == [] and [c["runs"] for c in stale["stale"]] == [c["runs"] for c in partial["cells"]]
    assert ("maze", "ours", "bc", "recorded with another config (policy, eval differ)") in {
        (m["task"], m["data"], m["method"], m["reason"]) for m in stale["missing"]}
    assert [c["runs"] for c in run(tmp_path, "--runs", "3", "--no-train")["cells"]] == [c["runs"] for c in
                                                                                      partial["cells"]]

    # The README's block: the headline table and what its intervals support; a README without it is refused.
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{compare.README_START}\nold\n{compare.README_END}\nrest\n")
    table = run(tmp_path, "--methods", "dbc", "bc", "--runs", "3", "--no-train", "--readme", str(readme))
    block = f"{compare.README_START}\n{compare.readme_block(table)}\n{compare.README_END}"
    assert readme.read_text() == f"intro\n{block}\nrest\n"
    readme.write_text("no block\n")
    with pytest.raises(ValueError, match="README.md: no <!-- compare:start --> ... <!-- compare:end --> block"):
        run(tmp_path, "--no-train", "--readme", str(readme))


def test_a_run_does_not_depend_on_how_many_runs_train_beside_it(tmp_path):
    """Member s of a program of N independent DBC runs (one diffusion model each) computes what it computes in a
    program of fewer: the N-member program is N separate pretrainings and trainings, batched."""
    logs = []
    for runs in (2, 3):
        config = dbc_jax.get_config("maze", "smoke")
        config.num_seeds, config.diffusion.shared = runs, False
        config.workdir = str(tmp_path / f"runs{runs}")
        config.data.path = str(tmp_path / "demos.npz")
        if runs == 2:
            make_demos(config, config.data.path, progress=False)
        dbc_jax.train(config, progress=False)
        logs.append(MetricsLog(os.path.join(config.workdir, "metrics.jsonl")).records())
    for phase, name in (("model", "model/loss/per_model"), ("policy", "bc/mse/per_member")):
        two, three = ([r[name] for r in log if r["phase"] == phase] for log in logs)
        assert np.allclose(np.asarray(three)[:, :2], two, rtol=1e-4, atol=1e-6), phase


def test_bad_runs_are_refused_before_any_training():
    with pytest.raises(ValueError, match="--runs ibc=1: expected N or <method>=N with N >= 2"):
        compare.main(["--runs", "ibc=1"])
    with pytest.raises(ValueError, match="--runs gail=3: expected"):
        compare.main(["--runs", "gail=3"])
    assert compare.parse_runs(["4", "ibc=2"]) == {"dbc": 4, "bc": 4, "dp": 4, "ibc": 2}


def test_the_page_names_each_metric_with_its_tasks():
    table = {"rows": [["maze", "ours"], ["walker", "paper"], ["fetchpick", "ours"], ["walker", "ours"]]}
    assert compare.metric_text(table) == "Success rate (%) for Maze, FetchPick; return for Walker2d"
    assert compare.machine("CPU only | host CPU: X, 2 cores | jax 1 + GPU: H100 | host CPU: Y, 16 cores | jax 1") == (
        "CPU only, host CPU: X, 2 cores; GPU: H100, host CPU: Y, 16 cores")
