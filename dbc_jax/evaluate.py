"""Policy evaluation: exactly N episodes per member, every vmapped member (a seed, or a grid point's seed) in one
batched policy call per step.

Two backends behind one interface, ``evaluator(params, key) -> EvalResult``:

- ``MJXEvaluator``: the whole evaluation -- ``num_seeds * N`` MJX envs (``envs/mjx_twins.py``) x the horizon,
  policy inference, masking of finished episodes, return/success accounting -- is one jitted ``lax.scan`` of
  fixed length, compiled on the first call and reused by every later one.
- ``CMujocoEvaluator``: a batch of gymnasium envs (C MuJoCo) stepped from Python, the jitted policy asked for
  all their actions at once; an env stops being stepped when its episode ends.

Both count every episode once, whatever its length (the official harness stops at the first 100 finished
episodes, which favours short, i.e. successful, ones). Observations are normalized on the way in -- the first
one too, which the official code forgets -- and actions denormalized on the way out; the env clips them.
``make_evaluator`` picks the backend: MJX on an accelerator (for tasks with a twin), C MuJoCo on a CPU, where
``experiments/bench_eval.py`` measures C ahead on every task end to end (docs/speed.md, "Evaluation backends").
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

from dbc_jax.normalization import Normalizer

EVAL_BACKENDS = ("auto", "c", "mjx")  # see choose_backend


@dataclasses.dataclass
class EvalResult:
    success: np.ndarray  # [members] success rate
    episode_return: np.ndarray  # [members] mean undiscounted return
    episode_length: np.ndarray  # [members] mean length
    episodes: dict | None = None  # {"success", "return", "length"}: [members, episodes], each episode's own value
    paths: np.ndarray | None = None  # [members, record, steps + 1, obs_dim]: observations, NaN after the end

    @classmethod
    def from_episodes(cls, success, returns, lengths, paths=None) -> "EvalResult":
        """From per-episode values, each [members, episodes] (and the recorded episodes' observations)."""
        episodes = {"success": np.asarray(success, bool), "return": np.asarray(returns, np.float64),
                    "length": np.asarray(lengths, np.int64)}
        return cls(episodes["success"].mean(1), episodes["return"].mean(1), episodes["length"].mean(1), episodes,
                   paths)

    def metric(self, name: str) -> np.ndarray:
        return {"success": self.success, "return": self.episode_return}[name]

    def to_dict(self) -> dict:
        return {"success": self.success.tolist(), "return": self.episode_return.tolist(),
                "length": self.episode_length.tolist()}


def make_policy_fn(act: Callable, normalizer: Normalizer) -> Callable:
    """``(params [S, ...], obs [S, B, obs_dim], key, step, first=0, total=None) -> actions [S, B, act_dim]``,
    jitted, in env units.

    ``act(params, obs, key)`` is one seed's normalized policy; stochastic ones (DP's sampler, IBC's optimizer) draw
    from ``fold_in(key, step)`` split over the members, deterministic ones ignore it. The S members given may be
    members ``first .. first + S`` of ``total`` (an evaluator that steps them in blocks): each still gets its own
    key of the split over all ``total``, so the draws do not depend on the blocks.
    """

    def policy(params, obs, key):
        return normalizer.denormalize_actions(act(params, normalizer.normalize_obs(obs), key))

    @functools.partial(jax.jit, static_argnames="total")
    def policy_fn(params, obs, key, step, first=0, total=None):
        keys = jax.random.split(jax.random.fold_in(key, step), total or obs.shape[0])
        keys = jax.lax.dynamic_slice_in_dim(keys, first, obs.shape[0])
        return jax.vmap(policy)(params, obs, keys)

    return policy_fn


def _member_seeds(num_seeds: int, member_seeds) -> np.ndarray:
    return np.arange(num_seeds) if member_seeds is None else np.asarray(member_seeds, np.int64)


def _member_part(num_members: int, first_member: int, total_members: int | None) -> tuple[int, int]:
    """(first, total): the evaluator's members are members ``first .. first + num_members`` of ``total`` (a process's
    part of a multi-process run), whose stochastic policies draw the keys they would draw among all ``total``."""
    total = num_members if total_members is None else total_members
    if not 0 <= first_member <= total - num_members:
        raise ValueError(f"members {first_member}..{first_member + num_members - 1} are not among {total}")
    return first_member, total


class CMujocoEvaluator:
    """Evaluates one policy per member on ``num_episodes`` episodes each (C MuJoCo through gymnasium).

    Build it once and call it for every periodic evaluation: the envs and the compiled policy are reused.
    Episode ``i`` of seed ``s`` is reset with an integer seed drawn from the ``key`` passed in, and a stochastic
    policy's draws come from ``fold_in(key, 1)``, so the same key gives the same episodes. Members are the seeds
    by default; ``member_seeds`` [members] lets several policies (a grid's points) play the episodes of a seed.

    At most ``max_envs`` envs exist at once: a large grid plays its members in blocks of as many as fit (one
    FetchPick env holds 11 MB, so a 21-member grid's 2,100 at once would take 23 GB), with the same results.
    """

    def __init__(self, env_id: str, env_kwargs: dict, num_seeds: int, num_episodes: int,
                 policy_fn: Callable, max_steps: int | None = None, member_seeds=None, max_envs: int = 512,
                 first_member: int = 0, total_members: int | None = None,
                 record: int = 0, watch: Callable | None = None):
        self.num_seeds, self.num_episodes = num_seeds, num_episodes
        self.record = min(record, num_episodes)  # episodes per member whose observations are kept (plots)
        # watch(member, episode, env, step, episode_return, success, done), if given, sees each recorded episode
        # after its reset (step 0) and after every step (videos render the env there)
        self.watch = watch
        self.member_seeds = _member_seeds(num_seeds, member_seeds)
        self.num_members = len(self.member_seeds)
        self.first_member, self.total_members = _member_part(self.num_members, first_member, total_members)
        self.max_steps = max_steps  # cut episodes shorter than the env's time limit (benchmarks)
        self.block = max(1, min(self.num_members, max_envs // num_episodes))  # members stepped together
        self.envs = [gym.make(env_id, **env_kwargs) for _ in range(self.block * num_episodes)]
        self.policy_fn = policy_fn

    def __call__(self, params, key: jax.Array) -> EvalResult:
        per_seed = np.asarray(jax.random.randint(key, (self.num_seeds * self.num_episodes,), 0, 2**31 - 1))
        seeds = per_seed.reshape(self.num_seeds, self.num_episodes)[self.member_seeds]
        blocks = [self._play(params, key, seeds, first) for first in range(0, self.num_members, self.block)]
        success, returns, lengths, paths = zip(*blocks)
        paths = _pad_paths(paths) if self.record else None
        return EvalResult.from_episodes(*(np.concatenate(x) for x in (success, returns, lengths)), paths)

    def _play(self, params, key, seeds, first: int):
        """Members ``first ..`` of one block: each episode's success, return and length, [members, episodes]."""
        members = min(self.block, self.num_members - first)
        n = members * self.num_episodes
        if members < self.num_members:
            params = jax.tree.map(lambda x: x[first:first + members], params)
        envs = self.envs[:n]
        obs = np.stack([env.reset(seed=int(s))[0]
                        for env, s in zip(envs, seeds[first:first + members].reshape(-1))]).astype(np.float32)
        active = np.ones(n, dtype=bool)
        success = np.zeros(n, dtype=bool)
        returns = np.zeros(n)
        lengths = np.zeros(n, dtype=np.int64)
        action_key = jax.random.fold_in(key, 1)
        recorded = (np.arange(members)[:, None] * self.num_episodes + np.arange(self.record)).ravel()
        path = [obs[recorded].copy()]
        watched = set(recorded.tolist()) if self.watch else set()
        for i in sorted(watched):
            self.watch(first + i // self.num_episodes, i % self.num_episodes, envs[i], 0, 0.0, False, False)
        step = 0
        while active.any() and step != self.max_steps:
            actions = np.asarray(self.policy_fn(params, jnp.asarray(obs.reshape(members, self.num_episodes, -1)),
                                                action_key, step, first=self.first_member + first,
                                                total=self.total_members))
            step += 1
            actions = actions.reshape(n, -1)
            for i in np.flatnonzero(active):
                o, r, terminated, truncated, info = envs[i].step(actions[i])
                obs[i] = o
                returns[i] += r
                lengths[i] += 1
                success[i] |= bool(info.get("success", False))
                active[i] = not (terminated or truncated)
                if i in watched:
                    self.watch(first + i // self.num_episodes, i % self.num_episodes, envs[i], step, returns[i],
                               bool(success[i]), not active[i])
            if self.record:
                path.append(np.where(lengths[recorded, None] == step, obs[recorded], np.nan))
        paths = np.stack(path, 1).reshape(members, self.record, len(path), -1) if self.record else None
        return (*(x.reshape(members, self.num_episodes) for x in (success, returns, lengths)), paths)

    def close(self) -> None:
        for env in self.envs:
            env.close()


class MJXEvaluator:
    """Evaluates one policy per member on ``num_episodes`` episodes each, as one jitted scan over MJX envs.

    The scan runs the twin's full horizon; an episode's reward, length and success stop counting at its first
    termination or truncation (the env keeps stepping, masked, so the program has a fixed shape). Episode ``i``
    of seed ``s`` is reset from ``split(key)[s * num_episodes + i]`` and a stochastic policy draws from
    ``fold_in(key, 1)``; ``member_seeds`` as in :class:`CMujocoEvaluator`.
    """

    def __init__(self, env_name: str, env_kwargs: dict, num_seeds: int, num_episodes: int, policy_fn: Callable,
                 num_steps: int | None = None, member_seeds=None, record: int = 0, first_member: int = 0,
                 total_members: int | None = None):
        from dbc_jax.envs.mjx_twins import make_twin  # here: importing mjx costs a second

        self.num_seeds, self.num_episodes = num_seeds, num_episodes
        self.record = min(record, num_episodes)  # episodes per member whose observations are kept (plots)
        self.member_seeds = _member_seeds(num_seeds, member_seeds)
        self.num_members = len(self.member_seeds)
        self.first_member, self.total_members = _member_part(self.num_members, first_member, total_members)
        self.env = make_twin(env_name, env_kwargs)
        self.policy_fn = policy_fn
        self.num_steps = num_steps or self.env.horizon  # scan length; fewer than the horizon only in benchmarks
        self._evaluate = jax.jit(self._rollout)

    def _rollout(self, params, key):
        env, n = self.env, self.num_members * self.num_episodes
        reset_keys = jax.random.split(key, self.num_seeds * self.num_episodes).reshape(
            self.num_seeds, self.num_episodes, -1)[self.member_seeds]
        state, obs = jax.vmap(env.reset)(reset_keys.reshape(n, -1))
        action_key = jax.random.fold_in(key, 1)

        def recorded(x):  # [n, ...] -> the recorded episodes', [members, record, ...]
            return x.reshape(self.num_members, self.num_episodes, *x.shape[1:])[:, :self.record]

        def step(carry, t):
            state, obs, active, totals = carry
            actions = self.policy_fn(params, obs.reshape(self.num_members, self.num_episodes, -1), action_key, t,
                                     first=self.first_member, total=self.total_members)
            state, out = jax.vmap(env.step)(state, actions.reshape(n, -1))
            totals = {"return": totals["return"] + jnp.where(active, out.reward, 0.0),
                      "length": totals["length"] + active,
                      "success": totals["success"] | (active & out.success)}
            path = recorded(jnp.where(active[:, None], out.obs, jnp.nan))
            return (state, out.obs, active & ~(out.terminated | out.truncated), totals), path

        totals = {"return": jnp.zeros(n, obs.dtype), "length": jnp.zeros(n, jnp.int32), "success": jnp.zeros(n, bool)}
        (_, _, _, totals), path = jax.lax.scan(step, (state, obs, jnp.ones(n, bool), totals),
                                               jnp.arange(self.num_steps))
        totals = jax.tree.map(lambda x: x.reshape(self.num_members, self.num_episodes), totals)
        return totals, jnp.concatenate([recorded(obs)[None], path]).transpose(1, 2, 0, 3)

    def __call__(self, params, key: jax.Array) -> EvalResult:
        out, paths = jax.device_get(self._evaluate(params, key))
        return EvalResult.from_episodes(out["success"], out["return"], out["length"],
                                        np.asarray(paths, np.float64) if self.record else None)

    def close(self) -> None:
        pass


def choose_backend(backend: str, env_name: str) -> str:
    """``"auto"``: MJX when jax runs on an accelerator and the task has an MJX twin, else C MuJoCo (faster on a
    CPU at every batch size)."""
    from dbc_jax.tasks import TASKS, get_task

    if backend not in EVAL_BACKENDS:
        raise ValueError(f"config.eval.backend: expected one of {EVAL_BACKENDS}, got '{backend}'")
    has_twin = get_task(env_name).has_twin
    if backend == "mjx" and not has_twin:
        twins = ", ".join(name for name, task in TASKS.items() if task.has_twin)
        raise ValueError(f"config.eval.backend: '{env_name}' has no MJX twin (tasks with one: {twins}); "
                         "use 'c' or 'auto'")
    if backend == "auto":
        return "mjx" if jax.default_backend() != "cpu" and has_twin else "c"
    return backend


def make_evaluator(env_name: str, env_kwargs: dict, num_seeds: int, num_episodes: int, policy_fn: Callable,
                   backend: str = "auto", member_seeds=None, record: int = 0, first_member: int = 0,
                   total_members: int | None = None):
    """The evaluator of ``env_name`` on ``backend`` (see :func:`choose_backend`); ``record`` episodes per member
    keep their observations (``EvalResult.paths``); ``first_member``/``total_members``: its members' place among
    all of a run's (:func:`_member_part`)."""
    from dbc_jax.tasks import get_task

    if choose_backend(backend, env_name) == "mjx":
        return MJXEvaluator(env_name, env_kwargs, num_seeds, num_episodes, policy_fn, member_seeds=member_seeds,
                            record=record, first_member=first_member, total_members=total_members)
    return CMujocoEvaluator(get_task(env_name).env_id, env_kwargs, num_seeds, num_episodes, policy_fn,
                            member_seeds=member_seeds, record=record, first_member=first_member,
                            total_members=total_members)


def _pad_paths(blocks) -> np.ndarray:
    """Concatenate the blocks' [members, record, steps, obs_dim] paths, NaN-padding to the longest."""
    steps = max(b.shape[2] for b in blocks)
    return np.concatenate([np.pad(b, ((0, 0), (0, 0), (0, steps - b.shape[2]), (0, 0)), constant_values=np.nan)
                           for b in blocks])
