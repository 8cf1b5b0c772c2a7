"""PointFork: the env's spaces and rules, and an expert whose two ways are balanced, separated and successful."""

import gymnasium as gym
import numpy as np
import pytest
from scipy import stats

import dbc_jax  # noqa: F401  (registers the tasks)
from dbc_jax.envs.fork import BLOCK_CENTRE, BLOCK_HALF, GOAL, SUCCESS_RADIUS, path_mode, touches_block
from dbc_jax.experts.fork import FORK, ForkExpert, generate_demos
from dbc_jax.tasks import TASKS


def test_reset_and_step_shapes_and_rules():
    env = gym.make(TASKS["fork"].env_id)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4,) and np.all(np.abs(obs[:2]) <= 0.1)
    obs, reward, terminated, truncated, info = env.step(np.array([0.0, 1.0]))
    assert obs.shape == (4,) and obs[3] > 0  # pushed up: moving up
    assert reward == pytest.approx(np.exp(-np.linalg.norm(obs[:2] - GOAL)))
    assert not terminated and not truncated and info["success"] is False
    env.close()


def test_straight_up_is_stopped_by_the_block():
    """The average of the two ways (straight up) runs into the block and never gets past it."""
    env = gym.make(TASKS["fork"].env_id)
    obs, _ = env.reset(seed=1)
    positions = [obs[:2]]
    for _ in range(TASKS["fork"].horizon):
        obs, _, terminated, truncated, info = env.step(np.array([0.0, 1.0]))
        positions.append(obs[:2])
        if terminated or truncated:
            break
    assert truncated and not info["success"]
    assert max(p[1] for p in positions) < BLOCK_CENTRE[1] - BLOCK_HALF[1]  # held below the block's near edge
    assert path_mode(np.array(positions)) == "stuck"
    env.close()


def test_expert_modes_are_balanced_separated_and_successful():
    demos = generate_demos(200, seed=0, progress=False)
    sides = np.array(demos.metadata["sides"])
    assert demos.num_episodes == 200 and demos.metadata["redrawn_episodes"] == 0
    # each side with probability 1/2: a two-sided binomial test does not reject it at the 1% level
    assert stats.binomtest(int((sides == 1).sum()), len(sides), 0.5).pvalue > 0.01
    ends = np.asarray(demos.episode_ends)
    starts = np.concatenate([[0], ends[:-1]])
    for start, end, side in zip(starts, ends, sides):
        path = demos.next_obs[start:end, :2]
        assert np.linalg.norm(path[-1] - GOAL) <= SUCCESS_RADIUS  # every demo ends at the goal
        assert path_mode(path) == ("left" if side < 0 else "right")
        beside = path[np.abs(path[:, 1] - BLOCK_CENTRE[1]) <= BLOCK_HALF[1]]  # rows level with the block
        assert np.all(np.abs(beside[:, 0]) > BLOCK_HALF[0])  # clear of it: the ways are separated by the block
    # At the fork (each demo's first state within 0.2 of it, where the expert turns) the states are alike and the
    # actions opposite: the state does not tell the two ways apart.
    fork = np.array([start + np.flatnonzero(np.linalg.norm(demos.obs[start:end, :2] - FORK, axis=1) < 0.2)[0]
                     for start, end in zip(starts, ends)])
    for s in (-1, 1):
        assert np.abs(demos.obs[fork[sides == s], 0]).max() < 0.1  # on the trunk, whichever side follows
    assert abs(demos.obs[fork[sides < 0], 0].mean() - demos.obs[fork[sides > 0], 0].mean()) < 0.02
    assert demos.actions[fork[sides < 0], 0].mean() < -0.8 and demos.actions[fork[sides > 0], 0].mean() > 0.8


def test_expert_side_can_be_fixed():
    expert = ForkExpert(np.random.default_rng(0))
    assert expert.reset(side=-1) == -1 and expert.waypoints[1][0] < -BLOCK_HALF[0]
    assert expert.reset(side=1) == 1 and expert.waypoints[1][0] > BLOCK_HALF[0]


@pytest.mark.parametrize("path, mode", [
    ([[0, 0], [-1, 1], [-1, 2.3], [0, 3]], "left"),
    ([[0, 0], [1, 1], [1, 2.5], [np.nan, np.nan]], "right"),
    ([[0, 0], [0, 1.6], [0.1, 1.6]], "stuck"),
])
def test_path_mode(path, mode):
    assert path_mode(np.array(path, float)) == mode


def test_touches_block():
    assert touches_block(np.array([[0.0, 0.0], [0.0, 1.64]]))  # the ball's edge 0.01 from the block's near face
    assert not touches_block(np.array([[0.0, 0.0], [0.0, 1.5], [np.nan, np.nan]]))
    assert not touches_block(np.array([[-1.0, 1.0], [-0.65, 2.0], [0.0, 3.0]]))  # 0.15 beside it
    assert touches_block(np.array([[-0.58, 2.0]]))  # 0.08 beside it: the ball's surface touches


def test_multimodal_rows_count_each_way_per_run(fewer_resamples):
    """experiments/multimodal.py's row: per-run shares of each way and of hits, and the balance of the two ways."""
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
    import multimodal


    success = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], bool)
    modes = np.array([[0, 1, 2, 2], [0, 0, 0, 0]])  # run 1: left, right, stuck x 2; run 2: always left
    hit = np.array([[0, 0, 1, 1], [0, 0, 0, 0]], bool)
    row = multimodal.summarize("X", success, modes, hit)
    assert row["success_per_run"] == [50.0, 100.0] and row["stuck_per_run"] == [50.0, 0.0]
    assert row["left_per_run"] == [25.0, 100.0] and row["right_per_run"] == [25.0, 0.0]
    assert row["hit_per_run"] == [50.0, 0.0] and row["balance_per_run"] == [0.5, 0.0]
    assert row["success"]["mean"] == pytest.approx(75.0) and row["runs"] == 2 and row["episodes_per_run"] == 4


def test_multimodal_page_and_figure_come_back_from_the_json_alone(tmp_path, monkeypatch, capsys, fewer_resamples):
    """A method's finished rows are reused without their workdir (a clean clone); a method not asked is kept; a
    recorded method whose config differs is not reused."""
    import json
    import os
    import shutil
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
    import multimodal

    monkeypatch.chdir(tmp_path)
    base = ["--preset", "smoke", "--runs", "2", "--quiet", "--out", "out"]
    multimodal.main(base + ["--methods", "bc"])
    page, paths = (open(f"out/multimodal_smoke{end}").read() for end in (".md", "_paths.json"))
    figure = json.loads(paths)["BC"]
    assert len(figure["paths"]) == len(figure["success"]) == 4 and len(figure["paths"][0][0]) == 2  # (x, y)
    shutil.rmtree("runs")
    os.remove("out/multimodal_smoke.png")
    multimodal.main(base + ["--methods", "bc", "--no-train"])
    assert open("out/multimodal_smoke.md").read() == page and open("out/multimodal_smoke_paths.json").read() == paths
    assert os.path.getsize("out/multimodal_smoke.png") > 10_000
    multimodal.main(base + ["--methods", "dbc", "--no-train"])  # BC not asked: kept
    assert "not trained: DBC" in capsys.readouterr().out
    assert [r["method"] for r in json.load(open("out/multimodal_smoke.json"))["rows"]] == ["BC"]
    multimodal.main(base + ["--methods", "bc", "--no-train", "--lambdas", "3"])  # λ is DBC's: BC still reused
    assert [r["method"] for r in json.load(open("out/multimodal_smoke.json"))["rows"]] == ["BC"]
    table = json.load(open("out/multimodal_smoke.json"))
    table["runs_info"]["bc"]["config"]["policy"]["lr"] = 0.5  # trained with another config: not this cell
    with open("out/multimodal_smoke.json", "w") as f:
        json.dump(table, f)
    multimodal.main(base + ["--methods", "bc", "--no-train"])
    table = json.load(open("out/multimodal_smoke.json"))
    assert table["rows"] == [] and "not trained: BC" in capsys.readouterr().out
    assert [r["method"] for r in table["stale"]["bc"]["rows"]] == ["BC"]  # kept aside, never dropped
    multimodal.main(base + ["--methods", "dp", "--no-train"])  # in later runs that do not ask for it too
    assert list(json.load(open("out/multimodal_smoke.json"))["stale"]) == ["bc"]
    with open("out/multimodal_smoke.json", "w") as f:
        json.dump({**table, "rows": [{"method": "Pong"}]}, f)
    with pytest.raises(ValueError, match=r"multimodal_smoke.json: rows: expected rows each naming a method of"):
        multimodal.main(base + ["--no-train"])


def test_multimodal_keeps_each_method_as_soon_as_it_is_trained(tmp_path, monkeypatch, fewer_resamples):
    """The JSON is written after every trained method: an interrupted command keeps the methods it finished."""
    import json
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
    import multimodal

    monkeypatch.chdir(tmp_path)
    real_train = multimodal.dbc_jax.train

    def train(config, progress=True):
        if config.algo == "dbc":
            raise KeyboardInterrupt
        return real_train(config, progress)

    monkeypatch.setattr(multimodal.dbc_jax, "train", train)
    with pytest.raises(KeyboardInterrupt):
        multimodal.main(["--preset", "smoke", "--runs", "2", "--quiet", "--out", "out", "--methods", "bc", "dbc"])
    table = json.load(open("out/multimodal_smoke.json"))
    assert [r["method"] for r in table["rows"]] == ["BC"] and list(table["runs_info"]) == ["bc"]
    assert list(json.load(open("out/multimodal_smoke_paths.json"))) == ["BC"]
    assert table["missing"] == ["DBC"]  # the interrupted method is listed, on the page too
    assert "Not trained yet: DBC. The same command trains them" in open("out/multimodal_smoke.md").read()
