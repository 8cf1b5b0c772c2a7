"""Policy evaluation: exactly N episodes per seed, every vmapped seed in one batched policy call per step.

The C-MuJoCo backend steps a batch of gymnasium envs (``num_seeds * N`` of them, one episode each) and asks
the jitted, seed-vmapped policy for all their actions at once; an env stops being stepped when its episode
ends, so every episode counts once whatever its length (the official harness stops at the first 100 finished
episodes, which favours short, i.e. successful, ones). Observations are normalized on the way in -- the first
one too, which the official code forgets -- and actions denormalized on the way out; the env clips them.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from dbc_jax.normalization import Normalizer


@dataclasses.dataclass
class EvalResult:
    success: np.ndarray  # [num_seeds] success rate
    episode_return: np.ndarray  # [num_seeds] mean undiscounted return
    episode_length: np.ndarray  # [num_seeds] mean length

    def metric(self, name: str) -> np.ndarray:
        return {"success": self.success, "return": self.episode_return}[name]

    def to_dict(self) -> dict:
        return {"success": self.success.tolist(), "return": self.episode_return.tolist(),
                "length": self.episode_length.tolist()}


def make_policy_fn(act: Callable, normalizer: Normalizer) -> Callable:
    """``(params [S, ...], obs [S, B, obs_dim], key, step) -> actions [S, B, act_dim]``, jitted, in env units.

    ``act(params, obs, key)`` is one seed's normalized policy; stochastic ones (DP's sampler, IBC's optimizer) draw
    from ``fold_in(key, step)`` split over the seeds, deterministic ones ignore it.
    """

    def policy(params, obs, key):
        return normalizer.denormalize_actions(act(params, normalizer.normalize_obs(obs), key))

    @jax.jit
    def policy_fn(params, obs, key, step):
        keys = jax.random.split(jax.random.fold_in(key, step), obs.shape[0])
        return jax.vmap(policy)(params, obs, keys)

    return policy_fn


class Evaluator:
    """Evaluates ``num_seeds`` policies on ``num_episodes`` episodes each (C MuJoCo through gymnasium).

    Build it once and call it for every periodic evaluation: the envs and the compiled policy are reused.
    Episode ``i`` of seed ``s`` is reset with an integer seed drawn from the ``key`` passed in, and a stochastic
    policy's draws come from ``fold_in(key, 1)``, so the same key gives the same episodes.
    """

    def __init__(self, env_id: str, env_kwargs: dict, num_seeds: int, num_episodes: int,
                 policy_fn: Callable):
        self.num_seeds, self.num_episodes = num_seeds, num_episodes
        self.envs = [gym.make(env_id, **env_kwargs) for _ in range(num_seeds * num_episodes)]
        self.policy_fn = policy_fn

    def __call__(self, params, key: jax.Array) -> EvalResult:
        n = len(self.envs)
        seeds = np.asarray(jax.random.randint(key, (n,), 0, 2**31 - 1))
        obs = np.stack([env.reset(seed=int(s))[0] for env, s in zip(self.envs, seeds)]).astype(np.float32)
        active = np.ones(n, dtype=bool)
        success = np.zeros(n, dtype=bool)
        returns = np.zeros(n)
        lengths = np.zeros(n, dtype=np.int64)
        action_key = jax.random.fold_in(key, 1)
        step = 0
        while active.any():
            actions = np.asarray(self.policy_fn(params, jnp.asarray(obs.reshape(self.num_seeds, self.num_episodes, -1)),
                                                action_key, step))
            step += 1
            actions = actions.reshape(n, -1)
            for i in np.flatnonzero(active):
                o, r, terminated, truncated, info = self.envs[i].step(actions[i])
                obs[i] = o
                returns[i] += r
                lengths[i] += 1
                success[i] |= bool(info.get("success", False))
                active[i] = not (terminated or truncated)
        per_seed = lambda x: x.reshape(self.num_seeds, self.num_episodes).mean(1)  # noqa: E731
        return EvalResult(per_seed(success.astype(np.float64)), per_seed(returns), per_seed(lengths.astype(float)))

    def close(self) -> None:
        for env in self.envs:
            env.close()
