"""AntReach as in the DBC paper (its ``AntGoal-v0``, spec section 7.4): the Ant walks to a goal 5 m away.

The model is gymnasium's ``ant.xml`` with the official changes, made in code with ``mujoco.MjSpec`` (the authors'
XML is not copied):
- timestep 0.02 with RK4 and frame_skip 5, so one env step is 0.1 s;
- every geom gets ``solref 0.02 1`` and ``solimp 0.8 0.8 0.01``;
- a free-jointed ``goal`` body: a 1 m box that collides with the floor but not with the Ant, and a pole with a
  flag that collide with nothing. It starts inside the floor, pops up and settles at z 0.519 by step 10
  (``tests/test_ant.py``), so its 13 observation entries are constant after that. The box touches the floor
  through four 1 mm spheres at its bottom corners (contype 1, conaffinity 0: the Ant's geoms have conaffinity 0
  too, so only the floor's conaffinity 1 lets them touch): C MuJoCo's box-plane contacts are those four corners,
  so its dynamics are the plain box's to 2e-6 m, and the MJX twin's plane-box collider, which keeps only corners
  within 1 mm of the deepest one (a single contact once the box tilts), would otherwise settle it elsewhere;
- a 22-entry initial qpos: the Ant's 15 (torso at z 0.55) and the goal body's 7 (at the origin, upright).

Observation (42-D): ``[qpos[2:] (20): torso z, torso quat, 8 joint angles, goal-body pos, goal-body quat;
qvel (20): torso 6, joints 8, goal body 6; goal_xy - torso_xy (2)]``. Action (8-D) in [-1, 1] (MuJoCo clamps
it; the env does not clip). Reset: qpos = init_qpos + U(-reset_noise, reset_noise) on all 22 entries, qvel =
U(-0.005, 0.005); the goal is (5 cos θ, 5 sin θ) with θ ~ U(0, π), written into the goal body's x, y.
Success: the torso within ``SUCCESS_RADIUS`` (0.5 m) of the goal; it is sticky (``info["success"]`` stays True
once reached) and the episode never ends early: 50 steps, success read at the end.

Reward (unused by imitation): ``1 - dist/5 - 0.5 |a|^2 - 0.5e-3 |clip(cfrc_ext, -1, 1)|^2``, the official dense
reward's form with gym Ant's cost weights. For RL training only (``tasks.py``: the expert's training env),
``reward="progress"`` pays 5 x the speed towards the goal (m/s) instead, plus gym Ant's healthy bonus of 1 per
step that does not end fallen, ``5 (dist_before - dist_after) / dt + 1 - 0.5 |a|^2``, plus ``reach_bonus`` for
every step that ends within the success radius, and ``terminate_when_fallen`` ends an episode once the torso tilts
more than 60 degrees. What did not work (SAC, seed 0): without the bonus,
ending the episode spares the control costs and an agent learns to flip; with the speed weighted 1, SAC learned to
stand still for the bonus (0 successes in 160k steps); ending only once upside down, it lunged at the goal and
flipped (37 of 40 evaluation episodes ended upside down at 270k steps, 22% success). Evaluation keeps the
official env.
"""

from __future__ import annotations

import os

import gymnasium
import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

GOAL_RADIUS = 5.0  # the goal lies on the upper half circle of this radius around the origin
SUCCESS_RADIUS = 0.5  # ||torso_xy - goal|| < this is success (the official ``dist / 5 < 0.1``)
RESET_NOISE = 0.01  # the official config's --ant-noise
VELOCITY_NOISE = 0.005
CTRL_COST, CONTACT_COST = 0.5, 0.5e-3
PROGRESS_WEIGHT = 5.0  # the progress reward's weight on the speed towards the goal
HEALTHY_REWARD = 1.0  # the progress reward's bonus per step not fallen
MAX_TILT = np.pi / 3  # fallen: the torso tilted more than this from upright
FOOT = 0.001  # radius of the goal box's corner spheres
INIT_QPOS = (0.0, 0.0, 0.55, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0, 0.0, -1.0, 0.0, 1.0,  # the Ant
             0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)  # the goal body

# Layout of the 42-D observation.
TORSO_Z, TORSO_QUAT, JOINTS = 0, slice(1, 5), slice(5, 13)
GOAL_POS, GOAL_QUAT = slice(13, 16), slice(16, 20)
TORSO_VEL, JOINT_VEL, GOAL_VEL = slice(20, 26), slice(26, 34), slice(34, 40)
GOAL_DELTA = slice(40, 42)  # goal_xy - torso_xy


def ant_reach_model() -> mujoco.MjModel:
    """Gymnasium's ``ant.xml`` with the official AntGoal changes (module docstring)."""
    spec = mujoco.MjSpec.from_file(os.path.join(os.path.dirname(gymnasium.__file__), "envs/mujoco/assets/ant.xml"))
    spec.option.timestep = 0.02
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_RK4
    goal = spec.worldbody.add_body(name="goal", pos=[0.0, 0.0, 0.0])
    goal.add_freejoint(name="goal_root")
    goal.add_geom(name="goal_box", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.5, 0.5, 0.5], rgba=[0, 0, 0, 0],
                  contype=0, conaffinity=0)  # its mass (density 5) is the body's; the feet below do the contacts
    for i, (x, y) in enumerate(((-1, -1), (-1, 1), (1, -1), (1, 1))):
        goal.add_geom(name=f"goal_foot{i}", type=mujoco.mjtGeom.mjGEOM_SPHERE, pos=[0.5 * x, 0.5 * y, -0.5 + FOOT],
                      size=[FOOT, 0, 0], rgba=[0, 0, 0, 0], contype=1, conaffinity=0, density=0.0)
    goal.add_geom(name="goal_pole", type=mujoco.mjtGeom.mjGEOM_CYLINDER, fromto=[0, 0, 0, 0, 0, 1.5],
                  size=[0.02, 0, 0], rgba=[0.3, 0.3, 0.3, 1], contype=0, conaffinity=0, density=0.0)
    goal.add_geom(name="goal_flag", type=mujoco.mjtGeom.mjGEOM_BOX, pos=[0.15, 0, 1.4], size=[0.15, 0.01, 0.1],
                  rgba=[0.9, 0.1, 0.1, 1], contype=0, conaffinity=0, density=0.0)
    for geom in spec.geoms:
        geom.solref = [0.02, 1.0]
        geom.solimp = [0.8, 0.8, 0.01, 0.5, 2.0]  # the last two: MuJoCo's defaults, as an XML "0.8 0.8 0.01" gives
    init_qpos = spec.numerics[0]  # "init_qpos"
    init_qpos.size, init_qpos.data = len(INIT_QPOS), list(INIT_QPOS)
    return spec.compile()


class AntReachEnv(MujocoEnv):
    """The Ant walking to a goal on the upper half circle of radius 5 (module docstring)."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 10}

    def __init__(self, reset_noise: float = RESET_NOISE, reward: str = "official", terminate_when_fallen: bool = False,
                 reach_bonus: float = 0.0, render_mode: str | None = None):
        if reward not in ("official", "progress"):
            raise ValueError(f"AntReach reward: expected 'official' or 'progress', got {reward!r}")
        self.reset_noise = float(reset_noise)
        self.reward_kind = reward
        self.terminate_when_fallen = bool(terminate_when_fallen)
        if reach_bonus and reward != "progress":
            raise ValueError(f"AntReach reach_bonus={reach_bonus}: only the 'progress' reward takes a bonus")
        self.reach_bonus = float(reach_bonus)
        self.goal = np.array([0.0, GOAL_RADIUS])
        self.found_goal = False
        obs_space = spaces.Box(-np.inf, np.inf, shape=(42,), dtype=np.float64)
        # MujocoEnv insists on an existing model path; the model itself comes from ant_reach_model().
        super().__init__(os.path.abspath(__file__), frame_skip=5, observation_space=obs_space, render_mode=render_mode,
                         default_camera_config={"distance": 12.0, "elevation": -50.0, "lookat": [0.0, 2.5, 0.0]})
        self.init_qpos = np.asarray(INIT_QPOS, np.float64)

    def _initialize_simulation(self):
        model = ant_reach_model()
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        return model, mujoco.MjData(model)

    def _get_obs(self) -> np.ndarray:
        qpos, qvel = self.data.qpos, self.data.qvel
        return np.concatenate([qpos[2:], qvel, self.goal - qpos[:2]]).astype(np.float64)

    def distance(self) -> float:
        return float(np.linalg.norm(self.data.qpos[:2] - self.goal))

    def up_z(self) -> float:
        """The z component of the torso's up axis, 1 - 2 (qx^2 + qy^2) (quaternion w, x, y, z): 1 upright, -1 upside
        down."""
        qx, qy = self.data.qpos[4:6]
        return float(1.0 - 2.0 * (qx * qx + qy * qy))

    def fallen(self) -> bool:
        """Tilted more than ``MAX_TILT`` from upright (the progress reward's episodes end there)."""
        return self.up_z() < np.cos(MAX_TILT)

    def step(self, action):
        action = np.asarray(action, dtype=np.float64)
        before = self.distance()
        self.do_simulation(action, self.frame_skip)
        dist = self.distance()
        self.found_goal = self.found_goal or dist < SUCCESS_RADIUS
        ctrl_cost = CTRL_COST * float(np.square(action).sum())
        if self.reward_kind == "progress":
            reward = PROGRESS_WEIGHT * (before - dist) / self.dt + HEALTHY_REWARD * (not self.fallen()) - ctrl_cost
            reward += self.reach_bonus * (dist < SUCCESS_RADIUS)
        else:
            contact_cost = CONTACT_COST * float(np.square(np.clip(self.data.cfrc_ext, -1.0, 1.0)).sum())
            reward = 1.0 - dist / GOAL_RADIUS - ctrl_cost - contact_cost
        terminated = self.terminate_when_fallen and self.fallen()
        if self.render_mode == "human":
            self.render()
        return self._get_obs(), reward, terminated, False, {"success": self.found_goal, "distance": dist}

    def reset_model(self) -> np.ndarray:
        rng = self.np_random
        qpos = self.init_qpos + rng.uniform(-self.reset_noise, self.reset_noise, size=self.model.nq)
        qvel = self.init_qvel + rng.uniform(-VELOCITY_NOISE, VELOCITY_NOISE, size=self.model.nv)
        angle = rng.uniform(0.0, np.pi)
        self.goal = GOAL_RADIUS * np.array([np.cos(angle), np.sin(angle)])
        qpos[15:17] = self.goal
        self.found_goal = False
        self.set_state(qpos, qvel)
        return self._get_obs()
