"""What bounds the SAC expert's training speed on this machine: env steps against gradient updates.

    python experiments/bench_expert.py [--batch_sizes 128 256] [--chunk 100]

Rows: C-MuJoCo env steps per second (one gymnasium env, the SAC actor choosing each action, as in training),
and SAC updates per second (a jitted lax.scan chunk of ``--chunk`` updates, timed after a first call that
compiles; the compile time is shown apart). One env step and one update are what SAC spends per transition.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import jax
import numpy as np

import dbc_jax  # noqa: F401  (registers the envs)
from dbc_jax.provenance import hardware
from dbc_jax.tasks import get_task, names
from dbc_jax.experts import sac


def env_steps_per_s(env_name: str, steps: int) -> float:
    task = get_task(env_name)
    agent = sac.SAC.create(sac.get_config(env_name), task.act_dim)
    state = agent.init(jax.random.PRNGKey(0), task.obs_dim, task.act_dim)
    act = jax.jit(lambda params, obs, key: agent.sample(params, obs, key)[0])
    env = gym.make(task.env_id)
    obs, _ = env.reset(seed=0)
    key = jax.random.PRNGKey(1)
    act(state.actor, obs.astype(np.float32), key).block_until_ready()
    t0 = time.perf_counter()
    for i in range(steps):
        obs, _, terminated, truncated, _ = env.step(np.asarray(act(state.actor, obs.astype(np.float32),
                                                                   jax.random.fold_in(key, i))))
        if terminated or truncated:
            obs, _ = env.reset()
    return steps / (time.perf_counter() - t0)


def updates_per_s(batch_size: int, chunk: int) -> tuple[float, float]:
    config = sac.get_config("halfcheetah")
    config.batch_size = batch_size
    agent = sac.SAC.create(config, 6)
    state = agent.init(jax.random.PRNGKey(0), 17, 6)
    rng = np.random.default_rng(0)
    batches = {"obs": rng.standard_normal((chunk, batch_size, 17)),
               "action": rng.uniform(-1, 1, (chunk, batch_size, 6)),
               "reward": rng.standard_normal((chunk, batch_size)),
               "next_obs": rng.standard_normal((chunk, batch_size, 17)),
               "terminated": np.zeros((chunk, batch_size))}
    batches = {k: v.astype(np.float32) for k, v in batches.items()}
    update = jax.jit(agent.update_chunk, donate_argnums=0)
    t0 = time.perf_counter()
    state, _ = update(state, batches)
    jax.block_until_ready(state)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(3):
        state, _ = update(state, batches)
    jax.block_until_ready(state)
    per_chunk = (time.perf_counter() - t0) / 3
    return chunk / per_chunk, max(0.0, first - per_chunk)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--chunk", type=int, default=100, help="updates per jitted chunk")
    parser.add_argument("--env_steps", type=int, default=3000)
    args = parser.parse_args()
    print(f"hardware: {hardware()}")
    print(f"date: {time.strftime('%Y-%m-%d')}, jax {jax.__version__}, SAC 2x256 actor and twin critics\n")
    print("| what | per second | compile (s) |")
    print("|---|---|---|")
    for env_name in names(expert="sac"):
        rate = env_steps_per_s(env_name, args.env_steps)
        print(f"| {env_name} env steps (actor picks each action) | {rate:,.0f} | |", flush=True)
    for batch_size in args.batch_sizes:
        rate, compile_s = updates_per_s(batch_size, args.chunk)
        print(f"| SAC updates, batch {batch_size} | {rate:,.0f} | {compile_s:.1f} |", flush=True)


if __name__ == "__main__":
    main()
