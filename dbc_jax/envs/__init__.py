"""Tasks: the gymnasium env behind each config ``env_name``, and its evaluation metric."""

from __future__ import annotations

import dataclasses

from dbc_jax.envs import locomotion, maze


@dataclasses.dataclass(frozen=True)
class Task:
    env_id: str  # gymnasium id
    obs_dim: int
    act_dim: int
    metric: str  # "success" (success rate) or "return" (episode return): what the paper reports


TASKS = {
    "maze": Task(env_id="dbc_jax/Maze2D-Medium-v0", obs_dim=6, act_dim=2, metric="success"),
    "halfcheetah": Task(env_id=locomotion.ENV_IDS["halfcheetah"][0], obs_dim=17, act_dim=6, metric="return"),
    "walker": Task(env_id=locomotion.ENV_IDS["walker"][0], obs_dim=17, act_dim=6, metric="return"),
}


def get_task(env_name: str) -> Task:
    if env_name not in TASKS:
        raise ValueError(f"config.env_name: unknown task '{env_name}' (known: {', '.join(sorted(TASKS))})")
    return TASKS[env_name]


def register_all() -> None:
    maze.register()
    locomotion.register()
