"""Tasks: the gymnasium env behind each config ``env_name``, and its evaluation metric."""

from __future__ import annotations

import dataclasses

import gymnasium as gym

from dbc_jax.envs import locomotion, maze

# FetchPick (envs/fetch.py) is registered by name, so gymnasium-robotics is imported only when the env is made.
FETCH_ENV_ID = "dbc_jax/FetchPick-v0"
FETCH_MAX_EPISODE_STEPS = 50


@dataclasses.dataclass(frozen=True)
class Task:
    env_id: str  # gymnasium id
    obs_dim: int
    act_dim: int
    metric: str  # "success" (success rate) or "return" (episode return): what the paper reports
    mjx_twin: bool = False  # has a pure-JAX twin in envs/mjx_twins.py (evaluation backend "mjx")


TASKS = {
    "maze": Task(env_id="dbc_jax/Maze2D-Medium-v0", obs_dim=6, act_dim=2, metric="success", mjx_twin=True),
    "halfcheetah": Task(env_id=locomotion.ENV_IDS["halfcheetah"][0], obs_dim=17, act_dim=6, metric="return",
                        mjx_twin=True),
    "walker": Task(env_id=locomotion.ENV_IDS["walker"][0], obs_dim=17, act_dim=6, metric="return", mjx_twin=True),
    "fetchpick": Task(env_id=FETCH_ENV_ID, obs_dim=16, act_dim=4, metric="success"),
}


def get_task(env_name: str) -> Task:
    if env_name not in TASKS:
        raise ValueError(f"config.env_name: unknown task '{env_name}' (known: {', '.join(sorted(TASKS))})")
    return TASKS[env_name]


def register_all() -> None:
    maze.register()
    locomotion.register()
    if FETCH_ENV_ID not in gym.registry:
        gym.register(id=FETCH_ENV_ID, entry_point="dbc_jax.envs.fetch:FetchPickEnv",
                     max_episode_steps=FETCH_MAX_EPISODE_STEPS)
