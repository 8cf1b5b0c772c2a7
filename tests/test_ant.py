"""AntReach (dbc_jax/envs/ant.py): the model's official changes, observation layout, reset distribution, success
rule and horizon."""

import os

import gymnasium as gym
import jax
import mujoco
import numpy as np
import pytest

import dbc_jax  # noqa: F401  (registers the envs)
from dbc_jax.envs import ant
from dbc_jax.tasks import get_task


def make(**kwargs):
    return gym.make(get_task("antreach").env_id, **kwargs)


def test_model_has_the_official_changes():
    env = make()
    model = env.unwrapped.model
    assert (model.nq, model.nv, model.nu) == (22, 20, 8)
    assert model.opt.timestep == 0.02 and model.opt.integrator == mujoco.mjtIntegrator.mjINT_RK4
    assert env.unwrapped.frame_skip == 5 and env.unwrapped.dt == pytest.approx(0.1)
    np.testing.assert_array_equal(model.geom_solref, np.tile([0.02, 1.0], (model.ngeom, 1)))
    np.testing.assert_array_equal(model.geom_solimp[:, :3], np.tile([0.8, 0.8, 0.01], (model.ngeom, 1)))
    np.testing.assert_array_equal(model.numeric_data, ant.INIT_QPOS)
    np.testing.assert_array_equal(model.actuator_gear[:, 0], 150.0)

    def collide(a, b):
        return bool(model.geom_contype[a] & model.geom_conaffinity[b]
                    or model.geom_contype[b] & model.geom_conaffinity[a])

    geom = {mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, i): i for i in range(model.ngeom)}
    goal_body = model.body("goal").id
    ant_geoms = [i for i in range(model.ngeom) if model.geom_bodyid[i] not in (0, goal_body)]
    assert len(ant_geoms) == 13
    assert all(collide(geom[f"goal_foot{i}"], geom["floor"]) for i in range(4))
    assert not any(collide(g, a) for g in np.flatnonzero(model.geom_bodyid == goal_body) for a in ant_geoms)
    assert all(collide(a, geom["floor"]) for a in ant_geoms)


def test_observation_layout_matches_the_simulator():
    env = make()
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(7):
        obs, *_ = env.step(rng.uniform(-1, 1, 8))
    data, goal = env.unwrapped.data, env.unwrapped.goal
    assert obs.shape == (42,)
    assert obs[ant.TORSO_Z] == data.qpos[2]
    np.testing.assert_array_equal(obs[ant.TORSO_QUAT], data.qpos[3:7])
    np.testing.assert_array_equal(obs[ant.JOINTS], data.qpos[7:15])
    np.testing.assert_array_equal(obs[ant.GOAL_POS], data.qpos[15:18])
    np.testing.assert_array_equal(obs[ant.GOAL_QUAT], data.qpos[18:22])
    np.testing.assert_array_equal(obs[ant.TORSO_VEL], data.qvel[:6])
    np.testing.assert_array_equal(obs[ant.JOINT_VEL], data.qvel[6:14])
    np.testing.assert_array_equal(obs[ant.GOAL_VEL], data.qvel[14:])
    np.testing.assert_array_equal(obs[ant.GOAL_DELTA], goal - data.qpos[:2])


def test_reset_distribution():
    env = make()
    init = np.asarray(ant.INIT_QPOS)
    angles, devs, vels = [], [], []
    for seed in range(300):
        env.reset(seed=seed)
        u = env.unwrapped
        goal = u.goal
        assert np.linalg.norm(goal) == pytest.approx(5.0)
        np.testing.assert_array_equal(u.data.qpos[15:17], goal)  # written into the goal body
        angles.append(np.arctan2(goal[1], goal[0]))
        devs.append(np.delete(u.data.qpos - init, [15, 16]))
        vels.append(u.data.qvel.copy())
    angles, devs, vels = np.asarray(angles), np.abs(devs), np.abs(vels)
    assert angles.min() >= 0 and angles.max() <= np.pi  # the upper half circle, covered
    assert angles.min() < 0.05 and angles.max() > np.pi - 0.05
    assert np.histogram(angles, bins=4, range=(0, np.pi))[0].min() > 50  # uniform: 75 expected per bin
    assert devs.max() <= 0.01 and devs.max() > 0.0099  # U(-0.01, 0.01) on every entry
    assert vels.max() <= 0.005 and vels.max() > 0.00495
    noisy = make(reset_noise=0.1)
    noisy.reset(seed=0)
    assert 0.01 < np.abs(np.delete(noisy.unwrapped.data.qpos - init, [15, 16])).max() <= 0.1


def test_episode_runs_50_steps_and_the_goal_body_settles():
    env = make()
    env.reset(seed=0)
    rng = np.random.default_rng(1)
    goal_z, ends = [], []
    for t in range(50):
        obs, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 8) * 3)  # unclipped: MuJoCo clamps
        goal_z.append(obs[ant.GOAL_POS][2])
        ends.append((terminated, truncated))
    assert ends[:-1] == [(False, False)] * 49 and ends[-1] == (False, True)  # never ended early, even if flipped
    assert goal_z[0] < 0.5  # starts inside the floor, pops up
    np.testing.assert_allclose(goal_z[10:], 0.519, atol=2e-3)  # and rests (measured 0.5192 from step 10)


def test_success_within_half_a_metre_is_sticky():
    env = make()
    env.reset(seed=0)
    u = env.unwrapped
    zero = np.zeros(8)

    def put_torso(offset):
        qpos = u.data.qpos.copy()
        qpos[:2] = u.goal + offset
        u.set_state(qpos, np.zeros(u.model.nv))

    put_torso([0.6, 0.0])
    *_, info = env.step(zero)
    assert not info["success"] and info["distance"] > 0.5
    put_torso([0.3, 0.0])
    *_, info = env.step(zero)
    assert info["success"] and info["distance"] < 0.5
    put_torso([3.0, 0.0])
    *_, info = env.step(zero)
    assert info["success"] and info["distance"] > 2.5  # found once, success stays
    env.reset(seed=1)
    *_, info = env.step(zero)
    assert not info["success"]  # reset clears it


def test_training_variant_rewards_progress_and_ends_when_fallen():
    env = make(reward="progress", terminate_when_fallen=True)
    env.reset(seed=0)
    u = env.unwrapped
    action = np.full(8, 0.5)
    before = u.distance()
    _, reward, terminated, _, info = env.step(action)
    assert reward == pytest.approx(5 * (before - info["distance"]) / 0.1 + 1.0 - 0.5 * 8 * 0.25)
    assert not terminated
    qpos = u.data.qpos.copy()
    for tilt, fallen in ((np.radians(55), False), (np.radians(65), True)):  # fallen: tilted beyond 60 degrees
        qpos[3:7] = [np.cos(tilt / 2), np.sin(tilt / 2), 0.0, 0.0]
        u.set_state(qpos, np.zeros(u.model.nv))
        assert u.fallen() == fallen and u.up_z() == pytest.approx(np.cos(tilt))
    qpos[3:7] = [0.0, 1.0, 0.0, 0.0]  # upside down (rotated by pi about x)
    qpos[2] = 0.3
    u.set_state(qpos, np.zeros(u.model.nv))
    assert u.fallen() and u.up_z() == pytest.approx(-1.0)
    before = u.distance()
    _, reward, terminated, _, info = env.step(np.zeros(8))
    assert terminated and reward == pytest.approx(5 * (before - info["distance"]) / 0.1)  # no healthy bonus
    with pytest.raises(ValueError, match="AntReach reward: expected 'official' or 'progress', got 'dense'"):
        make(reward="dense")


def test_reach_bonus_is_paid_each_step_within_the_success_radius():
    plain, bonus = make(reward="progress"), make(reward="progress", reach_bonus=10.0)
    for env in (plain, bonus):
        env.reset(seed=0)
        qpos = env.unwrapped.data.qpos.copy()
        qpos[:2] = env.unwrapped.goal + [0.2, 0.0]  # inside the 0.5 m radius
        env.unwrapped.set_state(qpos, np.zeros(env.unwrapped.model.nv))
    (_, r_plain, *_), (_, r_bonus, *_) = plain.step(np.zeros(8)), bonus.step(np.zeros(8))
    assert r_bonus == pytest.approx(r_plain + 10.0)
    with pytest.raises(ValueError, match="AntReach reach_bonus=10.0: only the 'progress' reward takes a bonus"):
        make(reach_bonus=10.0)


def test_shipped_expert_succeeds_in_at_least_95_percent_of_200_episodes():
    """The shipped SAC expert on the official env (deterministic, 200 episodes of one evaluator call)."""
    from dbc_jax.evaluate import CMujocoEvaluator
    from dbc_jax.experts.learned import expert_policy_fn

    params, policy_fn = expert_policy_fn("antreach")
    result = CMujocoEvaluator(get_task("antreach").env_id, {}, 1, 200, policy_fn)(params, jax.random.PRNGKey(0))
    assert result.success[0] >= get_task("antreach").expert_bar, result.success
    assert result.episode_length[0] == 50


def test_expert_card_names_command_seed_steps_and_success():
    from dbc_jax.experts import sac

    _, card = sac.load_actor(sac.weights_path("antreach"))
    assert card["env"] == "antreach" and card["command"].startswith("make expert ENV=antreach")
    assert isinstance(card["seed"], int) and card["step"] > 0 and 0 <= card["success_rate"] <= 1
    assert card["train_env"] == get_task("antreach").expert_train_env  # trained on the registry's training env


def test_demos_keep_successful_episodes_only_and_smoke_trains_on_raw_data(tmp_path):
    from dbc_jax.data import load_dataset
    from dbc_jax.demos import make_demos
    from dbc_jax.train import evaluate_workdir
    from dbc_jax.workdir import restore_workdir

    config = dbc_jax.get_config("antreach", "smoke")
    config.workdir, config.data.path = str(tmp_path / "run"), str(tmp_path / "demos.npz")
    make_demos(config, config.data.path, progress=False)
    demos = load_dataset(config.data.path)
    assert demos.num_episodes == 4 and len(demos.obs) == 200  # 4 successful 50-step episodes
    assert demos.obs.shape[1:] == (42,) and demos.actions.shape[1:] == (8,)
    assert "SAC expert" in demos.metadata["source"]
    results = dbc_jax.train(config, progress=False)
    assert results.metric == "success" and results.per_seed.shape == (3,)
    assert np.all((results.per_seed >= 0) & (results.per_seed <= 1))
    assert np.all(results.evaluation.episode_length == 50)
    assert "trajectories" not in results.paths  # only tasks that draw their paths write trajectories.png
    assert all(os.path.exists(path) for path in results.paths.values()), results.paths
    restored = restore_workdir(config.workdir)
    assert not restored.normalizer.enabled  # data.normalize = False: raw values, as the official AntReach
    np.testing.assert_array_equal(evaluate_workdir(config.workdir).per_seed, results.per_seed)


def test_demos_counted_in_transitions_cut_the_last_episode_and_name_the_file(tmp_path):
    """``data.expert.num_transitions`` (HandRotate's 10,000): whole successful episodes, the last one cut."""
    from dbc_jax.experts.learned import generate_demos
    from dbc_jax.demos import default_data_path

    demos = generate_demos("antreach", num_episodes=100, num_transitions=120, progress=False)
    assert len(demos.obs) == len(demos.actions) == len(demos.next_obs) == len(demos.rewards) == 120
    np.testing.assert_array_equal(demos.episode_ends, [50, 100, 120])  # the third 50-step episode cut at 20
    assert demos.metadata["num_transitions"] == 120 and demos.metadata["last_episode_cut_by"] == 30
    whole = generate_demos("antreach", num_episodes=3, progress=False)
    np.testing.assert_array_equal(demos.obs, whole.obs[:120])  # the same episodes, from the same seed
    config = dbc_jax.get_config("antreach", "smoke")
    assert default_data_path(config) == os.path.join("data", "antreach_expert_4ep.npz")
    config.data.expert.num_transitions = 120
    assert default_data_path(config) == os.path.join("data", "antreach_expert_120tr.npz")
