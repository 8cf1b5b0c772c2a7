"""dbc_jax/estimate.py and the plans of make paper-table / make compare: the work a run has left, counted from its
config and its checkpoint, and its speed measured here before anything trains."""

import json
import os
import shutil
import sys

import pytest

import dbc_jax
from dbc_jax import estimate
from dbc_jax.estimate import duration
from dbc_jax.metrics import MetricsLog
from dbc_jax.provenance import hardware

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
import paper_table  # noqa: E402


@pytest.fixture(autouse=True)
def short_probes(monkeypatch):
    """Each update rate timed for 0.2 s, not 2 s: these tests check the plan's counts, states and text, not how
    precise its times are."""
    monkeypatch.setattr(estimate, "PROBE_SECONDS", 0.2)


@pytest.mark.parametrize("epochs,chunk,every,expected", [(4, 2, 2, [2, 4]), (10, 3, 4, [10]), (12, 3, 6, [6, 12]),
                                                         (5, 2, 0, [5])])
def test_evaluation_epochs_are_the_chunk_ends_the_trainer_evaluates_at(epochs, chunk, every, expected):
    config = dbc_jax.get_config("maze", "smoke")
    config.policy.epochs, config.policy.log_every_epochs, config.eval.every_epochs = epochs, chunk, every
    assert estimate.evaluation_epochs(config) == expected


def test_the_plan_counts_a_runs_work_and_what_an_interrupted_one_has_left(tmp_path, monkeypatch, capsys):
    """The plan's counts are the run's own: its updates per phase and its evaluations (metrics.jsonl). A run cut
    after policy epoch 2 of 4 has the rest left, and --no-train lists it with its progress and time left."""
    monkeypatch.chdir(tmp_path)  # the cells' default workdirs and demo files land here
    args = ["--preset", "smoke", "--rows", "maze:ours", "--methods", "dbc", "--quiet", "--out", str(tmp_path / "docs"),
            "--paper-data", str(tmp_path / "none")]
    with pytest.raises(SystemExit) as stop:
        paper_table.main(args + ["--plan-only"])
    assert stop.value.code == 0 and not (tmp_path / "docs").exists()  # a plan writes nothing
    printed = capsys.readouterr().out
    assert "Maze (our demos), DBC (new): joint model " in printed and "In all: about " in printed
    bound = dbc_jax.get_config("maze", "smoke").data.num_episodes * dbc_jax.tasks.get_task("maze").horizon
    assert f"(on at most {bound:,} transitions: demos not made yet)" in printed  # episodes x horizon, a bound

    config = paper_table.cell_config("maze", "ours", "dbc", "smoke", 1, str(tmp_path / "none"), [])
    config.checkpoint.max_to_keep = 10
    task = dbc_jax.tasks.get_task("maze")
    run = dbc_jax.train(config, progress=False)
    records = MetricsLog(run.paths["metrics"]).records()
    items, exact = paper_table.demo_items(config)
    assert exact
    speed = estimate.measure_speed(config, task.obs_dim, task.act_dim)
    assert speed.model_updates_per_s > 0 and speed.policy_updates_per_s > 0 and speed.evaluation_s > 0
    whole = estimate.estimate(config, items, speed)
    assert whole.model_updates == max(r["update"] for r in records if r["phase"] == "model")
    assert whole.policy_updates == max(r["update"] for r in records if r["phase"] == "policy")
    assert whole.evaluations == len([r for r in records if r["phase"] == "eval"]) == 2
    assert estimate.estimate(config, items, speed, estimate.progress(config)).seconds == pytest.approx(
        speed.compile_s + speed.setup_s)  # a finished run has nothing left

    shutil.rmtree(os.path.join(config.workdir, "checkpoints", "8"))  # cut after policy epoch 2 of 4
    os.remove(os.path.join(config.workdir, "results.json"))
    done = estimate.progress(config)
    assert (done.model_epoch, done.model_epochs, done.policy_epoch, done.policy_epochs) == (4, 4, 2, 4)
    left = estimate.estimate(config, items, speed, done)
    assert (left.model_updates, left.policy_updates, left.evaluations) == (0, whole.policy_updates // 2, 1)
    paper_table.main(args + ["--methods", "dbc", "bc", "--no-train"])  # BC: never started
    with open(tmp_path / "docs" / "paper_table_smoke.json") as f:
        missing, new = json.load(f)["missing"]
    assert missing["reason"].startswith("in progress: joint model 4 of 4 epochs, policies 2 of 4 epochs, about ")
    assert missing["plan"]["state"] == "resumes at joint model 4 of 4 epochs, policies 2 of 4 epochs"
    assert new["method"] == "bc" and new["plan"]["state"] == "new" and new["plan"]["estimate_s"] > 0
    assert new["reason"] == (f"not trained yet: about {duration(new['plan']['estimate_s'])} on this machine "
                             "(run without --no-train)")
    page = (tmp_path / "docs" / "paper_table_smoke.md").read_text()
    assert missing["reason"] in page and new["reason"] in page


def test_the_comparison_prints_its_plan_for_its_own_number_of_runs(tmp_path, monkeypatch, capsys, fewer_resamples):
    import compare

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        compare.main(["--preset", "smoke", "--quiet", "--out", str(tmp_path / "docs"), "--rows", "maze:ours",
                      "--methods", "bc", "--runs", "bc=4", "--paper-data", str(tmp_path / "none"), "--plan-only"])
    assert stop.value.code == 0 and not (tmp_path / "docs" / "compare_smoke.json").exists()
    config = dbc_jax.get_config("maze", "smoke")
    per_epoch = config.data.num_episodes * dbc_jax.tasks.get_task("maze").horizon // config.policy.batch_size
    assert (f"Maze (our demos), BC (new): policies {config.policy.epochs * per_epoch:,} updates at "
            in capsys.readouterr().out)
    # --no-train lists the cell with the time it should take here, on the page as in the JSON.
    args = ["--preset", "smoke", "--quiet", "--out", str(tmp_path / "docs"), "--rows", "maze:ours", "--methods", "bc",
            "--runs", "bc=4", "--paper-data", str(tmp_path / "none"), "--set", "checkpoint.max_to_keep=10"]
    compare.main(args + ["--no-train"])
    assert "Measuring the speed of 1 cell on this machine" in capsys.readouterr().out  # the cell asked, no other
    table = json.loads((tmp_path / "docs" / "compare_smoke.json").read_text())
    (new,) = [m for m in table["missing"] if (m["task"], m["data"], m["method"]) == ("maze", "ours", "bc")]
    assert new["plan"]["state"] == "new" and new["plan"]["estimate_s"] > 0
    assert new["reason"] == (f"not trained yet: about {duration(new['plan']['estimate_s'])} on this machine "
                             "(run without --no-train)")
    page = (tmp_path / "docs" / "compare_smoke.md").read_text()
    assert f"- Maze (our demos), BC (4 runs): {new['reason']}" in page
    assert [m for m in table["missing"] if "plan" in m] == [new]  # only the cells asked (--rows, --methods)
    left = f"about {duration(new['plan']['estimate_s'])} on {compare.machine(hardware())} for the 1 cell measured"
    assert f"In all, {left}: one cell after another" in page
    assert f"Not in it yet: {len(table['missing'])} cells, listed with their commands and times (in all {left}" in (
        compare.readme_block(table))

    # Trained, then cut after its first policy chunk (and dropped from the JSON): listed with its progress.
    compare.main(args + ["--no-plan"])
    workdir = tmp_path / "runs" / "compare_smoke" / "maze-ours_bc_n4"
    steps = sorted(int(d) for d in os.listdir(workdir / "checkpoints") if d.isdigit())
    assert len(steps) >= 2
    shutil.rmtree(workdir / "checkpoints" / str(steps[-1]))
    os.remove(workdir / "results.json")
    os.remove(tmp_path / "docs" / "compare_smoke.json")
    compare.main(args + ["--no-train"])
    table = json.loads((tmp_path / "docs" / "compare_smoke.json").read_text())
    (cut,) = [m for m in table["missing"] if "plan" in m]
    assert cut["plan"]["state"].startswith("resumes at policies ") and cut["plan"]["estimate_s"] > 0
    assert cut["reason"] == ("in progress: " + cut["plan"]["state"].removeprefix("resumes at ") + ", about "
                             + duration(cut["plan"]["estimate_s"]) + " left")
    assert f"- Maze (our demos), BC (4 runs): {cut['reason']}" in (tmp_path / "docs" / "compare_smoke.md").read_text()
