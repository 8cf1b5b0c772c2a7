"""Maze2D-Medium as in the DBC paper (D4RL ``maze2d-medium-v2`` with the target in the observation).

The MuJoCo model is written here from the numbers in the official spec (Appendix A), not copied from D4RL:
a point mass (sphere, two slide joints, gear-100 motors) in an 8x8 grid of 1x1 wall boxes. The particle body
sits at world (1.2, 1.2) while wall tile (w, h) is centred at world (w + 1, h + 1), so in qpos coordinates a
wall covers [w - 0.7, w + 0.3] x [h - 0.7, h + 0.3]; D4RL has the same offset and the paper's data reflects it.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np
from gymnasium import spaces
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

from dbc_jax.tasks import TASKS

MEDIUM_MAZE = (
    "########",
    "#OO##OO#",
    "#OO#OOO#",
    "##OOO###",
    "#OO#OOO#",
    "#O#OO#O#",
    "#OOO#OG#",
    "########",
)

SUCCESS_RADIUS = 0.5  # ||qpos - target|| <= this is success, and ends the episode
MAX_EPISODE_STEPS = TASKS["maze"].horizon
MAX_SPEED = 5.0  # qvel is clipped to [-5, 5] before each physics step


def wall_cells(maze: tuple[str, ...] = MEDIUM_MAZE) -> list[tuple[int, int]]:
    """Grid coordinates (w, h) of the '#' tiles; w indexes rows, h columns."""
    return [(w, h) for w, row in enumerate(maze) for h, c in enumerate(row) if c == "#"]


def free_cells(maze: tuple[str, ...] = MEDIUM_MAZE) -> np.ndarray:
    """Grid coordinates of the free tiles ('O' and 'G'), in qpos coordinates; shape [26, 2] for Medium."""
    return np.array([(w, h) for w, row in enumerate(maze) for h, c in enumerate(row) if c in "OG"], dtype=np.float64)


def draw_paths(ax, paths: np.ndarray, success: np.ndarray, maze: tuple[str, ...] = MEDIUM_MAZE) -> None:
    """Evaluation episodes over the maze's walls, in qpos coordinates. Episode i has its own colour and its number
    at both ends: a dot at its start, a star at its goal; its path is solid if it reached the goal, dashed with a
    cross at its end if not. ``paths`` [K, steps, 6] observations, NaN after the end. The legend entries are
    labelled on ``ax`` (``plot_paths`` gathers them into one figure legend)."""
    import matplotlib.patches as patches
    from matplotlib.lines import Line2D

    # The particle's body sits at (1.2, 1.2) and wall (w, h) at (w + 1, h + 1): in qpos coordinates a wall's centre
    # is (w - 0.2, h - 0.2).
    shift = -0.2
    for w, h in wall_cells(maze):
        ax.add_patch(patches.Rectangle((w + shift - 0.5, h + shift - 0.5), 1.0, 1.0, color="0.35"))
    colors = [f"C{i % 10}" for i in range(len(paths))]
    for i, (path, ok, color) in enumerate(zip(paths, success, colors)):
        path = path[~np.isnan(path[:, 0])]
        ax.plot(path[:, 0], path[:, 1], "-" if ok else "--", color=color, lw=1.3, alpha=0.9)
        ax.plot(*path[0, :2], "o", color=color, ms=5, markeredgecolor="k", markeredgewidth=0.5)
        ax.plot(*path[0, 4:6], "*", color=color, ms=12, markeredgecolor="k", markeredgewidth=0.5)
        if not ok:
            ax.plot(*path[-1, :2], "x", color=color, ms=7, mew=2)
        for point in (path[0, :2], path[0, 4:6]):
            ax.annotate(str(i + 1), point, xytext=(4, 4), textcoords="offset points", fontsize=7, color=color,
                        fontweight="bold")
    for marker, style, label in (("o", "", "start (episode number beside it)"), ("*", "", "its goal (same colour)"),
                                 ("", "-", "reached the goal"), ("x", "--", "did not (cross: where it ended)")):
        ax.add_line(Line2D([], [], color="0.2", marker=marker, linestyle=style or "none", ms=8, label=label))
    ax.set(xlim=(shift - 0.5, len(maze) + shift - 0.5), ylim=(shift - 0.5, len(maze[0]) + shift - 0.5),
           aspect="equal", xticks=[], yticks=[])


def maze_xml(maze: tuple[str, ...] = MEDIUM_MAZE) -> str:
    """The MJCF of the point maze (spec Appendix A)."""
    walls = "\n".join(
        f'    <geom name="wall_{w}_{h}" type="box" pos="{w + 1} {h + 1} 0" size="0.5 0.5 0.2" '
        f'conaffinity="1" rgba="0.7 0.5 0.3 1"/>'
        for w, h in wall_cells(maze)
    )
    return f"""<mujoco model="maze2d">
  <compiler inertiafromgeom="true" angle="radian" coordinate="local"/>
  <option timestep="0.01" gravity="0 0 0" integrator="Euler" iterations="20"/>
  <default>
    <joint damping="1" limited="false"/>
    <geom friction="0.5 0.1 0.1" density="1000" margin="0.002" condim="1" contype="2" conaffinity="1"/>
  </default>
  <worldbody>
    <geom name="ground" type="plane" pos="0 0 -0.1" size="40 40 0.1" contype="1" conaffinity="0" rgba="0.9 0.9 0.9 1"/>
    <body name="particle" pos="1.2 1.2 0">
      <geom name="particle_geom" type="sphere" size="0.1" contype="1" rgba="0.2 0.3 0.9 1"/>
      <joint name="ball_x" type="slide" pos="0 0 0" axis="1 0 0"/>
      <joint name="ball_y" type="slide" pos="0 0 0" axis="0 1 0"/>
    </body>
    <body name="target" mocap="true" pos="0 0 0">
      <site name="target_site" type="sphere" size="0.2" rgba="0.9 0.2 0.2 0.5"/>
    </body>
{walls}
  </worldbody>
  <actuator>
    <motor joint="ball_x" ctrlrange="-1 1" ctrllimited="true" gear="100"/>
    <motor joint="ball_y" ctrlrange="-1 1" ctrllimited="true" gear="100"/>
  </actuator>
</mujoco>
"""


class PointMassEnv(MujocoEnv):
    """The point mass of D4RL's maze2d, whose model ``model_xml()`` builds: actions clipped to [-1, 1] and the
    velocity clipped to ``MAX_SPEED`` and written back before each physics step (:meth:`push`). Maze and PointFork
    (``envs/fork.py``) are this body in different worlds."""

    metadata = {"render_modes": ["human", "rgb_array", "depth_array"], "render_fps": 100}

    def __init__(self, obs_dim: int, render_mode: str | None = None):
        obs_space = spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float64)
        # MujocoEnv insists on an existing model path; the model itself comes from model_xml().
        super().__init__(os.path.abspath(__file__), frame_skip=1, observation_space=obs_space, render_mode=render_mode)

    def model_xml(self) -> str:
        raise NotImplementedError

    def _initialize_simulation(self):
        model = mujoco.MjModel.from_xml_string(self.model_xml())
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        return model, mujoco.MjData(model)

    def push(self, action) -> np.ndarray:
        """One physics step under ``action``; the new observation."""
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        # D4RL clips the velocity and writes it back into the state before simulating.
        self.set_state(self.data.qpos.copy(), np.clip(self.data.qvel, -MAX_SPEED, MAX_SPEED))
        self.do_simulation(action, self.frame_skip)
        if self.render_mode == "human":
            self.render()
        return self._get_obs()


class MazeEnv(PointMassEnv):
    """Point-mass navigation to a random target in maze2d-medium.

    Observation (6-D): ``[x, y, vx, vy, target_x, target_y]`` in qpos coordinates. Action (2-D) in [-1, 1].
    Reset: start and target cells uniform over the 26 free cells (independently, as in the paper: about 3.8%
    of episodes start in the target cell), plus ``U(-0.1, 0.1) * noise_ratio`` on the start and
    ``U(-0.1, 0.1) * goal_noise_ratio`` on the target; initial velocity ``N(0, 1) * 0.1 * noise_ratio``.
    ``info["success"]`` is True once within ``SUCCESS_RADIUS`` of the target; that step terminates the episode.
    """

    def __init__(self, noise_ratio: float = 1.0, goal_noise_ratio: float = 1.0, render_mode: str | None = None):
        self.noise_ratio = float(noise_ratio)
        self.goal_noise_ratio = float(goal_noise_ratio)
        self.cells = free_cells()
        self.target = self.cells[-1].copy()
        super().__init__(6, render_mode)

    def model_xml(self) -> str:
        return maze_xml()

    def _get_obs(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel, self.target]).astype(np.float64)

    def step(self, action):
        obs = self.push(action)
        dist = float(np.linalg.norm(obs[:2] - self.target))
        success = dist <= SUCCESS_RADIUS
        return obs, float(np.exp(-dist)), success, False, {"success": success, "distance": dist}

    def reset_model(self) -> np.ndarray:
        rng = self.np_random
        start = self.cells[rng.integers(len(self.cells))]
        qpos = start + rng.uniform(-0.1, 0.1, size=2) * self.noise_ratio
        qvel = rng.standard_normal(2) * 0.1 * self.noise_ratio
        self.target = self.cells[rng.integers(len(self.cells))] + rng.uniform(-0.1, 0.1, size=2) * self.goal_noise_ratio
        self.set_state(qpos, qvel)
        self._place_target_marker()
        return self._get_obs()

    def set_target(self, target) -> None:
        """Put the target at ``target`` (qpos coordinates), e.g. to replay a recorded episode."""
        self.target = np.asarray(target, dtype=np.float64).copy()
        self._place_target_marker()

    def _place_target_marker(self) -> None:
        """Move the target's marker: a site on a mocap body (no mass, no contact: it does not touch the dynamics).
        A site on the world body, as in D4RL, would stay at the origin in renders: MuJoCo places those once."""
        self.data.mocap_pos[0] = [self.target[0] + 1.2, self.target[1] + 1.2, 0.0]
