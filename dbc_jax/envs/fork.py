"""PointFork: a task with two equally good ways from the same states (the paper's future work: multimodal behaviour).

The point mass of Maze (a sphere on two slide joints, gear-100 motors, velocity clipped to 5, timestep 0.01)
starts near the origin and must reach a goal 4 m ahead; a block sits on the straight line between them. Going
round it on the left or on the right is equally short, and the expert (``dbc_jax/experts/fork.py``) takes either
with probability 1/2 from the same start. A policy that averages the two ways (a mean-squared-error fit of these
demos, the forward-KL argument's prediction for BC) heads straight up into the block.

A path is classified by the side on which it passes the block (:func:`path_mode`): "left", "right", or
"stuck" when it never gets past the block's far edge; and by whether it runs into the block on the way
(:func:`touches_block`), as the averaged way does before it slides off a corner, if it does.
"""

from __future__ import annotations

import numpy as np

from dbc_jax.envs.maze import PointMassEnv
from dbc_jax.tasks import TASKS

GOAL = np.array([0.0, 4.0])
BLOCK_CENTRE = np.array([0.0, 2.0])
BLOCK_HALF = np.array([0.5, 0.25])  # the block spans x in [-0.5, 0.5], y in [1.75, 2.25]
SUCCESS_RADIUS = 0.3  # ||position - goal|| <= this is success, and ends the episode
MAX_EPISODE_STEPS = TASKS["fork"].horizon  # 200; the expert needs about 90 steps
MODES = ("left", "right", "stuck")


def fork_xml() -> str:
    bx, by = BLOCK_CENTRE
    hx, hy = BLOCK_HALF
    return f"""<mujoco model="point_fork">
  <compiler inertiafromgeom="true" angle="radian" coordinate="local"/>
  <option timestep="0.01" gravity="0 0 0" integrator="Euler" iterations="20"/>
  <default>
    <joint damping="1" limited="false"/>
    <geom friction="0.5 0.1 0.1" density="1000" margin="0.002" condim="1" contype="2" conaffinity="1"/>
  </default>
  <worldbody>
    <geom name="ground" type="plane" pos="0 0 -0.1" size="20 20 0.1" contype="1" conaffinity="0" rgba="0.9 0.9 0.9 1"/>
    <light pos="0 2 6" dir="0 0 -1"/>
    <body name="particle" pos="0 0 0">
      <geom name="particle_geom" type="sphere" size="0.1" contype="1" rgba="0.2 0.3 0.9 1"/>
      <joint name="ball_x" type="slide" pos="0 0 0" axis="1 0 0"/>
      <joint name="ball_y" type="slide" pos="0 0 0" axis="0 1 0"/>
    </body>
    <body name="target" mocap="true" pos="{GOAL[0]} {GOAL[1]} 0">
      <site name="target_site" type="sphere" size="{SUCCESS_RADIUS}" rgba="0.9 0.2 0.2 0.5"/>
    </body>
    <geom name="block" type="box" pos="{bx} {by} 0" size="{hx} {hy} 0.2" conaffinity="1" rgba="0.7 0.5 0.3 1"/>
  </worldbody>
  <actuator>
    <motor joint="ball_x" ctrlrange="-1 1" ctrllimited="true" gear="100"/>
    <motor joint="ball_y" ctrlrange="-1 1" ctrllimited="true" gear="100"/>
  </actuator>
</mujoco>
"""


class ForkEnv(PointMassEnv):
    """Reach the goal at (0, 4) past the block at (0, 2), by either side.

    Observation (4-D): ``[x, y, vx, vy]``. Action (2-D) in [-1, 1]. Reset: position ``U(-0.1, 0.1) * noise_ratio``
    per axis, velocity ``N(0, 1) * 0.1 * noise_ratio``. Reward ``exp(-distance to the goal)``; ``info["success"]``
    once within ``SUCCESS_RADIUS`` of the goal, which ends the episode.
    """

    def __init__(self, noise_ratio: float = 1.0, render_mode: str | None = None):
        self.noise_ratio = float(noise_ratio)
        super().__init__(4, render_mode)

    def model_xml(self) -> str:
        return fork_xml()

    def _get_obs(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel]).astype(np.float64)

    def step(self, action):
        obs = self.push(action)
        dist = float(np.linalg.norm(obs[:2] - GOAL))
        success = dist <= SUCCESS_RADIUS
        return obs, float(np.exp(-dist)), success, False, {"success": success, "distance": dist}

    def reset_model(self) -> np.ndarray:
        rng = self.np_random
        qpos = rng.uniform(-0.1, 0.1, size=2) * self.noise_ratio
        qvel = rng.standard_normal(2) * 0.1 * self.noise_ratio
        self.set_state(qpos, qvel)
        return self._get_obs()


def path_mode(positions: np.ndarray) -> str:
    """"left" or "right": the side of the block on which a path ([steps, >= 2] positions, NaN after its end) first
    gets past the block's far edge; "stuck" if it never does."""
    positions = positions[~np.isnan(positions[:, 0])]
    past = np.flatnonzero(positions[:, 1] > BLOCK_CENTRE[1] + BLOCK_HALF[1])
    if not len(past):
        return "stuck"
    return "left" if positions[past[0], 0] < BLOCK_CENTRE[0] else "right"


BALL_RADIUS = 0.1


def touches_block(positions: np.ndarray, margin: float = 0.02) -> bool:
    """Whether a path ([steps, >= 2] positions, NaN after its end) runs into the block: the ball within ``margin``
    of it. A policy that averages the two ways heads straight for it (and may then slide off a corner)."""
    positions = positions[~np.isnan(positions[:, 0])]
    gap = np.maximum(np.abs(positions[:, :2] - BLOCK_CENTRE) - BLOCK_HALF, 0.0)
    return bool(np.any(np.linalg.norm(gap, axis=1) <= BALL_RADIUS + margin))


def draw_paths(ax, paths: np.ndarray, success: np.ndarray) -> None:
    """Evaluation episodes over the block, as Maze's: a colour and a number per episode, solid if it reached the
    goal, dashed with a cross where it ended if not. ``paths`` [K, steps, 4] observations, NaN after the end."""
    import matplotlib.patches as patches
    from matplotlib.lines import Line2D

    ax.add_patch(patches.Rectangle(BLOCK_CENTRE - BLOCK_HALF, *(2 * BLOCK_HALF), color="0.35"))
    ax.add_patch(patches.Circle(GOAL, SUCCESS_RADIUS, color="tab:red", alpha=0.3))
    for i, (path, ok) in enumerate(zip(paths, success)):
        color = f"C{i % 10}"
        path = path[~np.isnan(path[:, 0])]
        ax.plot(path[:, 0], path[:, 1], "-" if ok else "--", color=color, lw=1.3, alpha=0.9)
        ax.plot(*path[0, :2], "o", color=color, ms=5, markeredgecolor="k", markeredgewidth=0.5)
        if not ok:
            ax.plot(*path[-1, :2], "x", color=color, ms=7, mew=2)
        ax.annotate(str(i + 1), path[-1, :2], xytext=(4, 4), textcoords="offset points", fontsize=7, color=color,
                    fontweight="bold")
    for marker, style, label in (("o", "", "start"), ("", "-", "reached the goal (red disc)"),
                                 ("x", "--", "did not (cross: where it ended)")):
        ax.add_line(Line2D([], [], color="0.2", marker=marker, linestyle=style or "none", ms=8, label=label))
    ax.set(xlim=(-2.0, 2.0), ylim=(-0.5, 4.5), aspect="equal", xticks=[], yticks=[])
