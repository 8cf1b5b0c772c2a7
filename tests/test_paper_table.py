"""experiments/paper_table.py: trains the missing cells, reuses finished runs, and writes one JSON from which the
markdown and the README table are generated."""

import json
import os
import shutil
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
import paper_table  # noqa: E402
from dbc_jax.provenance import code_version  # noqa: E402


def run(tmp_path, *args):
    paper_table.main(["--preset", "smoke", "--quiet", "--no-plan", "--out", str(tmp_path / "docs"),
                      "--paper-data", str(tmp_path / "no_such_folder"), *args])
    with open(tmp_path / "docs" / "paper_table_smoke.json") as f:
        return json.load(f)


def test_trains_missing_cells_reuses_finished_ones_and_lists_the_rest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the runs' default workdirs and demo files land here
    rows = ["--rows", "maze:ours", "walker:paper", "fetchpick:paper"]
    table = run(tmp_path, *rows, "--methods", "bc", "dbc")
    assert [(c["task"], c["data"], c["method"]) for c in table["cells"]] == [("maze", "ours", "dbc"),
                                                                              ("maze", "ours", "bc")]
    for cell in table["cells"]:
        with open(os.path.join(cell["workdir"], "results.json")) as f:
            saved = json.load(f)
        assert cell["workdir"].endswith(f"runs/maze_{cell['method']}_smoke_seed1")  # make train's own workdir
        assert cell["final"]["per_seed"] == saved["per_seed"] and cell["final"]["mean"] == saved["mean"]
        assert np.all(np.asarray(cell["best"]["per_seed"]) >= np.asarray(saved["per_seed"]))  # final included
        assert cell["best"]["evaluations"] == 2 and set(cell["best"]["epochs"]) <= {2, 4}  # every 2 of 4 epochs
        assert cell["paper"] == {"mean": paper_table.PAPER["maze"][cell["method"]][0],
                                 "std": paper_table.PAPER["maze"][cell["method"]][1]}
        assert cell["command"] == f"make train ENV=maze ALGO={cell['method']} PRESET=smoke"
        assert sum(cell["wall_s"].values()) > 0 and cell["demos_source"]
        assert cell["code"] == [code_version()] == saved["code"]
    assert {(u["task"], u["reason"]) for u in table["unavailable"]} == {
        ("walker", f"{tmp_path / 'no_such_folder' / 'walker.pt'} not found (--paper-data)"),
        ("fetchpick", "the authors did not release this task's data")}
    # The markdown is generated from the JSON alone.
    md_path = tmp_path / "docs" / "paper_table_smoke.md"
    assert paper_table.render(str(tmp_path / "docs" / "paper_table_smoke.json")) == md_path.read_text()
    bc = table["cells"][1]
    assert f"{bc['final']['mean']:.1f} ± {bc['final']['std']:.1f} (92.1 ± 3.6)" in md_path.read_text()
    assert [c.get("shared_model") for c in table["cells"]] == [True, None]  # recorded for DBC cells only
    assert paper_table.SHARED_MODEL_NOTE in md_path.read_text()  # a DBC cell: its seeds share one model
    total = sum(sum(c["wall_s"].values()) for c in table["cells"])
    assert f"The cells below took {paper_table.duration(total)} of training and evaluation in all." in (
        md_path.read_text())
    commit = code_version()["commit"][:7] + ("*" if code_version()["dirty"] else "")
    assert f"| {bc['date']} | {commit} | `make train ENV=maze ALGO=bc PRESET=smoke` |" in md_path.read_text()

    # Again, training nothing, without the JSON and the demo file (a copy of runs/ alone): the finished runs are
    # read, the footnote says it cannot name their expert, and an untrained method is listed as missing.
    stamps = {c["workdir"]: os.path.getmtime(os.path.join(c["workdir"], "results.json")) for c in table["cells"]}
    assert "from the dbc_jax scripted waypoint expert" in md_path.read_text()
    (demo_file,) = (tmp_path / "data").glob("maze_expert_*.npz")
    os.remove(demo_file)
    os.remove(tmp_path / "docs" / "paper_table_smoke.json")
    again = run(tmp_path, *rows, "--methods", "bc", "dbc", "dp", "--no-train")
    assert [c["final"] for c in again["cells"]] == [c["final"] for c in table["cells"]]
    assert stamps == {c["workdir"]: os.path.getmtime(os.path.join(c["workdir"], "results.json"))
                      for c in again["cells"]}
    assert [(m["method"], m["reason"]) for m in again["missing"]] == [("dp", "not trained yet (run without "
                                                                             "--no-train)")]
    assert "- Maze (our demos), Diffusion Policy: not trained yet" in md_path.read_text()
    assert ("Maze (our demos): our demos (their file is not here to name the expert that made them: `make demos "
            "ENV=maze`)") in md_path.read_text()

    # The README's block is replaced by the final-evaluation table; a README without the block is refused.
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{paper_table.README_START}\nold\n{paper_table.README_END}\nrest\n")
    run(tmp_path, *rows, "--methods", "bc", "dbc", "--no-train", "--readme", str(readme))
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{paper_table.README_END}\nrest\n") and "old" not in text
    assert paper_table.headline(table) in text
    readme.write_text("no block\n")
    with pytest.raises(ValueError, match="README.md: no <!-- paper-table:start --> ... <!-- paper-table:end --> "
                                         "block to replace"):
        run(tmp_path, *rows, "--no-train", "--readme", str(readme))


def test_the_json_keeps_its_cells_without_their_workdirs(tmp_path, monkeypatch):
    """A finished cell lives in the JSON with its config: a clean clone (no runs/) reuses it; asking a subset of
    rows keeps the others; a cell recorded with another config, or with none, is kept aside as stale (never dropped)
    and listed with the fields that differ; a broken JSON is refused before any training."""
    monkeypatch.chdir(tmp_path)
    table = run(tmp_path, "--rows", "maze:ours", "--methods", "bc", "--set", "policy.epochs=2")
    (cell,) = table["cells"]
    assert cell["config"]["policy"]["epochs"] == 2 and "workdir" not in cell["config"]
    assert cell["hardware"] == paper_table.hardware()
    shutil.rmtree(tmp_path / "runs")
    json_path = tmp_path / "docs" / "paper_table_smoke.json"

    # No workdir, no training: the JSON's cell is the table's, and the page is the same but for its header line.
    page = (tmp_path / "docs" / "paper_table_smoke.md").read_text()
    again = run(tmp_path, "--rows", "maze:ours", "--methods", "bc", "--set", "policy.epochs=2", "--no-train")
    assert again["cells"] == table["cells"] and again["missing"] == [] and again["stale"] == []
    assert (tmp_path / "docs" / "paper_table_smoke.md").read_text().split("\n")[3:] == page.split("\n")[3:]

    # The same cell on the paper's data, recorded (as a clean clone has it, without the paper's folder): shown, in
    # the table's own row order whatever rows are asked.
    recorded = json.loads(json_path.read_text())
    paper_cell = {**cell, "data": "paper", "config": {**cell["config"], "data": {**cell["config"]["data"],
                                                                                  "path": "maze.pt"}}}
    json_path.write_text(json.dumps({**recorded, "cells": [paper_cell] + recorded["cells"]}))
    both = run(tmp_path, "--rows", "maze:paper", "--methods", "bc", "--set", "policy.epochs=2", "--no-train")
    assert [(c["data"], c["final"]) for c in both["cells"]] == [("ours", cell["final"]), ("paper", cell["final"])]
    assert both["rows"] == [["maze", "ours"], ["maze", "paper"]] and both["unavailable"] == []
    json_path.write_text(json.dumps(recorded))

    # Another row asked: the recorded maze cell stays (its config is still the one the command resolves).
    other = run(tmp_path, "--rows", "halfcheetah:ours", "--methods", "bc", "--set", "policy.epochs=2", "--no-train")
    assert [(c["task"], c["method"]) for c in other["cells"]] == [("maze", "bc")]
    assert [(m["task"], m["method"]) for m in other["missing"]] == [("halfcheetah", "bc")]
    # ... unless its config is no longer the one asked: then kept aside, with the reason.
    other = run(tmp_path, "--rows", "halfcheetah:ours", "--methods", "bc", "--no-train")
    assert other["cells"] == [] and [c["stale_reason"] for c in other["stale"]] == [
        "recorded with another config (policy differ)"]

    # Another config: the recorded cell is kept aside as stale and the asked one is listed with the reason.
    changed = run(tmp_path, "--rows", "maze:ours", "--methods", "bc", "--set", "policy.epochs=4", "--no-train")
    assert changed["cells"] == [] and [c["final"] for c in changed["stale"]] == [cell["final"]]
    assert [m["reason"] for m in changed["missing"]] == [
        "recorded with another config (policy differ); not trained yet (run without --no-train)"]
    back = run(tmp_path, "--rows", "maze:ours", "--methods", "bc", "--set", "policy.epochs=2", "--no-train")
    assert back["cells"] == table["cells"] and back["stale"] == []  # the stale cell returns when it matches again

    # A cell recorded before cells kept their config cannot be checked: stale, with that reason.
    legacy = json.loads(json_path.read_text())
    del legacy["cells"][0]["config"]
    json_path.write_text(json.dumps(legacy))
    old = run(tmp_path, "--rows", "maze:ours", "--methods", "bc", "--set", "policy.epochs=2", "--no-train")
    assert old["cells"] == [] and old["stale"] == [{**legacy["cells"][0], "stale_reason": old["missing"][0][
        "reason"].split("; ")[0]}]
    assert old["missing"][0]["reason"] == ("recorded without its config (trained before cells kept theirs), so it "
                                           "cannot be checked; not trained yet (run without --no-train)")

    json_path.write_text(json.dumps({"cells": [{"task": "maze"}]}))
    with pytest.raises(ValueError, match="paper_table_smoke.json: cell 0 has no task, data and method; expected a "
                                         r"file written by paper_table.py \(restore it from git\)"):
        run(tmp_path, "--rows", "maze:ours", "--methods", "bc")
    assert not (tmp_path / "runs").exists()  # refused before any training


def test_an_interrupted_table_lists_every_cell_it_has_not_finished(tmp_path, monkeypatch):
    """The JSON written after each cell lists the cells still to train, not only those done or failed."""
    monkeypatch.chdir(tmp_path)

    def train(config, progress=True):
        raise KeyboardInterrupt if config.algo == "dp" else RuntimeError("no luck")

    monkeypatch.setattr(paper_table.dbc_jax, "train", train)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, "--rows", "maze:ours", "--methods", "bc", "dp", "dbc")
    with open(tmp_path / "docs" / "paper_table_smoke.json") as f:
        table = json.load(f)
    assert table["cells"] == [] and [(m["method"], m["reason"]) for m in table["missing"]] == [
        ("dbc", "not trained yet (run without --no-train)"), ("bc", "failed: RuntimeError: no luck"),
        ("dp", "not trained yet (run without --no-train)")]


def test_a_failing_cell_is_listed_and_the_others_still_train(tmp_path, monkeypatch):
    """A cell whose run raises (here: its demo file is missing) is listed with its error; the table still trains
    and writes the other cells, and the script ends in an error naming the failed one."""
    monkeypatch.chdir(tmp_path)
    real_train = paper_table.dbc_jax.train

    def train(config, progress=True):
        if config.algo == "dp":
            config.data.path = str(tmp_path / "missing.npz")
        return real_train(config, progress)

    monkeypatch.setattr(paper_table.dbc_jax, "train", train)
    with pytest.raises(RuntimeError, match=r"1 cells failed, the others were trained and written: maze:ours dp "
                                           r"\(failed: DatasetError: .*missing.npz: file not found\)"):
        run(tmp_path, "--rows", "maze:ours", "--methods", "dp", "dbc", "--set", "diffusion.shared=False")
    with open(tmp_path / "docs" / "paper_table_smoke.json") as f:
        table = json.load(f)
    assert [(c["method"], c["shared_model"]) for c in table["cells"]] == [("dbc", False)]
    assert [(m["method"], m["failed"]) for m in table["missing"]] == [("dp", True)]
    markdown = (tmp_path / "docs" / "paper_table_smoke.md").read_text()
    assert "- Maze (our demos), Diffusion Policy: failed: DatasetError" in markdown
    assert paper_table.SHARED_MODEL_NOTE not in markdown  # DBC with one model per seed: no note about a shared one


def test_a_bad_row_is_refused_before_any_training():
    with pytest.raises(ValueError, match="--rows maze:theirs: expected <task>:ours or <task>:paper"):
        paper_table.main(["--rows", "maze:theirs"])
    with pytest.raises(ValueError, match="--rows hopper:ours: expected"):
        paper_table.main(["--rows", "hopper:ours"])


def test_a_set_scoped_to_a_task_applies_to_its_rows_only():
    items = ["eval.num_episodes=7", "fetchpick:data.expert.end_at_success=True"]
    assert paper_table.sets_for("fetchpick", items) == ["eval.num_episodes=7", "data.expert.end_at_success=True"]
    assert paper_table.sets_for("maze", items) == ["eval.num_episodes=7"]
    assert paper_table.sets_for("fetchpick", items, keep_scope=True) == items
    fetch = paper_table.cell_config("fetchpick", "ours", "bc", "smoke", 1, "",
                                    paper_table.row_settings("fetchpick", "ours", "smoke", items))
    maze = paper_table.cell_config("maze", "ours", "bc", "smoke", 1, "",
                                   paper_table.row_settings("maze", "ours", "smoke", items))
    assert fetch.data.expert.end_at_success is True and fetch.eval.num_episodes == maze.eval.num_episodes == 7
    with pytest.raises(ValueError, match="--set hopper:eval.num_episodes=7: expected \\[<task>:\\]<field>=<value>"):
        paper_table.main(["--set", "hopper:eval.num_episodes=7", "--no-train"])


def test_the_paper_preset_page_says_per_row_whether_it_closes_the_gap():
    """The paragraphs are a pure function of the table's JSON: this preset's mean against quick's and the paper's,
    with the verdict the numbers give (the gap within the two stds added, narrowed, or not)."""
    def cell(task, method, mean, std):
        return {"task": task, "data": "paper", "method": method, "final": {"mean": mean, "std": std},
                "paper": dict(zip(("mean", "std"), paper_table.PAPER[task][method]))}

    table = {"preset": "paper", "rows": [["halfcheetah", "paper"], ["walker", "paper"], ["maze", "paper"]],
             "cells": [cell("halfcheetah", "dbc", 4900.0, 50.0), cell("halfcheetah", "bc", 4700.0, 20.0),
                       cell("walker", "dbc", 6500.0, 100.0)],
             "compared_to": {"preset": "quick", "cells": [cell("halfcheetah", "dbc", 4884.4, 57.3),
                                                          cell("halfcheetah", "bc", 4613.4, 99.3),
                                                          cell("walker", "dbc", 6700.0, 400.0)]}}
    text = "\n".join(paper_table.gap_paragraphs(table))
    assert text.splitlines()[0] == (
        "**HalfCheetah (paper's data).** DBC 4900.0 ± 50.0 at `paper`, 4884.4 ± 57.3 at `quick`, paper 4909.5 ± 73.0: "
        "within the spread of the paper's number (gap +9.5, spread 123.0); BC 4700.0 ± 20.0 at `paper`, 4613.4 ± 99.3 "
        "at `quick`, paper 4873.3 ± 69.7: narrows the gap from +259.9 to +173.3, still beyond the spread (89.7).")
    assert text.splitlines()[2] == (
        "**Walker2d (paper's data).** DBC 6500.0 ± 100.0 at `paper`, 6700.0 ± 400.0 at `quick`, paper 7034.6 ± 33.7: "
        "does not narrow the gap (+334.6 at `quick`, +534.6 here; spread 133.7).")
    assert "Maze" not in text  # no cell of the row at this preset: no paragraph
    assert paper_table.gap_paragraphs({**table, "cells": []})[0].startswith("No cell of this preset is finished")


@pytest.mark.slow  # two processes training: about 35 s, run by make test-slow
def test_workers_train_the_cells_side_by_side_into_one_table(tmp_path, monkeypatch):
    """--workers 2: the rows dealt out by task to two processes at once (the GPU campaign's way of keeping a device
    busy), then one table with every cell, as one process would write it."""
    monkeypatch.chdir(tmp_path)
    assert paper_table.worker_groups(paper_table.parse_rows(["maze:ours", "fetchpick:ours", "maze:paper"]), 2) == [
        ["maze:ours", "maze:paper"], ["fetchpick:ours"]]
    table = run(tmp_path, "--rows", "maze:ours", "fetchpick:ours", "--methods", "bc", "--workers", "2")
    assert [(c["task"], c["method"]) for c in table["cells"]] == [("maze", "bc"), ("fetchpick", "bc")]
    assert table["missing"] == [] and all(os.path.exists(os.path.join(c["workdir"], "results.json"))
                                          for c in table["cells"])
