"""FetchPick as in the DBC paper (its ``FetchPickAndPlaceDiffHoldout-v0``, spec section 7.2), on gymnasium-robotics'
``FetchPickAndPlace-v4`` (mujoco 3.11; mujoco >= 3.12 breaks the Fetch envs).

What differs from the stock env:
- Holdout sampling. The object starts behind the gripper's initial position and the goal in front of it, in boxes
  that grow with ``noise_ratio`` r and ``goal_noise_ratio`` g (the paper trains at r = g = 1.25 and sweeps 1..2):
      object_xy = grip0_xy + (0, 0.10) + U([-0.05 r, 0.05 r] x [0, 0.04 r])
      goal_xy   = grip0_xy + (0, -0.10) + U([-0.05 g, 0.05 g] x [-0.04 g, 0]),  goal_z = table + 0.15 (in the air)
- A flat 16-D observation: ``[grip_pos 3, object_pos 3, object_rel_pos 3, finger positions 2, object_rot[0:2] 2,
  goal 3]`` (the paper's "easy obs": gym's 25-D observation up to the rotation, then the goal).
- Success: the object within ``SUCCESS_DISTANCE`` of the goal; that step terminates the episode (the paper's goal
  checker makes success sticky and ends the episode). Horizon 50 steps. Reward: minus the distance (unused).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dbc_jax.envs.robotics import MujocoFetchPickAndPlaceEnv
from dbc_jax.tasks import TASKS

ENV_ID, MAX_EPISODE_STEPS = TASKS["fetchpick"].env_id, TASKS["fetchpick"].horizon

SUCCESS_DISTANCE = 0.05
DEFAULT_NOISE_RATIO = 1.25  # the paper's training and main-table noise, for start and goal alike
OBJECT_OFFSET = np.array([0.0, 0.10])  # the object box's near edge, relative to the gripper's initial xy
GOAL_OFFSET = np.array([0.0, -0.10])  # the goal box's near edge
HALF_WIDTH_X, DEPTH_Y = 0.05, 0.04  # box size per unit of noise ratio
GOAL_HEIGHT = 0.15  # above the object's resting height on the table

# Layout of the 16-D observation.
GRIP_POS, OBJECT_POS, OBJECT_REL_POS = slice(0, 3), slice(3, 6), slice(6, 9)
FINGERS, OBJECT_ROT, GOAL = slice(9, 11), slice(11, 13), slice(13, 16)


def object_box(noise_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the object's start xy, relative to the gripper's initial xy."""
    return (OBJECT_OFFSET + [-HALF_WIDTH_X * noise_ratio, 0.0],
            OBJECT_OFFSET + [HALF_WIDTH_X * noise_ratio, DEPTH_Y * noise_ratio])


def goal_box(goal_noise_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the goal's xy, relative to the gripper's initial xy."""
    return (GOAL_OFFSET + [-HALF_WIDTH_X * goal_noise_ratio, -DEPTH_Y * goal_noise_ratio],
            GOAL_OFFSET + [HALF_WIDTH_X * goal_noise_ratio, 0.0])


class _HoldoutPickAndPlace(MujocoFetchPickAndPlaceEnv):
    """The stock env with the paper's holdout sampling of the object and the goal."""

    def __init__(self, noise_ratio: float, goal_noise_ratio: float, render_mode: str | None):
        self.noise_ratio, self.goal_noise_ratio = noise_ratio, goal_noise_ratio
        super().__init__(reward_type="dense", render_mode=render_mode)

    def _reset_sim(self):
        self._mujoco.mj_resetData(self.model, self.data)
        self.data.time = self.initial_time
        self.data.qpos[:] = self.initial_qpos
        self.data.qvel[:] = self.initial_qvel
        low, high = object_box(self.noise_ratio)
        object_qpos = self._utils.get_joint_qpos(self.model, self.data, "object0:joint")
        object_qpos[:2] = self.initial_gripper_xpos[:2] + self.np_random.uniform(low, high)
        self._utils.set_joint_qpos(self.model, self.data, "object0:joint", object_qpos)
        self._mujoco.mj_forward(self.model, self.data)
        return True

    def _sample_goal(self):
        low, high = goal_box(self.goal_noise_ratio)
        xy = self.initial_gripper_xpos[:2] + self.np_random.uniform(low, high)
        return np.array([xy[0], xy[1], self.height_offset + GOAL_HEIGHT])


class FetchPickEnv(gym.Wrapper):
    """Pick the block up and hold it at a goal in the air; see the module docstring.

    ``info["success"]`` is True on the step the object comes within ``SUCCESS_DISTANCE`` of the goal, which
    terminates the episode. ``env.unwrapped`` is the gymnasium-robotics env underneath.
    """

    def __init__(self, noise_ratio: float = DEFAULT_NOISE_RATIO, goal_noise_ratio: float = DEFAULT_NOISE_RATIO,
                 render_mode: str | None = None):
        for name, value in (("noise_ratio", noise_ratio), ("goal_noise_ratio", goal_noise_ratio)):
            if not value > 0:
                raise ValueError(f"config.env.{name}: must be > 0, got {value}")
        super().__init__(_HoldoutPickAndPlace(float(noise_ratio), float(goal_noise_ratio), render_mode))
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(16,), dtype=np.float64)

    @staticmethod
    def flat_obs(obs: dict) -> np.ndarray:
        return np.concatenate([obs["observation"][:13], obs["desired_goal"]]).astype(np.float64)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, _ = self.env.reset(seed=seed, options=options)
        return self.flat_obs(obs), {"success": False}

    def step(self, action):
        obs, reward, _, _, info = self.env.step(np.asarray(action, dtype=np.float64))
        success = bool(info["is_success"])
        return self.flat_obs(obs), float(reward), success, False, {"success": success}
