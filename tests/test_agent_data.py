"""Agent data: non-expert episodes (noisy, failures kept, counted in steps) and how they are mixed with the demos."""

import json
import os
import sys

import numpy as np
import pytest

from dbc_jax.data import Dataset, DatasetError, concatenate, load_dataset
from dbc_jax.experts import learned, maze


def test_concatenate_keeps_every_episode_in_order():
    a = Dataset(obs=np.zeros((5, 2), np.float32), actions=np.zeros((5, 1), np.float32),
                episode_ends=np.array([2, 5]), rewards=np.ones(5, np.float32))
    b = Dataset(obs=np.ones((3, 2), np.float32), actions=np.ones((3, 1), np.float32), episode_ends=np.array([3]),
                rewards=np.full(3, 2.0, np.float32))
    both = concatenate([a, b], {"what": "mix"})
    np.testing.assert_array_equal(both.episode_ends, [2, 5, 8])
    np.testing.assert_array_equal(both.obs[5:], 1.0)
    np.testing.assert_array_equal(both.rewards, [1] * 5 + [2] * 3)
    assert both.next_obs is None and both.metadata == {"what": "mix"}  # a field one part lacks is dropped
    with pytest.raises(DatasetError, match=r"different \(obs_dim, act_dim\): \[\(2, 1\), \(3, 1\)\]"):
        concatenate([a, Dataset(obs=np.zeros((1, 3), np.float32), actions=np.zeros((1, 1), np.float32),
                                episode_ends=np.array([1]))], {})


def test_maze_agent_keeps_its_failures_and_is_counted_in_steps():
    agent = maze.generate_demos(num_transitions=3000, action_noise=4.0, keep_failures=True, seed=1, progress=False)
    lengths = np.diff(agent.episode_ends, prepend=0)
    assert agent.num_transitions == 3000
    failed = agent.metadata["failed_episodes"]
    last_failed = int(lengths[-1] + agent.metadata["last_episode_cut_by"] == maze.MAX_EPISODE_STEPS)
    assert failed >= 1 and np.sum(lengths[:-1] == maze.MAX_EPISODE_STEPS) == failed - last_failed  # to the limit
    # labels are the executed noisy actions: most are saturated at the clip, unlike the expert's own
    assert np.mean(np.abs(agent.actions) == 1.0) > 0.6
    expert = maze.generate_demos(num_episodes=5, seed=1, progress=False)
    assert "keep_failures" not in expert.metadata and np.mean(np.abs(expert.actions) == 1.0) < 0.5


def test_halfcheetah_agent_records_the_noisy_actions_it_executes():
    agent = learned.generate_demos("halfcheetah", num_transitions=200, action_noise=0.5, keep_failures=True,
                                   progress=False)
    policy, _ = learned.load_expert("halfcheetah")
    clean = np.stack([policy(o, None, 0) for o in agent.obs])
    residual = agent.actions - clean
    assert agent.num_transitions == 200 and agent.metadata["action_noise"] == 0.5
    # clip(expert + N(0, 0.5^2), -1, 1): within the bounds, often at them, and off the expert's action by less
    # than the noise's 0.5 only because of the clip
    assert np.abs(agent.actions).max() <= 1.0 and 0.2 < np.mean(np.abs(agent.actions) == 1.0) < 0.6
    assert 0.3 < residual.std() < 0.5 and abs(residual.mean()) < 0.05
    inside = np.abs(agent.actions) < 1.0
    assert 0.4 < residual[inside & (np.abs(clean) < 0.5)].std() < 0.6  # far from the bounds: the noise itself
    dart = learned.generate_demos("halfcheetah", num_transitions=50, dart_noise=0.5, progress=False)
    np.testing.assert_allclose(dart.actions, np.stack([policy(o, None, 0) for o in dart.obs]), atol=1e-5)


@pytest.fixture
def agent_data(tmp_path, monkeypatch, fewer_resamples):
    monkeypatch.chdir(tmp_path)  # data/ and runs/ of this test only
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
    import agent_data

    yield agent_data
    sys.path.pop(0)


def test_a_mix_adds_agent_steps_to_the_whole_demos_and_is_reused(agent_data, monkeypatch):
    args = type("Args", (), {"preset": "smoke", "runs": 2, "set": [], "quiet": True})()
    path, mix = agent_data.mixed_demos("maze", 25, args)
    demos = load_dataset(path)
    expert = load_dataset(mix["expert_file"])
    agent_steps = demos.num_transitions - expert.num_transitions
    assert agent_steps == round(expert.num_transitions / 3)  # 25% of the mixed file's transitions
    np.testing.assert_array_equal(demos.obs[:expert.num_transitions], expert.obs)  # the demos whole, first
    assert mix["agent"]["transitions"] == agent_steps and 0 < mix["agent"]["success_percent"] < 100
    made = os.path.getmtime(path)
    assert agent_data.mixed_demos("maze", 25, args)[0] == path and os.path.getmtime(path) == made  # reused
    assert agent_data.mixed_demos("maze", 0, args)[0] == mix["expert_file"]  # 0%: the expert's own file
    monkeypatch.setitem(agent_data.AGENTS, "maze", {"action_noise": 3.0})  # another agent: another file
    assert agent_data.mixed_demos("maze", 25, args, make=False)[0] is None
    other, _ = agent_data.mixed_demos("maze", 25, args)
    assert other != path and load_dataset(other).metadata["agent_settings"]["action_noise"] == 3.0


def test_recorded_cells_are_reused_without_their_workdirs_and_never_dropped(agent_data):
    """A clean clone regenerates the page from the JSON alone; a changed config sets a cell aside, never averages it,
    and a stale cell stays aside in later runs that do not ask for it."""
    args = type("Args", (), {"preset": "smoke", "runs": 2, "set": [], "quiet": True, "tasks": ["maze"],
                             "shares": [0, 25], "methods": ["bc"], "no_train": True,
                             "workdir": "runs/agent_data_smoke", "comparison": ""})()

    def cell(task, share, config, runs=(90.0, 80.0)):
        return {"task": task, "share": share, "method": "bc", "metric": "success", "runs": list(runs),
                "episodes_per_run": 4, "stderr_per_run": [1.0] * len(runs), "config": config}

    path, mix = agent_data.mix_path("maze", 25, args)
    assert not os.path.exists(path)  # the mix is not made on this checkout: its cell is still reused
    config = agent_data.run_config("maze", 25, "bc", path, args)
    cheetah = agent_data.run_config("halfcheetah", 50, "bc", "data/agent_data/halfcheetah_x.npz", args)
    ledger = {"cells": [cell("maze", 25, agent_data.portable(config, "ours")),  # the other: recorded, not asked
                        cell("halfcheetah", 50, agent_data.portable(cheetah, "ours"))],
              "stale": [], "mixes": {"maze:25": {**mix, "agent": {"transitions": 9}}, "halfcheetah:50": {"agent": {}}}}
    table = agent_data.measure(args, ledger)
    assert [(c["task"], c["share"]) for c in table["cells"]] == [("maze", 25), ("halfcheetah", 50)]
    assert table["mixes"]["maze:25"]["agent"] == {"transitions": 9}  # as recorded
    assert table["missing"] == ["maze 0% BC (runs/agent_data_smoke/maze_agent0_bc_n2)"] and table["stale"] == []

    args.set = ["policy.lr=0.5"]  # another config: the maze cell is set aside as stale and listed missing; the
    table = agent_data.measure(args, ledger)  # halfcheetah one, not asked, no longer what this command would train
    assert table["cells"] == [] and sorted(c["task"] for c in table["stale"]) == ["halfcheetah", "maze"]
    assert "maze 25% BC (runs/agent_data_smoke/maze_agent25_bc_n2)" in table["missing"]
    args.tasks = ["halfcheetah"]  # the stale cells, not asked and still not this config's: aside, never in the table
    again = agent_data.measure(args, {"cells": table["cells"], "stale": table["stale"], "mixes": table["mixes"]})
    assert again["cells"] == [] and sorted(c["task"] for c in again["stale"]) == ["halfcheetah", "maze"]
    args.set = []  # the config they were trained with again: back in the table, with their mixes as recorded
    again = agent_data.measure(args, {"cells": again["cells"], "stale": again["stale"], "mixes": again["mixes"]})
    assert [c["task"] for c in again["cells"]] == ["maze", "halfcheetah"] and again["stale"] == []
    assert again["mixes"]["maze:25"]["agent"] == {"transitions": 9}
    args.tasks, args.runs = ["maze"], 3  # fewer runs than asked: neither reused nor kept
    assert agent_data.measure(args, ledger)["cells"] == []

    for text, error in [('{"cells": 3}', r"bad.json: expected a JSON object with a 'cells' list"),
                        ("[1]", r"bad.json: expected a JSON object"),
                        ('{"cells": [{"task": "pong", "method": "bc", "share": 0, "runs": [1, 2]}]}',
                         r"bad.json: cells\[0\]: expected a task of \['maze', 'halfcheetah'\]"),
                        ('{"cells": [], "stale": [{"task": "maze", "method": "bc", "share": 0, "runs": [1]}]}',
                         r"bad.json: stale\[0\]: expected 'runs' a list of at least 2 finite scores")]:
        with open("bad.json", "w") as f:
            f.write(text)
        with pytest.raises(ValueError, match=error):
            agent_data.load_ledger("bad.json")


def test_a_comparison_cell_with_the_config_asked_is_the_0_percent_cell(agent_data):
    args = type("Args", (), {"preset": "smoke", "runs": 2, "set": [], "quiet": True, "tasks": ["maze"],
                             "shares": [0], "methods": ["bc", "dbc"], "no_train": True,
                             "workdir": "runs/agent_data_smoke"})()
    path, _ = agent_data.mix_path("maze", 0, args)
    config = agent_data.portable(agent_data.run_config("maze", 0, "bc", path, args), "ours")
    runs = [{"seed": s, "score": score, "episodes": 4, "stderr": 2.0} for s, score in enumerate([75.0, 100.0])]
    other = agent_data.portable(agent_data.run_config("maze", 0, "dbc", path, args), "ours")
    other["policy"]["lr"] = 0.5  # DBC's recorded config is not the one asked: not taken
    cells = [{"task": "maze", "data": "paper", "method": "bc", "metric": "success", "config": config,
              "runs": [{**r, "score": 1.0} for r in runs]},  # the paper's demos: not this study's 0%
             {"task": "maze", "data": "ours", "method": "bc", "metric": "success", "runs": runs,
              "config": config, "wall_s": {"policy_s": 9.0}, "code": []},
             {"task": "maze", "data": "ours", "method": "dbc", "metric": "success", "runs": runs, "config": other}]
    with open("compare_smoke.json", "w") as f:
        json.dump({"cells": cells}, f)
    table = agent_data.measure(args, {"cells": [], "stale": [], "mixes": {}},
                               agent_data.load_comparison("compare_smoke.json"))
    (bc,) = table["cells"]
    assert (bc["method"], bc["runs"], bc["episodes_per_run"]) == ("bc", [75.0, 100.0], 4)
    assert bc["stderr_per_run"] == [2.0, 2.0]
    assert bc["score"]["mean"] == 87.5 and bc["workdir"] == "compare_smoke.json: maze:ours bc"
    assert table["missing"] == ["maze 0% DBC (runs/agent_data_smoke/maze_agent0_dbc_n2)"]
    cells[1]["runs"] = []  # a broken comparison stops before any training, naming the file and the cell
    with open("compare_smoke.json", "w") as f:
        json.dump({"cells": cells}, f)
    with pytest.raises(ValueError, match=r"compare_smoke.json: cells\[1\]: expected runs with score"):
        agent_data.load_comparison("compare_smoke.json")
    assert agent_data.load_comparison("") == {} and agent_data.load_comparison("absent.json") == {}


def test_each_trained_cell_is_published_before_the_next_starts(agent_data):
    """A campaign stopped between cells keeps what finished; a recorded cell not reached yet keeps its place."""
    args = type("Args", (), {"preset": "smoke", "runs": 2, "set": [], "quiet": True, "tasks": ["maze"],
                             "shares": [0, 25], "methods": ["bc"], "no_train": False,
                             "workdir": "runs/agent_data_smoke"})()
    path, mix = agent_data.mix_path("maze", 25, args)
    config = agent_data.portable(agent_data.run_config("maze", 25, "bc", path, args), "ours")
    later = {"task": "maze", "share": 25, "method": "bc", "metric": "success", "runs": [50.0, 60.0],
             "episodes_per_run": 4, "stderr_per_run": [1.0, 1.0], "config": config}
    published = []
    table = agent_data.measure(args, {"cells": [later], "stale": [], "mixes": {"maze:25": mix}}, {},
                               published.append)
    assert len(published) == 1  # the 0% cell, trained; the 25% one was recorded
    assert [(c["share"], len(c["runs"])) for c in published[0]["cells"]] == [(0, 2), (25, 2)]
    assert published[0]["cells"][1]["runs"] == [50.0, 60.0] and published[0]["stale"] == []
    assert table["cells"] == published[0]["cells"]

    # Stopped after its first trained cell, the published table lists the cells it has not reached.
    def stop(table):
        published.append(table)
        raise KeyboardInterrupt

    args.shares = [50, 0]
    with pytest.raises(KeyboardInterrupt):
        agent_data.measure(args, {"cells": [], "stale": [], "mixes": {}}, {}, stop)
    assert [(c["share"], c["method"]) for c in published[-1]["cells"]] == [(50, "bc")]
    assert published[-1]["missing"] == ["maze 0% BC (not trained yet)"]
