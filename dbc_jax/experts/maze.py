"""The scripted maze expert (D4RL's waypoint controller, spec Appendix B) and demo generation.

Plan a shortest path of free grid cells from the agent's cell to the target's cell, jitter every waypoint but
the last by ``-U(0, 0.2)`` per axis, and track it with ``a = 10 (waypoint - pos) - 1 vel`` clipped to [-1, 1].
A waypoint is reached within ``SOLVE_THRESHOLD``; after the last one the controller heads for the target's
cell centre. Like the paper's ``maze.pt``, a demo ends when the agent is within ``SOLVE_THRESHOLD`` of that
centre (about 11 steps after entering the env's 0.5 success radius).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from dbc_jax.data.dataset import Dataset, EpisodeRecorder
from dbc_jax.envs.maze import MAX_EPISODE_STEPS, MEDIUM_MAZE, MazeEnv

SOLVE_THRESHOLD = 0.1
P_GAIN, D_GAIN = 10.0, -1.0
MOVES = ((1, 0), (-1, 0), (0, 1), (0, -1))


def shortest_path(start: tuple[int, int], goal: tuple[int, int], maze=MEDIUM_MAZE) -> list[tuple[int, int]]:
    """Cells after ``start`` up to and including ``goal``, by breadth-first search over free cells."""
    parent = {start: None}
    queue = deque([start])
    while queue:
        cell = queue.popleft()
        if cell == goal:
            break
        for dw, dh in MOVES:
            nxt = (cell[0] + dw, cell[1] + dh)
            if maze[nxt[0]][nxt[1]] != "#" and nxt not in parent:
                parent[nxt] = cell
                queue.append(nxt)
    if goal not in parent:
        raise ValueError(f"no path from {start} to {goal}")
    path = []
    cell = goal
    while cell != start:
        path.append(cell)
        cell = parent[cell]
    return path[::-1]


class WaypointExpert:
    """Stateful controller for one episode; call :meth:`reset` with the episode's start and target."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def reset(self, position: np.ndarray, target: np.ndarray) -> None:
        start = tuple(int(v) for v in np.round(position))
        self.goal_cell = np.round(target).astype(np.float64)
        cells = [np.array(c, dtype=np.float64) for c in shortest_path(start, tuple(int(v) for v in self.goal_cell))]
        jittered = [c - self.rng.uniform(0.0, 0.2, size=2) for c in cells[:-1]]
        self.waypoints = jittered + [self.goal_cell]
        self.index = 0

    def act(self, position: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        if self.index < len(self.waypoints) - 1 and np.linalg.norm(self.waypoints[self.index] - position) < SOLVE_THRESHOLD:
            self.index += 1
        waypoint = self.waypoints[self.index]
        return np.clip(P_GAIN * (waypoint - position) + D_GAIN * velocity, -1.0, 1.0)

    def done(self, position: np.ndarray) -> bool:
        return bool(np.linalg.norm(position - self.goal_cell) < SOLVE_THRESHOLD)


def generate_demos(
    num_episodes: int = 100,
    seed: int = 0,
    noise_ratio: float = 1.0,
    goal_noise_ratio: float = 1.0,
    action_noise: float = 0.5,
    keep_failures: bool = False,
    num_transitions: int = 0,
    progress: bool = True,
) -> Dataset:
    """Roll the expert out into a :class:`Dataset` of ``num_episodes`` complete demos.

    ``action_noise``: std of Gaussian noise added to the expert's action before clipping, as D4RL's noisy
    generator does; 0.5 reproduces the action statistics of the paper's ``maze.pt`` (saturated fraction 0.34,
    std of consecutive differences 0.59). Episodes whose start cell is the target cell are redrawn (the paper's demos have none), and so is the rare
    episode the expert does not finish within the env's 400 steps, so every demo is a complete success; with
    ``keep_failures`` such an episode is kept, all 400 steps (agent data: a large ``action_noise`` makes the expert
    a mediocre agent). ``num_transitions`` > 0 records episodes until that many steps, the last one cut.
    """
    env = MazeEnv(noise_ratio=noise_ratio, goal_noise_ratio=goal_noise_ratio)
    rng = np.random.default_rng(seed)
    expert = WaypointExpert(rng)
    recorder = EpisodeRecorder(num_episodes, num_transitions)
    redrawn = kept_failures = 0
    with recorder.progress("maze demos", progress):
        while not recorder.full:
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
            if np.array_equal(np.round(obs[:2]), np.round(obs[4:])):
                redrawn += 1
                continue
            expert.reset(obs[:2], obs[4:])
            ep_obs, ep_act, ep_next, ep_rew = [], [], [], []
            for _ in range(MAX_EPISODE_STEPS):
                action = expert.act(obs[:2], obs[2:4])
                if action_noise:
                    action = np.clip(action + rng.normal(0.0, action_noise, size=2), -1.0, 1.0)
                ep_obs.append(obs)
                ep_act.append(action)
                # Step past the env's success radius, like the paper's demos: the env is stepped directly.
                obs, reward, *_ = env.step(action)
                ep_next.append(obs)
                ep_rew.append(reward)
                if expert.done(obs[:2]):
                    break
            else:
                if not keep_failures:
                    redrawn += 1
                    continue
                kept_failures += 1
            recorder.add_episode(ep_obs, ep_act, ep_next, ep_rew)
    cut = recorder.cut_at_count()
    extra = {"keep_failures": True, "failed_episodes": kept_failures} if keep_failures else {}
    extra.update({"num_transitions": num_transitions, "last_episode_cut_by": cut} if num_transitions else {})
    return recorder.dataset({"env": "maze", "source": "dbc_jax scripted waypoint expert", "seed": seed,
                             "noise_ratio": noise_ratio, "goal_noise_ratio": goal_noise_ratio,
                             "action_noise": action_noise, "redrawn_episodes": redrawn, **extra})


def expert_success_rate(num_episodes: int = 200, seed: int = 0, action_noise: float = 0.5) -> float:
    """Fraction of env episodes (env rules: success radius 0.5, 400-step limit) the expert solves, with the
    same action noise as the demos by default."""
    import gymnasium as gym

    env = gym.make("dbc_jax/Maze2D-Medium-v0")
    rng = np.random.default_rng(seed)
    expert = WaypointExpert(rng)
    successes = 0
    for _ in range(num_episodes):
        obs, _ = env.reset(seed=int(rng.integers(2**31)))
        expert.reset(obs[:2], obs[4:])
        while True:
            action = expert.act(obs[:2], obs[2:4])
            if action_noise:
                action = np.clip(action + rng.normal(0.0, action_noise, size=2), -1.0, 1.0)
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                successes += bool(info["success"])
                break
    return successes / num_episodes
