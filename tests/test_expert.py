"""The scripted waypoint expert and its demos."""

import numpy as np
import pytest

from dbc_jax.experts.maze import expert_success_rate, generate_demos, shortest_path


def test_shortest_path_through_the_maze():
    path = shortest_path((1, 1), (6, 6))
    assert path[-1] == (6, 6) and len(path) == 10  # the Manhattan distance: no detour needed
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip([(1, 1)] + path, path))


@pytest.mark.parametrize("action_noise", [0.0, 0.5])
def test_expert_success_rate_over_200_episodes(action_noise):
    """With and without the N(0, 0.5) action noise the demos carry."""
    rate = expert_success_rate(num_episodes=200, seed=0, action_noise=action_noise)
    print(f"expert success over 200 episodes (action noise {action_noise}): {rate:.3f}")
    assert rate >= 0.99


def test_demos_are_complete_successful_episodes():
    ds = generate_demos(num_episodes=20, seed=3, progress=False)
    assert ds.num_episodes == 20 and ds.episode_ends[-1] == ds.num_transitions
    starts = np.r_[0, ds.episode_ends[:-1]]
    for s, e in zip(starts, ds.episode_ends):
        assert not np.array_equal(np.round(ds.obs[s, :2]), np.round(ds.obs[s, 4:]))  # start cell != target cell
        assert np.linalg.norm(ds.obs[e - 1, :2] - ds.obs[e - 1, 4:]) < 0.5  # ends inside the success radius
    assert np.abs(ds.actions).max() <= 1.0
    again = generate_demos(num_episodes=20, seed=3, progress=False)
    np.testing.assert_array_equal(ds.actions, again.actions)  # same seed, same demos
