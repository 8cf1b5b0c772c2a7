"""The scripted PointFork expert: straight up to a fork point below the block, then round the block on a side drawn
with probability 1/2 per episode, so the demos hold two equally good, clearly separated ways from the same states.

The side is drawn independently of the state: up to the fork every demo follows the same trunk (x driven back to
0), so at the fork the demos' actions given the state are two opposite pushes, and nothing in the state says
which. The controller tracks the fork point, two waypoints beside the block, then the goal, with Maze's
``a = 10 (waypoint - pos) - vel`` clipped to [-1, 1] (``dbc_jax/experts/maze.py``), plus Gaussian action noise in
the demos.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from dbc_jax.data.dataset import Dataset, EpisodeRecorder
from dbc_jax.envs.fork import BLOCK_CENTRE, BLOCK_HALF, GOAL, MAX_EPISODE_STEPS, SUCCESS_RADIUS, ForkEnv
from dbc_jax.experts.maze import D_GAIN, P_GAIN

CLEARANCE = 0.4  # how far beside and beyond the block the waypoints are
FORK = np.array([0.0, 1.0])  # the trunk's end, 0.75 below the block: where the two ways part
REACHED = 0.2  # a waypoint within this is passed


class ForkExpert:
    """One episode's controller: :meth:`reset` draws its side (-1 left, +1 right)."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def reset(self, side: int | None = None) -> int:
        self.side = int(self.rng.choice((-1, 1))) if side is None else side
        x = self.side * (BLOCK_HALF[0] + CLEARANCE)
        self.waypoints = [FORK, np.array([x, BLOCK_CENTRE[1] - BLOCK_HALF[1] - CLEARANCE]),
                          np.array([x, BLOCK_CENTRE[1] + BLOCK_HALF[1] + CLEARANCE]), GOAL]
        self.index = 0
        return self.side

    def act(self, position: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        if self.index < len(self.waypoints) - 1 and np.linalg.norm(self.waypoints[self.index] - position) < REACHED:
            self.index += 1
        return np.clip(P_GAIN * (self.waypoints[self.index] - position) + D_GAIN * velocity, -1.0, 1.0)


def generate_demos(num_episodes: int = 100, seed: int = 0, noise_ratio: float = 1.0, action_noise: float = 0.1,
                   progress: bool = True) -> Dataset:
    """``num_episodes`` successful expert episodes; each ends at the env's success. The metadata records each
    episode's side (``sides``: -1 left, +1 right) and how many episodes were redrawn (none expected)."""
    env = ForkEnv(noise_ratio=noise_ratio)
    rng = np.random.default_rng(seed)
    expert = ForkExpert(rng)
    recorder, sides, redrawn = EpisodeRecorder(), [], 0
    with tqdm(total=num_episodes, desc="fork demos", unit="ep", disable=not progress) as bar:
        while recorder.num_episodes < num_episodes:
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
            side = expert.reset()
            ep_obs, ep_act, ep_next, ep_rew = [], [], [], []
            for _ in range(MAX_EPISODE_STEPS):
                action = expert.act(obs[:2], obs[2:4])
                if action_noise:
                    action = np.clip(action + rng.normal(0.0, action_noise, size=2), -1.0, 1.0)
                ep_obs.append(obs)
                ep_act.append(action)
                obs, reward, terminated, _, _ = env.step(action)
                ep_next.append(obs)
                ep_rew.append(reward)
                if terminated:
                    break
            else:
                redrawn += 1
                continue
            recorder.add_episode(ep_obs, ep_act, ep_next, ep_rew)
            sides.append(side)
            bar.update(1)
    return recorder.dataset({"env": "fork", "source": "dbc_jax scripted fork expert", "seed": seed,
                             "noise_ratio": noise_ratio, "action_noise": action_noise, "sides": sides,
                             "redrawn_episodes": redrawn, "success_radius": SUCCESS_RADIUS})
