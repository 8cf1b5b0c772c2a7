"""HandRotate (dbc_jax/envs/hand.py): the 68-D observation with the goal position zeroed, the official easy reset
and goal ranges, and the success rule ending the episode."""

import numpy as np
import pytest

from dbc_jax.envs import hand


@pytest.fixture(scope="module")
def env():
    return hand.HandRotateEnv()


def yaw(quat) -> float:
    w, x, y, z = quat
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def test_observation_layout_matches_the_simulator(env):
    obs, _ = env.reset(seed=0)
    obs, *_ = env.step(np.random.default_rng(0).uniform(-1, 1, 20))
    u = env.unwrapped
    block = u._utils.get_joint_qpos(u.model, u.data, "object:joint")
    assert obs.shape == (68,) and env.observation_space.shape == (68,) and env.action_space.shape == (20,)
    np.testing.assert_array_equal(obs[hand.BLOCK_POS], block[:3])
    np.testing.assert_array_equal(obs[hand.BLOCK_QUAT], block[3:])
    np.testing.assert_array_equal(obs[hand.BLOCK_QVEL], u._utils.get_joint_qvel(u.model, u.data, "object:joint"))
    np.testing.assert_array_equal(obs[hand.GOAL_POS], 0.0)  # the easy obs: the ignored goal position is hidden
    np.testing.assert_array_equal(obs[hand.GOAL_QUAT], u.goal[3:])
    robot_qpos, robot_qvel = u._utils.robot_get_obs(u.model, u.data, u._model_names.joint_names)
    np.testing.assert_array_equal(obs[hand.ROBOT_QPOS], robot_qpos)
    np.testing.assert_array_equal(obs[hand.ROBOT_QVEL], robot_qvel)


def test_easy_reset_and_goal_ranges(env):
    drawn_yaws, offsets, goal_yaws, angles = [], [], [], []
    for seed in range(200):
        obs, info = env.reset(seed=seed)
        drawn_yaws.append(env.unwrapped.drawn_yaw)
        offsets.append(env.unwrapped.drawn_offset)
        goal_yaws.append(yaw(obs[hand.GOAL_QUAT]))
        angles.append(info["angle"])
        assert obs[hand.BLOCK_POS][2] > 0.04  # on the palm
    drawn_yaws, goal_yaws = np.asarray(drawn_yaws), np.asarray(goal_yaws)
    assert drawn_yaws.min() >= -np.pi / 6 and drawn_yaws.max() <= np.pi / 6  # U(-pi/6, pi/6) about z
    assert drawn_yaws.max() - drawn_yaws.min() > 0.9 * np.pi / 3
    assert np.std(offsets) == pytest.approx(0.005, rel=0.15)  # N(0, 0.005) x noise_ratio 1
    assert goal_yaws.min() >= np.pi / 3 and goal_yaws.max() <= 2 * np.pi / 3  # absolute U(pi/3, 2pi/3)
    assert goal_yaws.max() - goal_yaws.min() > 0.9 * np.pi / 3
    assert min(angles) > hand.ROTATION_THRESHOLD  # no episode starts solved (measured 0.64 to 2.08 rad)


def test_success_below_a_tenth_of_a_radian_ends_the_episode(env):
    env.reset(seed=1)
    u = env.unwrapped
    block = u._utils.get_joint_qpos(u.model, u.data, "object:joint").copy()
    for offset, success in ((0.05, True), (0.2, False)):
        block[3:] = hand.quat_from_angle_and_axis(offset, hand.Z)
        u.goal[3:] = hand.quat_from_angle_and_axis(0.0, hand.Z)
        u._utils.set_joint_qpos(u.model, u.data, "object:joint", block)
        u._utils.set_joint_qvel(u.model, u.data, "object:joint", np.zeros(6))
        _, _, terminated, truncated, info = env.step(np.zeros(20))
        assert info["success"] == success == terminated and not truncated
        assert info["angle"] == pytest.approx(u.rotation_angle())


def test_training_variant_scales_progress_pays_a_bonus_and_ends_when_dropped():
    official, trained = hand.HandRotateEnv(), hand.HandRotateEnv(reward_scale=20.0, success_bonus=10.0,
                                                                  terminate_when_dropped=True)
    action = np.random.default_rng(1).uniform(-1, 1, 20)
    for e in (official, trained):
        e.reset(seed=3)
    (_, r_official, *_), (_, r_trained, *_) = official.step(action), trained.step(action)
    assert r_official != 0 and r_trained == pytest.approx(20.0 * r_official)  # progress in rad, scaled
    for e, ends in ((official, False), (trained, True)):  # the block placed below the palm: dropped
        u = e.unwrapped
        block = u._utils.get_joint_qpos(u.model, u.data, "object:joint").copy()
        block[2] = 0.05
        u._utils.set_joint_qpos(u.model, u.data, "object:joint", block)
        _, _, terminated, _, info = e.step(np.zeros(20))
        assert info["dropped"] and e.block_height() < hand.DROP_HEIGHT and terminated == ends and not info["success"]
    trained.reset(seed=1)
    u = trained.unwrapped
    block = u._utils.get_joint_qpos(u.model, u.data, "object:joint").copy()
    block[3:] = hand.quat_from_angle_and_axis(0.05, hand.Z)
    u.goal[3:] = hand.quat_from_angle_and_axis(0.0, hand.Z)
    u._utils.set_joint_qpos(u.model, u.data, "object:joint", block)
    trained._angle = 1.0  # progress of 1 - angle this step
    _, reward, terminated, _, info = trained.step(np.zeros(20))
    assert info["success"] and terminated
    assert reward == pytest.approx(20.0 * (1.0 - info["angle"]) + 10.0)
    with pytest.raises(ValueError, match="HandRotate reward_scale: must be > 0, got 0"):
        hand.HandRotateEnv(reward_scale=0)


def test_registered_env_runs_50_steps_unless_success_ends_it():
    import gymnasium as gym

    import dbc_jax  # noqa: F401  (registers the envs)
    from dbc_jax.tasks import get_task

    env = gym.make(get_task("handrotate").env_id)
    assert env.spec.max_episode_steps == 50
    env.reset(seed=0)
    for step in range(1, 51):
        _, _, terminated, truncated, info = env.step(np.zeros(20))  # zero actions never succeed (notes, section 6)
        assert not terminated and not info["success"]
        if truncated:
            break
    assert step == 50 and truncated
    env.close()


def test_shipped_expert_succeeds_in_at_least_90_percent_of_200_episodes():
    """The shipped SAC expert on the official env (deterministic, 200 episodes of one evaluator call)."""
    import jax

    from dbc_jax.evaluate import CMujocoEvaluator
    from dbc_jax.experts.learned import expert_policy_fn
    from dbc_jax.tasks import get_task

    task = get_task("handrotate")
    params, policy_fn = expert_policy_fn("handrotate")
    result = CMujocoEvaluator(task.env_id, {}, 1, 200, policy_fn)(params, jax.random.PRNGKey(0))
    assert result.success[0] >= task.expert_bar, result.success
    assert result.episode_length[0] < 50  # successes end their episodes


def test_expert_card_names_command_seed_steps_and_success():
    from dbc_jax.experts import sac
    from dbc_jax.tasks import get_task

    _, card = sac.load_actor(sac.weights_path("handrotate"))
    assert card["env"] == "handrotate" and card["command"].startswith("make expert ENV=handrotate")
    assert isinstance(card["seed"], int) and card["step"] > 0 and 0 <= card["success_rate"] <= 1
    assert card["train_env"] == get_task("handrotate").expert_train_env  # trained on the registry's training env


def test_demos_are_successful_episodes_counted_in_transitions_and_smoke_train(tmp_path):
    import dbc_jax
    from dbc_jax.data import load_dataset
    from dbc_jax.demos import make_demos
    from dbc_jax.train import evaluate_workdir

    config = dbc_jax.get_config("handrotate", "smoke")
    config.workdir, config.data.path = str(tmp_path / "run"), str(tmp_path / "demos.npz")
    make_demos(config, config.data.path, progress=False)
    demos = load_dataset(config.data.path)
    assert len(demos.obs) == config.data.expert.num_transitions == 300
    assert demos.obs.shape[1:] == (68,) and demos.actions.shape[1:] == (20,)
    np.testing.assert_array_equal(demos.obs[:, hand.GOAL_POS], 0.0)
    lengths = np.diff(np.concatenate([[0], demos.episode_ends]))
    assert np.all(lengths <= 50) and demos.metadata["last_episode_cut_by"] >= 0
    last = demos.next_obs[demos.episode_ends[:-1] - 1]  # every whole episode ends in success
    diff = hand.rotations.quat_mul(last[:, hand.GOAL_QUAT], hand.rotations.quat_conjugate(last[:, hand.BLOCK_QUAT]))
    angles = 2 * np.arccos(np.clip(np.abs(diff[:, 0]), -1, 1))
    assert np.all(angles < hand.ROTATION_THRESHOLD + 1e-4), angles  # 1e-4: the float32 quaternions of the file
    assert "SAC expert" in demos.metadata["source"]
    results = dbc_jax.train(config, progress=False)
    assert results.metric == "success" and results.per_seed.shape == (3,)
    assert np.all((results.per_seed >= 0) & (results.per_seed <= 100))
    np.testing.assert_array_equal(evaluate_workdir(config.workdir).per_seed, results.per_seed)


def test_the_first_evaluator_of_a_process_is_freed():
    """gymnasium_robotics keeps an ImportError whose traceback held the frames that first imported it: the first
    evaluator's envs (about 7 GB at 512 HandRotate envs) lived as long as the process. In a fresh interpreter, so
    that the env module is first imported inside the evaluator."""
    import subprocess
    import sys

    code = """
import gc, weakref
import jax.numpy as jnp
from dbc_jax.evaluate import CMujocoEvaluator
evaluator = CMujocoEvaluator("dbc_jax/HandRotate-v0", {}, 1, 2, lambda p, o, k: jnp.zeros((o.shape[0], 20)))
alive = weakref.ref(evaluator)
evaluator.close()
del evaluator
gc.collect()
print("alive" if alive() is not None else "freed")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1:] == ["freed"], out.stderr[-2000:]
