"""The task registry: every task the project knows is one :class:`Task` record in :data:`TASKS`.

Everything that depends on which tasks exist is derived from here: the gymnasium registration, the config's
``env_name`` check, the evaluation backends (which tasks have an MJX twin), the expert demo generators, the RL
expert trainer's tasks and bars, the benchmarks' horizons and the Makefile's help. Adding a task means one entry
below plus its own files (env, twin, expert, config).

This module imports nothing heavy (code is named by ``"module:attribute"`` strings and loaded on use), so
``python dbc_jax/tasks.py`` lists the tasks without jax or MuJoCo (the Makefile does that).
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any


@dataclasses.dataclass(frozen=True)
class Task:
    name: str  # the config's env_name and the Makefile's ENV
    env_id: str  # gymnasium id, registered by register_all()
    entry_point: str  # "module:Class" of the gymnasium env
    obs_dim: int
    act_dim: int
    metric: str  # "success" (success rate) or "return" (episode return): what the paper reports
    horizon: int  # gymnasium's max_episode_steps
    demos: str  # "module:function" (num_episodes, seed, progress, **settings) -> Dataset of expert demos
    expert: str  # "scripted" (a controller in code) or "sac" (weights trained by dbc_jax.experts.sac, shipped)
    expert_bar: float = 0.0  # what the SAC expert must reach: a mean return, or a success rate in [0, 1]
    expert_train_env: dict = dataclasses.field(default_factory=dict)  # env kwargs of RL training only
    twin: str = ""  # "module:Class" of the pure-JAX MJX twin (envs/mjx_twins.py); "" if none
    paper_name: str = ""  # the official env id
    draw_paths: str = ""  # "module:function" (ax, paths [K, steps, obs_dim], success [K]) drawing evaluation episodes
    # the videos' view: {"name": a camera of the model} or a free camera's lookat / distance / azimuth / elevation,
    # with "track": a body it follows
    camera: dict = dataclasses.field(default_factory=dict)
    legend: str = ""  # what a video shows: which body is the agent and which marks the goal (bottom-left corner)
    ref_scores: tuple = ()  # (random, expert) returns that normalize a score to 0 .. 100 (a dataset's own), if known

    @property
    def has_twin(self) -> bool:
        return bool(self.twin)


def _tasks(*tasks: Task) -> dict[str, Task]:
    return {task.name: task for task in tasks}


# HalfCheetah and Walker2d use gymnasium's v4 classes directly as entry points: v4 is the model that matches the
# paper's data (envs/locomotion.py), and going through gym.make("HalfCheetah-v4") would print an out-of-date
# warning on every make.
TASKS = _tasks(
    Task("maze", "dbc_jax/Maze2D-Medium-v0", "dbc_jax.envs.maze:MazeEnv", obs_dim=6, act_dim=2, metric="success",
         horizon=400, demos="dbc_jax.experts.maze:generate_demos", expert="scripted",
         twin="dbc_jax.envs.mjx_twins:Maze2D", paper_name="maze2d-medium-v2",
         draw_paths="dbc_jax.envs.maze:draw_paths",
         camera={"lookat": (4.5, 4.5, 0.0), "distance": 11.0, "azimuth": 90.0, "elevation": -90.0},
         legend="agent: the small blue ball; goal: the red ball"),
    Task("fetchpick", "dbc_jax/FetchPick-v0", "dbc_jax.envs.fetch:FetchPickEnv", obs_dim=16, act_dim=4,
         metric="success", horizon=50, demos="dbc_jax.experts.fetch:generate_demos", expert="scripted",
         paper_name="FetchPickAndPlaceDiffHoldout-v0",
         camera={"lookat": (1.3, 0.75, 0.45), "distance": 1.1, "azimuth": 150.0, "elevation": -30.0},
         legend="agent: the gripper; goal: carry the black block to the red dot"),
    Task("halfcheetah", "dbc_jax/HalfCheetah-v0", "gymnasium.envs.mujoco.half_cheetah_v4:HalfCheetahEnv",
         obs_dim=17, act_dim=6, metric="return", horizon=1000,
         demos="dbc_jax.experts.learned:generate_halfcheetah", expert="sac", expert_bar=4500.0,
         twin="dbc_jax.envs.mjx_twins:HalfCheetah", paper_name="HalfCheetah-v3", camera={"name": "track"},
         legend="agent: the cheetah; return: its forward speed, less a control cost"),
    Task("walker", "dbc_jax/Walker2d-v0", "gymnasium.envs.mujoco.walker2d_v4:Walker2dEnv", obs_dim=17, act_dim=6,
         metric="return", horizon=1000, demos="dbc_jax.experts.learned:generate_walker", expert="sac",
         expert_bar=5500.0, twin="dbc_jax.envs.mjx_twins:Walker2d", paper_name="Walker2d-v3",
         camera={"name": "track"}, legend="agent: the walker; return: its forward speed and staying up, less a cost"),
    Task("antreach", "dbc_jax/AntReach-v0", "dbc_jax.envs.ant:AntReachEnv", obs_dim=42, act_dim=8, metric="success",
         horizon=50, demos="dbc_jax.experts.learned:generate_antreach", expert="sac", expert_bar=0.95,
         expert_train_env={"reward": "progress", "terminate_when_fallen": True, "reach_bonus": 10.0,
                           "max_episode_steps": 150},
         twin="dbc_jax.envs.mjx_twins:AntReach", paper_name="AntGoal-v0",
         camera={"lookat": (0.0, 2.5, 0.0), "distance": 10.0, "azimuth": 90.0, "elevation": -60.0},
         legend="agent: the ant; goal: the red flag"),
    Task("handrotate", "dbc_jax/HandRotate-v0", "dbc_jax.envs.hand:HandRotateEnv", obs_dim=68, act_dim=20,
         metric="success", horizon=50, demos="dbc_jax.experts.learned:generate_handrotate", expert="sac",
         expert_bar=0.9,
         expert_train_env={"reward_scale": 20.0, "success_bonus": 10.0, "terminate_when_dropped": True,
                           "max_episode_steps": 100},
         paper_name="CustomHandManipulateBlockRotateZ-v2",
         camera={"lookat": (1.0, 0.96, 0.14), "distance": 0.5, "azimuth": 55.0, "elevation": -25.0},
         legend="agent: the hand; goal: turn the block in it to the orientation of the block beside it"),
    # Not one of the paper's tasks: its future work (multimodal demos), measured in docs/results.md.
    Task("fork", "dbc_jax/PointFork-v0", "dbc_jax.envs.fork:ForkEnv", obs_dim=4, act_dim=2, metric="success",
         horizon=200, demos="dbc_jax.experts.fork:generate_demos", expert="scripted",
         draw_paths="dbc_jax.envs.fork:draw_paths",
         camera={"lookat": (0.0, 2.0, 0.0), "distance": 7.0, "azimuth": 90.0, "elevation": -90.0},
         legend="agent: the blue ball; goal: the red disc, past the block on either side"),
)


DATASET_PREFIX = "minari:"  # env_name "minari:<dataset id>": a task made from a local Minari dataset


def get_task(env_name: str) -> Task:
    """The registry's task, or the task a local Minari dataset makes (``minari:<id>``, built once per process)."""
    if env_name.startswith(DATASET_PREFIX):
        return load("dbc_jax.data.minari_format:dataset_task")(env_name[len(DATASET_PREFIX):])
    if env_name not in TASKS:
        raise ValueError(f"config.env_name: unknown task '{env_name}' (known: {', '.join(TASKS)}, or "
                         f"{DATASET_PREFIX}<a local Minari dataset id>)")
    return TASKS[env_name]


def load(ref: str) -> Any:
    """The object a ``"module:attribute"`` string names."""
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)


def names(**where) -> list[str]:
    """Task names, optionally only those whose fields equal ``where`` (e.g. ``names(expert="sac")``)."""
    return [name for name, task in TASKS.items() if all(getattr(task, k) == v for k, v in where.items())]


def register_all() -> None:
    """Register every task's env with gymnasium (the env's module is imported only when the env is made)."""
    import gymnasium as gym

    for task in TASKS.values():
        if task.env_id not in gym.registry:
            gym.register(id=task.env_id, entry_point=task.entry_point, max_episode_steps=task.horizon)


if __name__ == "__main__":  # python dbc_jax/tasks.py [--expert=sac]: the task names, "|"-separated
    import sys

    print("|".join(names(**dict(arg.lstrip("-").split("=", 1) for arg in sys.argv[1:]))))
