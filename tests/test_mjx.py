"""MJX twins against the gymnasium (C MuJoCo) envs (the backends' results: test_eval_backends.py)."""

import functools

import gymnasium as gym
import jax
import numpy as np
import pytest

from dbc_jax.tasks import get_task
from dbc_jax.envs.mjx_twins import make_twin

STEPS, EPISODES = 100, 3


def c_state(env) -> tuple[np.ndarray, np.ndarray]:
    return env.unwrapped.data.qpos.copy(), env.unwrapped.data.qvel.copy()


def expert_actions(env_name: str, env, obs, seed: int):
    """An action function in env units: the scripted maze expert, or the shipped SAC expert (deterministic)."""
    if env_name == "maze":
        from dbc_jax.experts.maze import WaypointExpert

        expert = WaypointExpert(np.random.default_rng(seed))
        expert.reset(obs[:2], env.unwrapped.target)
        return lambda o: expert.act(o[:2], o[2:4])
    from dbc_jax.experts.learned import load_expert

    policy, _ = load_expert(env_name)
    return lambda o: policy(o, None, 0)


@functools.lru_cache(maxsize=None)
def c_rollouts(env_name: str):
    """``EPISODES`` C-MuJoCo episodes of ``STEPS`` steps driven by the expert: the start states (qpos, qvel, goal),
    actions, the state before each step, and what each step returned; ``alive[t]`` is False after the end."""
    env = gym.make(get_task(env_name).env_id)
    out = {k: [] for k in ("qpos0", "qvel0", "goal", "actions", "qpos", "qvel", "obs", "reward", "terminated", "alive")}
    for i in range(EPISODES):
        obs, _ = env.reset(seed=100 + i)
        qpos, qvel = c_state(env)
        out["qpos0"].append(qpos), out["qvel0"].append(qvel)
        out["goal"].append(env.unwrapped.target.copy() if env_name == "maze" else np.zeros(0))
        act = expert_actions(env_name, env, obs, i)
        rows = {k: [] for k in ("actions", "qpos", "qvel", "obs", "reward", "terminated", "alive")}
        done = False
        for _ in range(STEPS):
            a = np.asarray(act(obs), np.float64)
            rows["actions"].append(a), rows["alive"].append(not done)
            rows["qpos"].append(c_state(env)[0]), rows["qvel"].append(c_state(env)[1])
            if not done:
                obs, r, terminated, _, _ = env.step(a)
                done = terminated
            else:
                r, terminated = 0.0, True
            rows["obs"].append(obs), rows["reward"].append(r), rows["terminated"].append(terminated)
        for k, v in rows.items():
            out[k].append(np.stack(v) if k != "reward" else np.asarray(v))
    env.close()
    # [EPISODES, ...] for the start, [STEPS, EPISODES, ...] per step
    return {k: np.stack(v, axis=1) if k in rows else np.stack(v) for k, v in out.items()}


# Agreement of MJX with C MuJoCo, both in float64, on obs and reward (max abs error). Measured 2026-11-22:
# free-running 2e-15 (maze), 1.2e-9 (HalfCheetah, 20 steps), 4.7e-10 (Walker2d); from C's state at every step
# 9e-16, 2e-10, 3.5e-11. HalfCheetah's running gait is chaotic: a 1e-14 difference after one step grows about
# 10x every 3 steps, to 1e-5 at step 25 and O(1) by step 100, so its free-running check covers 20 steps; from
# C's state at every step (the "teacher-forced" check) all three agree over all 100, and free-running under a
# smooth open-loop action sequence HalfCheetah agrees over 100 steps too (2.3e-12, test below). In float32 (what the
# evaluator runs) the one-step error is ~1e-4 and trajectories part sooner; the tests below compare the
# backends' results statistically instead.
FREE_RUNNING = {"maze": (STEPS, 1e-6), "halfcheetah": (20, 1e-6), "walker": (STEPS, 1e-6)}
ONE_STEP_TOL = 1e-6


@pytest.mark.parametrize("env_name", ["maze", "halfcheetah",
                                      pytest.param("walker", marks=pytest.mark.slow)])  # the longest: make test-slow
def test_twin_follows_c_mujoco_from_the_same_states_and_actions(env_name):
    c = c_rollouts(env_name)
    with jax.enable_x64(True):
        twin = make_twin(env_name)
        step, state_from = jax.jit(jax.vmap(twin.step)), jax.jit(jax.vmap(twin.state_from))
        starts = state_from(c["qpos0"], c["qvel0"], c["goal"])
        free_steps, free_tol = FREE_RUNNING[env_name]
        state, free_err, forced_err = starts, 0.0, 0.0
        for t in range(STEPS):
            alive = c["alive"][t]
            state, out = step(state, c["actions"][t])
            forced_state = state_from(c["qpos"][t], c["qvel"][t], c["goal"])
            forced_state, forced = step(forced_state, c["actions"][t])
            for result, is_free in ((out, True), (forced, False)):
                if is_free and t >= free_steps:
                    continue
                err = np.max(np.abs(np.asarray(result.obs) - c["obs"][t])[alive], initial=0.0)
                err = max(err, np.max(np.abs(np.asarray(result.reward) - c["reward"][t])[alive], initial=0.0))
                np.testing.assert_array_equal(np.asarray(result.terminated)[alive], c["terminated"][t][alive])
                if is_free:
                    free_err = max(free_err, err)
                else:
                    forced_err = max(forced_err, err)
    assert free_err < free_tol, f"free-running over {free_steps} steps: max error {free_err:.2e}"
    assert forced_err < ONE_STEP_TOL, f"from C's state at each of {STEPS} steps: max error {forced_err:.2e}"


def test_halfcheetah_twin_free_runs_100_steps_under_a_smooth_open_loop_sequence():
    """The expert's gait is chaotic (see above); ``0.5 sin(0.2 t + joint)`` is not, so it checks 100 free steps."""
    env = gym.make(get_task("halfcheetah").env_id)
    actions = 0.5 * np.sin(0.2 * np.arange(STEPS)[:, None, None] + np.arange(6)) * np.ones((1, EPISODES, 1))
    starts, c_obs, c_reward = [], [], []
    for i in range(EPISODES):
        env.reset(seed=100 + i)
        starts.append(c_state(env))
        steps = [env.step(a)[:2] for a in actions[:, i]]
        c_obs.append([o for o, _ in steps]), c_reward.append([r for _, r in steps])
    env.close()
    c_obs, c_reward = np.swapaxes(np.asarray(c_obs), 0, 1), np.asarray(c_reward).T
    with jax.enable_x64(True):
        twin = make_twin("halfcheetah")
        step = jax.jit(jax.vmap(twin.step))
        state = jax.jit(jax.vmap(twin.state_from))(*(np.stack(x) for x in zip(*starts)), np.zeros((EPISODES, 0)))
        err = 0.0
        for t in range(STEPS):
            state, out = step(state, actions[t])
            err = max(err, np.abs(np.asarray(out.obs) - c_obs[t]).max(),
                      np.abs(np.asarray(out.reward) - c_reward[t]).max())
    assert err < ONE_STEP_TOL, f"free-running over {STEPS} steps: max error {err:.2e}"


# AntReach. MJX solves the Ant's pyramidal friction cones (the official model's, MuJoCo's default) differently from
# C MuJoCo: from the same state and action the two part by up to 1e-1 in velocity within 15 physics steps whenever
# a foot slides, with gymnasium's own Ant-v4 model too (measured 2026-11-23, 6 random actions: 2 of 6 parted for
# Ant-v4, 6 of 6 for AntReach); with elliptic cones they agree to the solvers' tolerance (1.2e-5 on the
# observation from C's state at each step). So the twin's observation, reward and sticky success are checked
# against C with both on elliptic cones, and the two backends' results on the official model are compared
# statistically (test_eval_backends.py).
ANT_FORCED_TOL, ANT_FREE_STEPS = 1e-4, 10  # free-running parts chaotically after ~20 steps, as HalfCheetah


@pytest.mark.slow  # about a minute alone: in make test-slow, keeping make test under 10 minutes
def test_antreach_twin_follows_c_mujoco_with_elliptic_friction_cones():
    import mujoco
    from mujoco import mjx

    from dbc_jax.experts.learned import load_expert

    policy, _ = load_expert("antreach")
    env = gym.make(get_task("antreach").env_id)
    env.unwrapped.model.opt.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    free_err, forced_err = 0.0, 0.0
    with jax.enable_x64(True):
        twin = make_twin("antreach")
        twin.model = mjx.put_model(env.unwrapped.model)
        step, state_from = jax.jit(twin.step), jax.jit(twin.state_from)
        for episode in range(EPISODES):
            obs, _ = env.reset(seed=100 + episode)
            u = env.unwrapped
            state = state_from(u.data.qpos.copy(), u.data.qvel.copy(), u.goal.copy())
            for t in range(get_task("antreach").horizon):
                action = np.asarray(policy(obs, None, 0), np.float64)
                forced_state = state_from(*c_state(env), u.goal.copy())
                forced_state = forced_state.replace(found=np.bool_(u.found_goal), t=np.int32(t))
                obs, reward, terminated, truncated, info = env.step(action)
                state, out = step(state, action)
                _, forced = step(forced_state, action)
                def err(r):
                    return max(np.abs(np.asarray(r.obs) - obs).max(), abs(float(r.reward) - reward))

                forced_err = max(forced_err, err(forced))
                if t < ANT_FREE_STEPS:
                    free_err = max(free_err, err(out))
                assert bool(forced.success) == info["success"] and not forced.terminated and not terminated
                assert bool(forced.truncated) == truncated == (t == 49)
    assert forced_err < ANT_FORCED_TOL, f"from C's state at each step: max error {forced_err:.2e}"
    assert free_err < ANT_FORCED_TOL, f"free-running over {ANT_FREE_STEPS} steps: max error {free_err:.2e}"
