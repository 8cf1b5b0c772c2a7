"""Pure-JAX twins of the gymnasium envs on ``mujoco.mjx``: ``reset(key)`` and ``step(state, action)``.

Each twin takes its ``MjModel`` from the gymnasium env itself (``gym.make(env_id).unwrapped.model``), so the
MJCF has one source: ``maze_xml()`` for Maze2D, gymnasium's v4 assets for HalfCheetah and Walker2d,
``ant_reach_model()`` for AntReach. Observation, reward, termination, truncation and success follow the gymnasium
classes line by line (``envs/maze.py``, ``envs/ant.py``, ``gymnasium/envs/mujoco/{half_cheetah,walker2d}_v4.py``);
``tests/test_mjx.py`` checks them against each other.

Everything runs in float32 (jax's default), the C envs in float64; the parity tests state how far that lets
trajectories drift. Reset draws come from the ``key``, not from numpy, so the two backends see different
episodes from the same distribution.
"""

from __future__ import annotations

import contextlib
import io

import gymnasium as gym
import jax
import jax.numpy as jnp
from flax import struct

with contextlib.redirect_stdout(io.StringIO()):  # mjx prints "Failed to import warp" when the optional GPU
    from mujoco import mjx  # backend (NVIDIA warp) is absent; we use the JAX implementation

from dbc_jax.envs import ant as ant_env  # noqa: E402
from dbc_jax.envs import maze as maze_env  # noqa: E402
from dbc_jax.tasks import TASKS, get_task, load  # noqa: E402


@struct.dataclass
class EnvState:
    data: mjx.Data
    goal: jax.Array  # Maze2D's target (qpos coordinates), AntReach's goal (x, y); empty for locomotion
    t: jax.Array  # steps taken in this episode
    found: jax.Array  # success reached earlier in the episode (AntReach's success is sticky)


@struct.dataclass
class StepResult:
    obs: jax.Array
    reward: jax.Array
    terminated: jax.Array
    truncated: jax.Array
    success: jax.Array


class _Twin:
    """Shared plumbing: the model (from the gymnasium env), the horizon, and the physics step."""

    task: str  # the registry name of the task it twins

    def __init__(self, env_kwargs: dict | None = None):
        env = gym.make(TASKS[self.task].env_id, **(env_kwargs or {}))
        self.horizon = env.spec.max_episode_steps
        self.dtype = jnp.result_type(float)  # float32; float64 when built under jax.enable_x64 (parity tests)
        self.frame_skip = env.unwrapped.frame_skip
        self.init_qpos = jnp.asarray(env.unwrapped.init_qpos, self.dtype)
        self.init_qvel = jnp.asarray(env.unwrapped.init_qvel, self.dtype)
        self.model = mjx.put_model(env.unwrapped.model)
        self._configure(env.unwrapped)
        env.close()

    def _configure(self, env) -> None:
        """Read the task's constants off the gymnasium env (so they cannot drift apart)."""

    def _data(self, qpos, qvel) -> mjx.Data:
        data = mjx.make_data(self.model).replace(qpos=qpos, qvel=qvel)
        return mjx.forward(self.model, data)  # as set_state's mj_forward

    def _simulate(self, data: mjx.Data, ctrl) -> mjx.Data:
        data = data.replace(ctrl=jnp.asarray(ctrl, data.ctrl.dtype))
        return jax.lax.fori_loop(0, self.frame_skip, lambda _, d: mjx.step(self.model, d), data)

    def reset(self, key) -> tuple[EnvState, jax.Array]:
        raise NotImplementedError

    def step(self, state: EnvState, action) -> tuple[EnvState, StepResult]:
        raise NotImplementedError

    def state_from(self, qpos, qvel, goal=None) -> EnvState:
        """A state with the given qpos/qvel (and goal: Maze2D's target, AntReach's goal), e.g. a C env's, for parity
        checks."""
        goal = jnp.zeros((0,), self.dtype) if goal is None else jnp.asarray(goal, self.dtype)
        return EnvState(self._data(jnp.asarray(qpos, self.dtype), jnp.asarray(qvel, self.dtype)), goal,
                        jnp.zeros((), jnp.int32), jnp.zeros((), bool))


class Maze2D(_Twin):
    """``dbc_jax/Maze2D-Medium-v0``: same reset distribution, velocity clip, success rule and time limit."""

    task = "maze"

    def __init__(self, noise_ratio: float = 1.0, goal_noise_ratio: float = 1.0):
        super().__init__({"noise_ratio": float(noise_ratio), "goal_noise_ratio": float(goal_noise_ratio)})

    def _configure(self, env) -> None:
        self.cells = jnp.asarray(env.cells, self.dtype)
        self.noise_ratio = env.noise_ratio
        self.goal_noise_ratio = env.goal_noise_ratio

    def _obs(self, data, goal):
        return jnp.concatenate([data.qpos, data.qvel, goal])

    def reset(self, key):
        k_start, k_pos, k_vel, k_goal, k_goal_pos = jax.random.split(key, 5)
        n = self.cells.shape[0]
        qpos = self.cells[jax.random.randint(k_start, (), 0, n)]
        qpos = qpos + jax.random.uniform(k_pos, (2,), minval=-0.1, maxval=0.1) * self.noise_ratio
        qvel = jax.random.normal(k_vel, (2,)) * 0.1 * self.noise_ratio
        goal = self.cells[jax.random.randint(k_goal, (), 0, n)]
        goal = goal + jax.random.uniform(k_goal_pos, (2,), minval=-0.1, maxval=0.1) * self.goal_noise_ratio
        state = self.state_from(qpos, qvel, goal)
        return state, self._obs(state.data, goal)

    def step(self, state, action):
        action = jnp.clip(action, -1.0, 1.0)
        # D4RL clips the velocity into the state before simulating (the C env's set_state; its mj_forward is
        # redone by mj_step's own forward pass, so it is skipped here).
        data = state.data.replace(qvel=jnp.clip(state.data.qvel, -maze_env.MAX_SPEED, maze_env.MAX_SPEED))
        data = self._simulate(data, action)
        obs = self._obs(data, state.goal)
        dist = jnp.linalg.norm(data.qpos - state.goal)
        success = dist <= maze_env.SUCCESS_RADIUS
        t = state.t + 1
        return state.replace(data=data, t=t), StepResult(obs, jnp.exp(-dist), success, t >= self.horizon, success)


class _Locomotion(_Twin):
    """gymnasium's v4 HalfCheetah/Walker2d: obs ``qpos[1:], qvel``; reward ``forward - ctrl_cost (+ healthy)``.

    The action reaches MuJoCo unclipped (it clamps ``ctrl`` to ``ctrlrange``); the control cost uses it raw.
    """

    def _configure(self, env) -> None:
        self.dt = float(env.dt)
        self.forward_weight = float(env._forward_reward_weight)
        self.ctrl_cost_weight = float(env._ctrl_cost_weight)
        self.reset_noise = float(env._reset_noise_scale)

    def _obs(self, data):
        return jnp.concatenate([data.qpos[1:], data.qvel])

    def _healthy(self, data):
        return jnp.asarray(True)

    def _healthy_reward(self):
        return 0.0

    def _velocity_noise(self, key):
        raise NotImplementedError

    def reset(self, key):
        k_pos, k_vel = jax.random.split(key)
        s = self.reset_noise
        qpos = self.init_qpos + jax.random.uniform(k_pos, self.init_qpos.shape, minval=-s, maxval=s)
        state = self.state_from(qpos, self.init_qvel + self._velocity_noise(k_vel))
        return state, self._obs(state.data)

    def step(self, state, action):
        data = self._simulate(state.data, action)
        x_velocity = (data.qpos[0] - state.data.qpos[0]) / self.dt
        reward = (self.forward_weight * x_velocity + self._healthy_reward()
                  - self.ctrl_cost_weight * jnp.sum(jnp.square(action)))
        terminated = ~self._healthy(data)
        t = state.t + 1
        false = jnp.zeros((), bool)
        return state.replace(data=data, t=t), StepResult(self._obs(data), reward, terminated, t >= self.horizon, false)


class HalfCheetah(_Locomotion):
    task = "halfcheetah"

    def _velocity_noise(self, key):
        return self.reset_noise * jax.random.normal(key, self.init_qvel.shape)


class Walker2d(_Locomotion):
    task = "walker"

    def _configure(self, env) -> None:
        super()._configure(env)
        self.healthy_z = tuple(env._healthy_z_range)
        self.healthy_angle = tuple(env._healthy_angle_range)
        self.healthy_reward = float(env._healthy_reward)
        assert env._terminate_when_unhealthy, "the twin assumes Walker2d ends its episode when unhealthy"

    def _obs(self, data):
        return jnp.concatenate([data.qpos[1:], jnp.clip(data.qvel, -10.0, 10.0)])

    def _healthy(self, data):
        z, angle = data.qpos[1], data.qpos[2]
        return ((self.healthy_z[0] < z) & (z < self.healthy_z[1])
                & (self.healthy_angle[0] < angle) & (angle < self.healthy_angle[1]))

    def _healthy_reward(self):
        return self.healthy_reward  # paid every step: the episode ends when unhealthy (v4's healthy_reward)

    def _velocity_noise(self, key):
        return jax.random.uniform(key, self.init_qvel.shape, minval=-self.reset_noise, maxval=self.reset_noise)


class AntReach(_Twin):
    """``dbc_jax/AntReach-v0`` (the official env; the RL training variant has no twin): same reset distribution,
    observation, reward, sticky success, and 50 steps never ended early."""

    task = "antreach"

    def __init__(self, reset_noise: float = ant_env.RESET_NOISE):
        super().__init__({"reset_noise": float(reset_noise)})

    def _configure(self, env) -> None:
        self.reset_noise = env.reset_noise

    def _obs(self, data, goal):
        return jnp.concatenate([data.qpos[2:], data.qvel, goal - data.qpos[:2]])

    def reset(self, key):
        k_pos, k_vel, k_goal = jax.random.split(key, 3)
        s, v = self.reset_noise, ant_env.VELOCITY_NOISE
        qpos = self.init_qpos + jax.random.uniform(k_pos, self.init_qpos.shape, self.dtype, -s, s)
        qvel = self.init_qvel + jax.random.uniform(k_vel, self.init_qvel.shape, self.dtype, -v, v)
        angle = jax.random.uniform(k_goal, (), self.dtype, 0.0, jnp.pi)
        goal = ant_env.GOAL_RADIUS * jnp.stack([jnp.cos(angle), jnp.sin(angle)])
        state = self.state_from(qpos.at[15:17].set(goal), qvel, goal)
        return state, self._obs(state.data, goal)

    def step(self, state, action):
        data = self._simulate(state.data, action)
        dist = jnp.linalg.norm(data.qpos[:2] - state.goal)
        found = state.found | (dist < ant_env.SUCCESS_RADIUS)
        # gymnasium calls mj_rnePostConstraint after each step: cfrc_ext for the contact cost
        cfrc_ext = mjx.rne_postconstraint(self.model, data)._impl.cfrc_ext
        reward = (1.0 - dist / ant_env.GOAL_RADIUS - ant_env.CTRL_COST * jnp.sum(jnp.square(action))
                  - ant_env.CONTACT_COST * jnp.sum(jnp.square(jnp.clip(cfrc_ext, -1.0, 1.0))))
        t = state.t + 1
        false = jnp.zeros((), bool)
        return (state.replace(data=data, t=t, found=found),
                StepResult(self._obs(data, state.goal), reward, false, t >= self.horizon, found))


def make_twin(env_name: str, env_kwargs: dict | None = None) -> _Twin:
    """The MJX twin of the task ``env_name`` (a config's ``env_name``), with the config's ``env`` kwargs."""
    task = get_task(env_name)
    if not task.has_twin:
        raise ValueError(f"no MJX twin for env '{env_name}' (tasks with one: "
                         f"{', '.join(t.name for t in TASKS.values() if t.has_twin)})")
    return load(task.twin)(**(env_kwargs or {}))
