"""FetchPick: the 16-D observation, the holdout sampling, the success rule, the scripted expert, and the smoke
preset end to end (real gymnasium-robotics env on mujoco 3.11)."""

import json
import os
import sys

import gymnasium as gym
import numpy as np
import pytest

import dbc_jax
from dbc_jax.data.dataset import load_dataset
from dbc_jax.envs import fetch
from dbc_jax.experts.fetch import GRASP, PickPlaceExpert, expert_success_rate, generate_demos
from dbc_jax.train import evaluate_workdir


def make_env(noise=1.25):
    return gym.make("dbc_jax/FetchPick-v0", noise_ratio=noise, goal_noise_ratio=noise)


def test_registered_with_50_step_limit_16d_obs_and_4d_action():
    env = make_env()
    assert env.spec.max_episode_steps == 50
    assert env.observation_space.shape == (16,) and env.action_space.shape == (4,)
    obs, _ = env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        obs, _, terminated, truncated, _ = env.step(np.zeros(4))
        if terminated or truncated:
            break
    assert steps == 50 and truncated and not terminated


def test_observation_layout_matches_the_simulator():
    env = make_env()
    obs, _ = env.reset(seed=3)
    for _ in range(3):
        obs, *_ = env.step(np.array([0.3, -0.2, 0.1, 0.5]))
    sim = env.unwrapped
    utils, model, data = sim._utils, sim.model, sim.data
    grip = utils.get_site_xpos(model, data, "robot0:grip")
    obj = utils.get_site_xpos(model, data, "object0")
    np.testing.assert_allclose(obs[fetch.GRIP_POS], grip, atol=1e-12)
    np.testing.assert_allclose(obs[fetch.OBJECT_POS], obj, atol=1e-12)
    np.testing.assert_allclose(obs[fetch.OBJECT_REL_POS], obj - grip, atol=1e-12)
    fingers = [utils.get_joint_qpos(model, data, f"robot0:{side}_gripper_finger_joint")[0] for side in "rl"]
    np.testing.assert_allclose(obs[fetch.FINGERS], fingers, atol=1e-12)
    stock = sim._get_obs()["observation"]  # gym's 25-D: rotation at 11:14, velocities after
    np.testing.assert_allclose(obs[fetch.OBJECT_ROT], stock[11:13], atol=1e-12)
    np.testing.assert_allclose(obs[fetch.GOAL], sim.goal, atol=1e-12)


@pytest.mark.parametrize("noise", [1.0, 2.0])
def test_holdout_sampling_fills_the_boxes_at_a_given_noise_ratio(noise):
    env = make_env(noise)
    sim = env.unwrapped
    objects, goals = [], []
    for seed in range(300):
        obs, _ = env.reset(seed=seed)
        objects.append(obs[fetch.OBJECT_POS][:2] - sim.initial_gripper_xpos[:2])
        goals.append(obs[fetch.GOAL] - np.append(sim.initial_gripper_xpos[:2], sim.height_offset))
    objects, goals = np.array(objects), np.array(goals)
    for samples, (low, high) in ((objects, fetch.object_box(noise)), (goals[:, :2], fetch.goal_box(noise))):
        assert np.all(samples >= low - 1e-9) and np.all(samples <= high + 1e-9)
        # 300 uniform draws come within 3% of the box's width of each side.
        width = high - low
        assert np.all(samples.min(0) - low < 0.03 * width) and np.all(high - samples.max(0) < 0.03 * width)
    np.testing.assert_allclose(goals[:, 2], fetch.GOAL_HEIGHT, atol=1e-12)  # goal in the air
    np.testing.assert_allclose(fetch.object_box(noise)[1] - fetch.object_box(noise)[0], [0.1 * noise, 0.04 * noise])
    np.testing.assert_allclose(fetch.goal_box(noise)[0], [-0.05 * noise, -0.10 - 0.04 * noise])


@pytest.mark.parametrize("offset, success", [(0.03, True), (0.08, False)])
def test_success_is_the_object_within_5cm_of_the_goal_and_ends_the_episode(offset, success):
    env = make_env()
    env.reset(seed=0)
    sim = env.unwrapped
    qpos = sim._utils.get_joint_qpos(sim.model, sim.data, "object0:joint").copy()
    qpos[:3] = sim.goal + [offset, 0.0, 0.0]  # the block falls ~1 cm during the 0.04 s step
    sim._utils.set_joint_qpos(sim.model, sim.data, "object0:joint", qpos)
    sim._mujoco.mj_forward(sim.model, sim.data)
    _, reward, terminated, truncated, info = env.step(np.zeros(4))
    assert info["success"] is success and terminated is success and not truncated
    assert (-reward < fetch.SUCCESS_DISTANCE) is success  # dense reward: minus the distance


def test_expert_succeeds_in_at_least_98_percent_at_noise_1_25():
    assert expert_success_rate(200, seed=0, noise_ratio=1.25) >= 0.98


def test_expert_phases_move_forward_only():
    expert = PickPlaceExpert()
    expert.reset()
    obs = np.zeros(16)
    obs[fetch.OBJECT_REL_POS] = [0.0, 0.0, -0.03]  # the grip 3 cm above the block: the approach is over
    action = expert.act(obs)
    assert expert.phase == GRASP
    np.testing.assert_allclose(action, [0.0, 0.0, 6 * -0.03, -0.005])  # descend with gain 6, fingers closing
    obs[fetch.OBJECT_REL_POS] = [0.2, 0.0, 0.0]  # the block is far again: the phase does not go back
    np.testing.assert_allclose(expert.act(obs), [6 * 0.2, 0.0, 0.0, -0.005])
    assert expert.phase == GRASP


def test_demos_ending_at_success_are_counted_in_steps_and_stop_at_the_first_success():
    full = generate_demos(num_episodes=3, progress=False)
    short = generate_demos(end_at_success=True, num_transitions=80, progress=False)
    assert full.num_transitions == 150 and np.all(np.diff(full.episode_ends, prepend=0) == 50)
    lengths = np.diff(short.episode_ends, prepend=0)
    assert short.num_transitions == 80 and len(lengths) == 3, lengths
    assert 30 <= lengths[0] <= 35 and 30 <= lengths[1] <= 35  # this expert first succeeds at steps 30 to 35
    assert short.metadata["end_at_success"] and short.metadata["last_episode_cut_by"] > 0
    # the same reset draws: each short demo is its full one up to and with the step of its first success
    for k in range(2):
        start, end = short.episode_ends[k] - lengths[k], short.episode_ends[k]
        np.testing.assert_array_equal(short.obs[start:end], full.obs[50 * k:50 * k + lengths[k]])
        distance = np.linalg.norm(short.next_obs[start:end, fetch.OBJECT_POS] - short.next_obs[start:end, fetch.GOAL],
                                  axis=1)
        assert distance[-1] < fetch.SUCCESS_DISTANCE and np.all(distance[:-1] >= fetch.SUCCESS_DISTANCE)


@pytest.fixture
def generalization():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
    import generalization

    yield generalization
    sys.path.pop(0)


def test_smoke_preset_end_to_end_through_the_generalization_script(tmp_path, monkeypatch, generalization):
    monkeypatch.chdir(tmp_path)  # demos go to data/, runs to runs/
    argv = ["generalization.py", "--preset", "smoke", "--methods", "dbc", "--noise", "1", "1.25", "2"]
    monkeypatch.setattr(sys, "argv", argv)
    generalization.main()
    demos = load_dataset("data/fetchpick_expert_10ep.npz")
    assert demos.num_episodes == 10 and demos.num_transitions == 500 and demos.obs_dim == 16
    assert demos.metadata["noise_ratio"] == 1.25 and demos.metadata["redrawn_episodes"] == 0
    train_results = json.load(open("runs/fetchpick_dbc_smoke_seed1/results.json"))
    assert train_results["metric"] == "success" and len(train_results["per_seed"]) == 3
    assert all(length <= 50 for length in train_results["evaluation"]["length"])
    out = "runs/generalization_fetchpick_smoke"
    results = json.load(open(f"{out}/results.json"))
    for per_seed in results["methods"]["dbc"]["success"].values():  # 3 seeds x 4 episodes: multiples of 25 %
        assert len(per_seed) == 3 and all(v % 25 == 0 for v in per_seed)
    assert results["methods"]["dbc"]["success"]["1.25"] == train_results["per_seed"]  # the training noise
    assert "| DBC (paper) | 99.5 ± 0.5 | 97.5 ± 1.9 | 73.5 ± 6.8 |" in open(f"{out}/table.md").read()
    assert open(f"{out}/generalization.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    wider = evaluate_workdir("runs/fetchpick_dbc_smoke_seed1", env={"noise_ratio": 2.0, "goal_noise_ratio": 2.0})
    assert wider.config.env.noise_ratio == 2.0
    np.testing.assert_array_equal(100 * wider.evaluation.success, results["methods"]["dbc"]["success"]["2.0"])
    with pytest.raises(ValueError, match="env override 'noise': not a field of config.env"):
        evaluate_workdir("runs/fetchpick_dbc_smoke_seed1", env={"noise": 2.0})


def test_generalization_script_names_a_broken_results_file_before_training(tmp_path, monkeypatch, generalization):
    (tmp_path / "results.json").write_text('{"noise": [1.0')  # cut short
    argv = ["generalization.py", "--preset", "smoke", "--methods", "dbc", "--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"results\.json, line 1, column 15: not valid JSON"):
        generalization.main()
    assert not os.path.exists(tmp_path / "runs") and not os.path.exists(tmp_path / "data")  # nothing trained


def test_generalization_table_puts_ours_beside_the_paper(generalization):
    table = generalization.markdown_table({"noise": [1.0, 2.0], "methods": {"bc": {"success": {
        "1.0": [100.0, 50.0, 75.0], "2.0": [25.0, 0.0, 50.0]}}}})
    assert "| BC (ours) | 75.0 ± 20.4 | 25.0 ± 20.4 |" in table
    assert "| BC (paper) | 92.4 ± 8.5 | 67.4 ± 8.2 |" in table


def test_the_official_counting_favours_short_successes_and_nothing_else():
    """experiments/fetchpick_gap.py's replay of the official stopping rule (10 envs, stop at 100 finished)."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
    try:
        import fetchpick_gap
    finally:
        sys.path.pop(0)
    count = fetchpick_gap.official_count
    rng = np.random.default_rng(0)
    assert count(np.array([1.0, 0.0]), np.array([30.0, 30.0]), rng, 2000) == pytest.approx(50.0, abs=0.5)
    assert count(np.array([1.0, 0.0]), np.array([10.0, 50.0]), rng, 2000) > 52.0  # short successes over-counted
    assert count(np.array([1.0, 0.0]), np.array([50.0, 10.0]), rng, 2000) < 48.0  # and short failures likewise
    success, length = np.array([1.0, 0.0, 1.0]), np.array([3.0, 50.0, 23.0])
    assert count(success, length, rng, 2000) == pytest.approx(_official_loop(success, length, rng, 200), abs=1.5)


def test_the_gap_page_gives_the_model_width_its_own_section_from_old_and_new_json():
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
    try:
        import fetchpick_gap
    finally:
        sys.path.pop(0)
    with open(os.path.join(os.path.dirname(__file__), "..", "docs", "fetchpick_gap.json")) as f:
        table = json.load(f)
    table["variants"].pop("paper_width", None)  # a JSON written before the width was measured
    table["pairs"].pop(fetchpick_gap.WIDE_PAIR, None)
    old = fetchpick_gap.markdown(table)
    assert "| 1024 wide (the paper's) | not trained | – |" in old and "its term sizes" not in old
    default = table["variants"]["default"]["cells"]["dbc"]
    wide = {**default, "runs": [95.0, 97.0, 96.0, 94.0, 98.0]}
    label = fetchpick_gap.LABELS["paper_width"]
    table["variants"]["paper_width"] = {"sets": [], "label": label, "cells": {"dbc": wide}}
    table["pairs"][fetchpick_gap.WIDE_PAIR] = {"p": 1.0, "ci": [1.0, 1.0]}
    new = fetchpick_gap.markdown(table)
    assert "| 1024 wide (the paper's) | " in new and "| 95, 97, 96, 94, 98 |" in new
    assert new.count("P(DBC with the 1024-wide model > with the 256-wide one) = 1.00 [1.00, 1.00]") == 1
    assert new.index("## 4. The official") < new.index("## 5. λ at the paper's model width")
    assert new.index("## 5. λ") < new.index("P(DBC with the 1024-wide")  # in section 5 only


def _official_loop(success, length, rng, draws: int) -> float:
    """The official loop step by step: 10 envs, each episode drawn at its start, stop once 100 have finished."""
    means = []
    for _ in range(draws):
        current = rng.integers(len(success), size=10)
        left, finished = length[current].copy(), []
        while len(finished) < 100:
            left -= 1
            for env in np.flatnonzero(left == 0):
                finished.append(success[current[env]])
                current[env] = rng.integers(len(success))
                left[env] = length[current[env]]
        means.append(np.mean(finished))
    return 100 * float(np.mean(means))


def test_a_fetchpick_run_from_before_the_demo_options_is_still_the_same_run():
    """A config.json written before ``data.expert`` existed (50-step demos) matches today's default config, and
    not one whose demos end at success."""
    from dbc_jax.workdir import config_differences

    config = dbc_jax.configs.resolve(dbc_jax.get_config("fetchpick", "quick"))
    old = json.loads(config.to_json())
    del old["data"]["expert"]
    assert config_differences(config, dbc_jax.configs.upgrade(old)) == []
    config.data.expert.end_at_success = True
    assert config_differences(config, dbc_jax.configs.upgrade(old)) == ["data"]


def test_a_demo_file_from_before_the_demo_options_is_not_remade(tmp_path, monkeypatch, capsys):
    """Settings a file's metadata lacks were made with the generator's defaults: no needless regeneration."""
    from dbc_jax.demos import default_data_path, prepare_dataset
    from dbc_jax.tasks import get_task

    monkeypatch.chdir(tmp_path)
    config = dbc_jax.configs.resolve(dbc_jax.get_config("fetchpick", "smoke"))
    demos = generate_demos(num_episodes=config.data.num_episodes, progress=False)
    old = {k: v for k, v in demos.metadata.items() if k not in ("end_at_success", "num_transitions")}
    path = default_data_path(config)
    type(demos)(**{**demos.__dict__, "metadata": old}).save(path)
    made = os.path.getmtime(path)
    prepare_dataset(config, get_task("fetchpick"), progress=False)
    assert os.path.getmtime(path) == made and "regenerating" not in capsys.readouterr().out
    config.data.expert.end_at_success = True  # another kind of demos: another file
    assert default_data_path(config).endswith("fetchpick_expert_10ep_to_success.npz")
