"""HandRotate as in the DBC paper (its ``CustomHandManipulateBlockRotateZ-v2``, spec section 7.3): the Shadow hand
turns a block on its palm to a target yaw. Built on gymnasium-robotics' ``MujocoHandBlockEnv`` (the class behind
``HandManipulateBlockRotateZ-v1``; mujoco 3.11, as for Fetch) with the target position ignored and the target
rotation about z.

What differs from the stock env (the official "easy" v2 ranges):
- Reset: the block's yaw is the XML's orientation turned by U(-pi/6, pi/6) about z (stock: U(-pi, pi)), and its
  position gets N(0, 0.005) * noise_ratio; then, as stock, 10 settling steps with zero action, redrawn until the
  block rests on the palm.
- Goal: an absolute yaw U(pi/3, 2pi/3) about z (stock: U(-pi, pi)); the goal position is the block's (ignored).
- A flat 68-D observation: gymnasium-robotics' 61-D ``observation`` (robot qpos 24, robot qvel 24, block qvel 6,
  block pos 3 and quat 4), then the 7-D desired goal with its 3 position entries zeroed.
- Success: the rotation angle between the block and the goal below ``ROTATION_THRESHOLD`` (0.1 rad, the full
  quaternion angle: the palm tilts the block about 11 degrees, so success can also need levelling it); that step
  ends the episode. Horizon 50 steps. Reward (unused by imitation): the authors' progress, the decrease of that
  angle over the step.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dbc_jax.envs.robotics import MujocoHandBlockEnv, quat_from_angle_and_axis, rotations

ROTATION_THRESHOLD = 0.1  # rad
INITIAL_YAW = (-np.pi / 6, np.pi / 6)  # added to the XML's orientation
GOAL_YAW = (np.pi / 3, 2 * np.pi / 3)  # absolute
POSITION_NOISE = 0.005  # std of the block's initial position, per unit of noise_ratio
SETTLE_STEPS = 10  # zero-action steps after placing the block (stock)
DROP_HEIGHT = 0.1  # m: the block's centre rests at about 0.16 on the palm (0.14-0.19 under random actions)
Z = np.array([0.0, 0.0, 1.0])

# Layout of the 68-D observation.
ROBOT_QPOS, ROBOT_QVEL, BLOCK_QVEL = slice(0, 24), slice(24, 48), slice(48, 54)
BLOCK_POS, BLOCK_QUAT = slice(54, 57), slice(57, 61)
GOAL_POS, GOAL_QUAT = slice(61, 64), slice(64, 68)  # GOAL_POS is always 0


class _EasyRotateZ(MujocoHandBlockEnv):
    """gymnasium-robotics' block env with the official easy reset and goal ranges."""

    def __init__(self, noise_ratio: float, render_mode: str | None = None):
        self.noise_ratio = noise_ratio
        super().__init__(target_position="ignore", target_rotation="z", reward_type="dense",
                         render_mode=render_mode)

    def _reset_sim(self):
        self.data.time = self.initial_time
        self.data.qpos[:] = np.copy(self.initial_qpos)
        self.data.qvel[:] = np.copy(self.initial_qvel)
        self._mujoco.mj_forward(self.model, self.data)
        qpos = self._utils.get_joint_qpos(self.model, self.data, "object:joint").copy()
        pos, quat = qpos[:3], qpos[3:]
        self.drawn_yaw = self.np_random.uniform(*INITIAL_YAW)  # kept for inspection: settling turns the block on
        self.drawn_offset = self.np_random.normal(size=3, scale=POSITION_NOISE * self.noise_ratio)  # the tilted palm
        quat = rotations.quat_mul(quat, quat_from_angle_and_axis(self.drawn_yaw, Z))
        pos = pos + self.drawn_offset
        self._utils.set_joint_qpos(self.model, self.data, "object:joint",
                                   np.concatenate([pos, quat / np.linalg.norm(quat)]))
        for _ in range(SETTLE_STEPS):
            self._set_action(np.zeros(20))
            try:
                self._mujoco.mj_step(self.model, self.data, nstep=self.n_substeps)
            except Exception:  # an unstable start (as stock): draw another
                return False
        self._mujoco.mj_forward(self.model, self.data)
        return bool(self.data.site_xpos[self._model_names._site_name2id["object:center"]][2] > 0.04)  # on the palm

    def _sample_goal(self):
        pos = self._utils.get_joint_qpos(self.model, self.data, "object:joint")[:3].copy()
        quat = quat_from_angle_and_axis(self.np_random.uniform(*GOAL_YAW), Z)
        return np.concatenate([pos, quat / np.linalg.norm(quat)])

    def rotation_angle(self) -> float:
        """The angle (rad) between the block's orientation and the goal's."""
        return float(self._goal_distance(self._get_achieved_goal(), self.goal)[1])


class HandRotateEnv(gym.Wrapper):
    """Turn the block to the goal yaw; see the module docstring. ``info["success"]`` is True on the step the block
    comes within ``ROTATION_THRESHOLD`` of the goal's orientation, which ends the episode."""

    def __init__(self, noise_ratio: float = 1.0, reward_scale: float = 1.0, success_bonus: float = 0.0,
                 terminate_when_dropped: bool = False, render_mode: str | None = None):
        if not noise_ratio >= 0:
            raise ValueError(f"config.env.noise_ratio: must be >= 0, got {noise_ratio}")
        if not reward_scale > 0:
            raise ValueError(f"HandRotate reward_scale: must be > 0, got {reward_scale}")
        super().__init__(_EasyRotateZ(float(noise_ratio), render_mode))
        self.reward_scale, self.success_bonus = float(reward_scale), float(success_bonus)
        self.terminate_when_dropped = bool(terminate_when_dropped)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(68,), dtype=np.float64)
        self._angle = 0.0

    @staticmethod
    def flat_obs(obs: dict) -> np.ndarray:
        goal = obs["desired_goal"].copy()
        goal[:3] = 0.0  # the official "easy obs": the (ignored) goal position is not shown
        return np.concatenate([obs["observation"], goal]).astype(np.float64)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, _ = self.env.reset(seed=seed, options=options)
        self._angle = self.env.unwrapped.rotation_angle()
        return self.flat_obs(obs), {"success": False, "angle": self._angle}

    def step(self, action):
        obs, _, _, _, _ = self.env.step(np.asarray(action, dtype=np.float64))
        angle = self.env.unwrapped.rotation_angle()
        reward, self._angle = self.reward_scale * (self._angle - angle), angle
        success = angle < ROTATION_THRESHOLD
        reward += self.success_bonus * success
        dropped = self.block_height() < DROP_HEIGHT
        terminated = success or (self.terminate_when_dropped and dropped)
        return self.flat_obs(obs), reward, terminated, False, {"success": success, "angle": angle, "dropped": dropped}

    def block_height(self) -> float:
        u = self.env.unwrapped
        return float(u.data.site_xpos[u._model_names._site_name2id["object:center"]][2])
