"""The Maze2D-Medium env: registration, observation, reset distribution, success rule, replay fidelity."""

import os

import gymnasium as gym
import numpy as np

import dbc_jax  # noqa: F401  (registers the envs)
from dbc_jax.data import load_dataset
from dbc_jax.envs.maze import MazeEnv, free_cells


def test_registered_with_400_step_limit_and_6d_obs():
    env = gym.make("dbc_jax/Maze2D-Medium-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6,) and env.action_space.shape == (2,)
    assert env.spec.max_episode_steps == 400
    # Pushing into a wall never reaches a far target: the episode is truncated at 400 steps.
    env.unwrapped.set_target(np.array([6.0, 6.0]))
    env.unwrapped.set_state(np.array([1.0, 1.0]), np.zeros(2))
    for t in range(1, 401):
        obs, _, terminated, truncated, info = env.step(np.array([-1.0, -1.0]))
        if terminated or truncated:
            break
    assert (t, terminated, truncated, info["success"]) == (400, False, True, False)


def test_reset_distribution_follows_noise_ratios():
    cells = free_cells()
    for noise, goal_noise in ((1.0, 1.0), (2.0, 0.5)):
        env = MazeEnv(noise_ratio=noise, goal_noise_ratio=goal_noise)
        starts, targets, vels = [], [], []
        for i in range(400):
            obs, _ = env.reset(seed=i)
            starts.append(obs[:2]), vels.append(obs[2:4]), targets.append(obs[4:])
        for pts, scale in ((np.array(starts), noise), (np.array(targets), goal_noise)):
            offset = pts - np.round(pts)
            assert np.abs(offset).max() <= 0.1 * scale + 1e-9
            assert np.abs(offset).max() > 0.09 * scale  # the whole range is used
            assert {tuple(c) for c in np.round(pts)} <= {tuple(c) for c in cells}
        np.testing.assert_allclose(np.std(vels), 0.1 * noise, rtol=0.15)
    assert len({tuple(c) for c in np.round(starts)}) == 26  # every free cell is a start


def test_success_within_half_unit_ends_the_episode():
    env = MazeEnv()
    env.reset(seed=0)
    env.set_target(np.array([3.0, 3.0]))
    env.set_state(np.array([3.0, 3.45]), np.zeros(2))
    _, _, terminated, _, info = env.step(np.zeros(2))
    assert terminated and info["success"] and abs(info["distance"] - 0.45) < 1e-3
    env.set_state(np.array([3.0, 3.6]), np.zeros(2))
    _, _, terminated, _, info = env.step(np.zeros(2))
    assert not terminated and not info["success"]


def test_replay_fidelity_against_the_papers_maze_data(paper_data):
    """Set each dataset state, step with its action, compare with the next observation (stack notes section 10).

    MuJoCo 2 (the paper) and 3 differ slightly at wall contacts: median 1.5e-7, max 3.3e-2 measured.
    """
    d = load_dataset(os.path.join(paper_data, "maze.npz"))
    env = MazeEnv()
    env.reset(seed=0)
    starts = np.r_[0, d.episode_ends[:-1]]
    errors = []
    for s, e in zip(starts, d.episode_ends):
        env.set_target(d.obs[s, 4:])
        for t in range(s, e - 1):
            env.set_state(d.obs[t, :2].astype(np.float64), d.obs[t, 2:4].astype(np.float64))
            obs, *_ = env.step(d.actions[t])
            errors.append(np.abs(obs - d.obs[t + 1]).max())
    errors = np.array(errors)
    print(f"one-step replay of {len(errors)} transitions: median {np.median(errors):.2e}, max {errors.max():.2e}")
    assert np.median(errors) < 1e-6
    assert errors.max() < 0.05
    assert np.mean(errors > 1e-3) < 0.01  # the large errors are rare wall contacts


def test_target_marker_follows_the_target_in_world_coordinates():
    """The rendered marker sits at the target (qpos + 1.2 in world coordinates) after reset, steps and set_target."""
    env = MazeEnv()
    for seed in range(3):
        env.reset(seed=seed)
        for _ in range(3):
            env.step(np.array([0.5, -0.5]))
        np.testing.assert_allclose(env.data.site_xpos[0, :2], env.target + 1.2, atol=1e-12)
    env.set_target(np.array([1.0, 2.0]))
    env.step(np.zeros(2))
    np.testing.assert_allclose(env.data.site_xpos[0, :2], [2.2, 3.2], atol=1e-12)
