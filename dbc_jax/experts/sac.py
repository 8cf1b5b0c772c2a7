"""Soft actor-critic (Haarnoja et al., 2018) in JAX/Flax: the RL trainer behind the learned experts
(the registry's tasks with ``expert="sac"``).

Pure functions of a :class:`SACState`; ``update_chunk`` runs ``K`` gradient updates as one jitted ``lax.scan``
over batches sampled up front, so the host loop only steps the (C MuJoCo) env and fills the replay buffer.
Every random draw -- exploration, initial actions, batch indices, env reset seeds -- comes from keys derived
from ``config.seed``.

    python -m dbc_jax.experts.sac --env=halfcheetah      # or: make expert ENV=halfcheetah
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization, struct
from ml_collections import ConfigDict

from dbc_jax.errors import NonFiniteError, run_cli
from dbc_jax.tasks import get_task, names, register_all
from dbc_jax.trainer import nonfinite

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
WEIGHTS_DIR = os.path.join(os.path.dirname(__file__), "weights")


def get_config(env_name: str) -> ConfigDict:
    """SAC hyperparameters (the original paper's, with the usual learned temperature)."""
    c = ConfigDict()
    c.env_name = env_name  # task key in dbc_jax.tasks.TASKS (its expert_bar is the bar the expert must reach)
    c.seed = 0  # root of every random draw
    c.total_steps = 1_000_000  # env steps (one update per step after random_steps)
    c.random_steps = 5_000  # uniform-random actions before learning starts
    c.hidden = (256, 256)  # actor and each of the two critics
    c.batch_size = 128  # 256 is common; 128 halves the update cost, which bounds learning speed on a CPU
    c.actor_lr = 3e-4
    c.critic_lr = 3e-4
    c.alpha_lr = 3e-4
    c.gamma = 0.99
    c.tau = 0.005  # Polyak rate of the target critics
    c.updates_per_chunk = 100  # env steps between jitted chunks of as many updates
    c.eval_every = 20_000  # env steps between deterministic evaluations
    c.eval_episodes = 50 if get_task(env_name).metric == "success" else 5  # a success rate needs more episodes
    c.train_env = dict(get_task(env_name).expert_train_env)  # env kwargs of training only (evaluation: the task's env)
    c.stop_at = 0.0  # stop once an evaluation reaches this return, or success rate on a success task (0: never)
    c.out = ""  # "" -> dbc_jax/experts/weights/<env>_sac.msgpack (+ .json): the best evaluated actor
    c.workdir = ""  # "" -> runs/sac_<env>_seed<seed>: resumable checkpoints of the whole run
    c.checkpoint_every = 50_000  # env steps between checkpoints (the replay buffer included)
    c.pause_at = 0  # stop after checkpointing at this step; the same command then resumes (0: never)
    return c


class Actor(nn.Module):
    """Tanh-squashed Gaussian policy; ``deterministic`` gives tanh(mean)."""

    hidden: Sequence[int]
    act_dim: int

    @nn.compact
    def __call__(self, obs):
        x = obs
        for h in self.hidden:
            x = nn.relu(nn.Dense(h)(x))
        mean = nn.Dense(self.act_dim, name="mean")(x)
        log_std = jnp.clip(nn.Dense(self.act_dim, name="log_std")(x), LOG_STD_MIN, LOG_STD_MAX)
        return mean, log_std


class DoubleCritic(nn.Module):
    """Two independent Q-networks, evaluated together (``nn.vmap`` over their parameters)."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, obs, action):
        vq = nn.vmap(_QNet, variable_axes={"params": 0}, split_rngs={"params": True}, in_axes=None, out_axes=0,
                     axis_size=2)
        return vq(self.hidden)(jnp.concatenate([obs, action], -1))  # [2, B]


class _QNet(nn.Module):
    hidden: Sequence[int]

    @nn.compact
    def __call__(self, x):
        for h in self.hidden:
            x = nn.relu(nn.Dense(h)(x))
        return nn.Dense(1)(x)[..., 0]


@struct.dataclass
class SACState:
    actor: Any
    critic: Any
    target_critic: Any
    log_alpha: jnp.ndarray
    actor_opt: Any
    critic_opt: Any
    alpha_opt: Any
    key: jax.Array


class SAC(struct.PyTreeNode):
    """The networks, optimizers and constants; its methods are pure and jit-friendly."""

    actor_net: Actor = struct.field(pytree_node=False)
    critic_net: DoubleCritic = struct.field(pytree_node=False)
    actor_tx: Any = struct.field(pytree_node=False)
    critic_tx: Any = struct.field(pytree_node=False)
    alpha_tx: Any = struct.field(pytree_node=False)
    gamma: float = struct.field(pytree_node=False)
    tau: float = struct.field(pytree_node=False)
    target_entropy: float = struct.field(pytree_node=False)

    @classmethod
    def create(cls, config: ConfigDict, act_dim: int) -> "SAC":
        return cls(Actor(tuple(config.hidden), act_dim), DoubleCritic(tuple(config.hidden)),
                   optax.adam(config.actor_lr), optax.adam(config.critic_lr), optax.adam(config.alpha_lr),
                   config.gamma, config.tau, -float(act_dim))

    def init(self, key, obs_dim: int, act_dim: int) -> SACState:
        k_actor, k_critic, key = jax.random.split(key, 3)
        obs, act = jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim))
        actor = self.actor_net.init(k_actor, obs)["params"]
        critic = self.critic_net.init(k_critic, obs, act)["params"]
        log_alpha = jnp.zeros(())
        target = jax.tree.map(jnp.copy, critic)  # its own buffers: the train step donates the state
        return SACState(actor, critic, target, log_alpha, self.actor_tx.init(actor), self.critic_tx.init(critic),
                        self.alpha_tx.init(log_alpha), key)

    def sample(self, actor_params, obs, key):
        """(action in (-1, 1), log-probability) of the squashed Gaussian."""
        mean, log_std = self.actor_net.apply({"params": actor_params}, obs)
        std = jnp.exp(log_std)
        u = mean + std * jax.random.normal(key, mean.shape)
        action = jnp.tanh(u)
        log_prob = jnp.sum(-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi), -1)
        log_prob -= jnp.sum(2 * (jnp.log(2.0) - u - jax.nn.softplus(-2 * u)), -1)  # log|d tanh(u)/du|, stable
        return action, log_prob

    def deterministic_action(self, actor_params, obs):
        return jnp.tanh(self.actor_net.apply({"params": actor_params}, obs)[0])

    def critic_loss(self, critic_params, state: SACState, batch, key):
        next_action, next_log_prob = self.sample(state.actor, batch["next_obs"], key)
        next_q = self.critic_net.apply({"params": state.target_critic}, batch["next_obs"], next_action).min(0)
        alpha = jnp.exp(state.log_alpha)
        target = batch["reward"] + self.gamma * (1.0 - batch["terminated"]) * (next_q - alpha * next_log_prob)
        q = self.critic_net.apply({"params": critic_params}, batch["obs"], batch["action"])
        loss = jnp.mean((q - jax.lax.stop_gradient(target)[None]) ** 2)
        return loss, {"critic/loss": loss, "critic/q": q.mean()}

    def actor_loss(self, actor_params, state: SACState, batch, key):
        action, log_prob = self.sample(actor_params, batch["obs"], key)
        q = self.critic_net.apply({"params": state.critic}, batch["obs"], action).min(0)
        alpha = jnp.exp(state.log_alpha)
        loss = jnp.mean(alpha * log_prob - q)
        return loss, {"actor/loss": loss, "actor/entropy": -log_prob.mean()}

    def alpha_loss(self, log_alpha, entropy):
        return jnp.exp(log_alpha) * (entropy - self.target_entropy)

    def update(self, state: SACState, batch):
        key, k_critic, k_actor = jax.random.split(state.key, 3)
        grads, info = jax.grad(self.critic_loss, has_aux=True)(state.critic, state, batch, k_critic)
        updates, critic_opt = self.critic_tx.update(grads, state.critic_opt, state.critic)
        critic = optax.apply_updates(state.critic, updates)
        state = state.replace(critic=critic, critic_opt=critic_opt, key=key)

        grads, actor_info = jax.grad(self.actor_loss, has_aux=True)(state.actor, state, batch, k_actor)
        updates, actor_opt = self.actor_tx.update(grads, state.actor_opt, state.actor)
        actor = optax.apply_updates(state.actor, updates)

        alpha_grad = jax.grad(self.alpha_loss)(state.log_alpha, jax.lax.stop_gradient(actor_info["actor/entropy"]))
        updates, alpha_opt = self.alpha_tx.update(alpha_grad, state.alpha_opt, state.log_alpha)
        log_alpha = optax.apply_updates(state.log_alpha, updates)

        target = optax.incremental_update(critic, state.target_critic, self.tau)
        state = state.replace(actor=actor, actor_opt=actor_opt, log_alpha=log_alpha, alpha_opt=alpha_opt,
                              target_critic=target)
        return state, {**info, **actor_info, "alpha": jnp.exp(log_alpha)}

    def update_chunk(self, state: SACState, batches):
        """``K`` updates, one per leading entry of ``batches``; returns the mean of each logged value."""
        state, info = jax.lax.scan(self.update, state, batches)
        return state, {**jax.tree.map(jnp.mean, info), "nonfinite_params": nonfinite((state.actor, state.critic))}


class ReplayBuffer:
    """Fixed-capacity transition store in host memory; batches are gathered from ``jax.random`` indices."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int):
        self.data = {"obs": np.zeros((capacity, obs_dim), np.float32),
                     "action": np.zeros((capacity, act_dim), np.float32),
                     "reward": np.zeros(capacity, np.float32),
                     "next_obs": np.zeros((capacity, obs_dim), np.float32),
                     "terminated": np.zeros(capacity, np.float32)}
        self.size = 0

    def add(self, obs, action, reward, next_obs, terminated) -> None:
        i = self.size
        for name, value in zip(self.data, (obs, action, reward, next_obs, terminated)):
            self.data[name][i] = value
        self.size += 1

    def sample(self, key, num_batches: int, batch_size: int) -> dict:
        idx = np.asarray(jax.random.randint(key, (num_batches, batch_size), 0, self.size))
        return {name: array[idx] for name, array in self.data.items()}


def _check_finite(info: dict, step: int, updates: int, last_good: int | None) -> None:
    """Stop with :class:`NonFiniteError` if a chunk of updates made a loss or a parameter NaN or infinite."""
    values = {k: float(v) for k, v in info.items()}
    bad = sorted(k for k, v in values.items() if not np.isfinite(v) or (k == "nonfinite_params" and v > 0))
    if bad:
        kept = f"checkpoint {last_good} stays the latest" if last_good is not None else "no checkpoint was written"
        raise NonFiniteError(f"SAC updates of env steps {step - updates + 1}-{step}: non-finite {', '.join(bad)} "
                             f"({kept}; the best actor saved so far is untouched)")


def evaluate(sac: SAC, actor_params, env_id: str, num_episodes: int, seed: int, policy=None) -> dict:
    """The deterministic policy on ``num_episodes`` episodes of the task's own env (not the RL training variant):
    ``{"return": undiscounted returns, "success": info["success"] at the episode's end (False if absent)}``."""
    import gymnasium as gym

    policy = policy or jax.jit(sac.deterministic_action)
    env = gym.make(env_id)
    returns, successes = [], []
    for i in range(num_episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done, info = 0.0, False, {}
        while not done:
            obs, reward, terminated, truncated, info = env.step(np.asarray(policy(actor_params,
                                                                                  obs.astype(np.float32))))
            total += reward
            done = terminated or truncated
        returns.append(total)
        successes.append(bool(info.get("success", False)))
    env.close()
    return {"return": np.asarray(returns), "success": np.asarray(successes)}


def _score(result: dict, metric: str) -> tuple:
    """What makes one evaluation better than another: the success rate (then the return) for a success task."""
    return (result.get("success_rate", 0.0), result["return"]) if metric == "success" else (result["return"],)


def weights_path(env_name: str) -> str:
    return os.path.join(WEIGHTS_DIR, f"{env_name}_sac.msgpack")


def save_actor(path: str, actor_params, meta: dict) -> None:
    """Actor weights (flax msgpack) and a JSON card beside them, both written atomically."""
    from dbc_jax.checkpoint import atomic_write_text

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(serialization.msgpack_serialize(jax.tree.map(np.asarray, actor_params)))
    os.replace(tmp, path)
    atomic_write_text(os.path.splitext(path)[0] + ".json", json.dumps(meta, indent=2) + "\n")


def load_actor(path: str):
    """(actor params, card) of a saved expert; the network shape is read from the card."""
    card_path = os.path.splitext(path)[0] + ".json"
    for p in (path, card_path):
        if not os.path.exists(p):
            raise FileNotFoundError(f"{p}: no expert weights (train them with `make expert`)")
    with open(path, "rb") as f:
        params = serialization.msgpack_restore(f.read())
    with open(card_path) as f:
        card = json.load(f)
    return jax.tree.map(jnp.asarray, params), card


def _time_limit(env):
    """The ``TimeLimit`` wrapper ``gym.make`` puts outermost; its step count is part of a resumable env state."""
    while not hasattr(env, "_elapsed_steps"):
        env = env.env
    return env


def _env_state(env) -> dict:
    """Everything needed to put a MuJoCo env back mid-episode: integration state (incl. warm start) and step count."""
    import mujoco

    model, data = env.unwrapped.model, env.unwrapped.data
    spec = mujoco.mjtState.mjSTATE_INTEGRATION
    state = np.empty(mujoco.mj_stateSize(model, spec))
    mujoco.mj_getState(model, data, state, spec)
    return {"mj_state": state.tolist(), "elapsed_steps": int(_time_limit(env)._elapsed_steps)}


def _set_env_state(env, saved: dict) -> None:
    import mujoco

    model, data = env.unwrapped.model, env.unwrapped.data
    mujoco.mj_setState(model, data, np.asarray(saved["mj_state"]), mujoco.mjtState.mjSTATE_INTEGRATION)
    _time_limit(env)._elapsed_steps = saved["elapsed_steps"]


RESUME_FREE_FIELDS = ("pause_at", "out", "workdir", "total_steps")  # may differ between a run and its resumption
RESET_SEED_POOL = 1_000_001  # env reset seeds drawn up front; independent of total_steps, so a run can be extended


def default_workdir(config: ConfigDict) -> str:
    return config.workdir or os.path.join("runs", f"sac_{config.env_name}_seed{config.seed}")


def _check_resumable(workdir: str, saved: dict, config: ConfigDict) -> None:
    current = json.loads(json.dumps(config.to_dict()))
    saved = {"train_env": {}, **saved}  # runs from before the field trained on the task's own env
    differ = sorted(k for k in set(saved) | set(current)
                    if k not in RESUME_FREE_FIELDS and saved.get(k) != current.get(k))
    if current["total_steps"] < saved["total_steps"]:
        differ.append("total_steps")  # extending a run is fine, shortening it is not
    if differ:
        detail = ", ".join(f"{k}: checkpoint {saved.get(k)!r} vs now {current.get(k)!r}" for k in differ)
        raise ValueError(f"{workdir}: its SAC checkpoint was made with another config ({detail}); "
                         f"pass --workdir=<new dir> or delete {workdir} to start afresh")


def train(config: ConfigDict, progress: bool = True, command: str = "") -> dict:
    """Train SAC on ``config.env_name``; keeps the best evaluated actor at ``config.out``. Returns its card (None if
    the run stopped before its first evaluation).

    Every ``checkpoint_every`` env steps the whole run (SAC state, replay buffer, env state mid-episode, host loop
    counters) goes to an orbax checkpoint in ``config.workdir``, and so does the last step; calling ``train`` again
    with the same config continues from the latest one, and gives the same numbers as an uninterrupted run.
    ``pause_at`` stops after the checkpoint at that step; a larger ``total_steps`` extends a finished run.
    """
    from dbc_jax.checkpoint import workdir_lock
    from dbc_jax.configs.checks import SAC_RULES, check_values

    check_values(config, SAC_RULES)  # before any file
    get_task(config.env_name)
    with workdir_lock(default_workdir(config)):
        return _train(config, progress, command)


def _train(config: ConfigDict, progress: bool, command: str) -> dict:
    import gymnasium as gym
    from tqdm.auto import tqdm

    from dbc_jax.checkpoint import Checkpoints

    register_all()
    task = get_task(config.env_name)
    out = config.out or weights_path(config.env_name)
    workdir = default_workdir(config)
    sac = SAC.create(config, task.act_dim)
    k_init, k_explore, k_batches, k_reset = jax.random.split(jax.random.PRNGKey(config.seed), 4)
    state = sac.init(k_init, task.obs_dim, task.act_dim)

    @jax.jit
    def explore(params, obs, step):
        """Uniform actions for the first ``random_steps``, then the policy's samples; one dispatch per env step."""
        key = jax.random.fold_in(k_explore, step)
        uniform = jax.random.uniform(key, (task.act_dim,), minval=-1.0, maxval=1.0)
        return jnp.where(step <= config.random_steps, uniform, sac.sample(params, obs, key)[0])

    update_chunk = jax.jit(sac.update_chunk, donate_argnums=0)
    policy = jax.jit(sac.deterministic_action)
    buffer = ReplayBuffer(config.total_steps, task.obs_dim, task.act_dim)
    reset_pool = np.asarray(jax.random.randint(k_reset, (RESET_SEED_POOL,), 0, 2**31 - 1)).tolist()

    def reset_seed(i: int) -> int:  # beyond the pool (a million episodes) a key per reset
        if i < RESET_SEED_POOL:
            return reset_pool[i]
        return int(jax.random.randint(jax.random.fold_in(k_reset, i), (), 0, 2**31 - 1))

    env = gym.make(task.env_id, **config.train_env.to_dict())  # e.g. AntReach: a progress reward, ends when flipped
    ckpts = Checkpoints(workdir, max_to_keep=2, writer=True)  # two: a damaged newest one falls back on the other

    first_step, resets, best, history, info, episode_return, wall0 = 1, 0, None, [], {}, 0.0, 0.0
    resumed_from = None
    if ckpts.latest_step() is None:
        obs, _ = env.reset(seed=reset_seed(resets))
        resets += 1
    else:
        resumed_from, tree, meta = ckpts.restore_intact(
            lambda meta: {"sac": state, "buffer": {k: v[:meta["buffer_size"]] for k, v in buffer.data.items()}},
            check_meta=lambda meta: _check_resumable(workdir, meta["config"], config))
        state = jax.tree.map(jnp.asarray, tree["sac"])
        for k, v in tree["buffer"].items():
            buffer.data[k][:meta["buffer_size"]] = v
        buffer.size = meta["buffer_size"]
        env.reset(seed=reset_seed(meta["resets"] - 1))  # then overwritten by the saved mid-episode state
        _set_env_state(env, meta["env"])
        obs = np.asarray(meta["obs"], np.float64)
        first_step, resets, best, history = resumed_from + 1, meta["resets"], meta["best"], meta["history"]
        info, episode_return, wall0 = meta["info"], meta["episode_return"], meta["wall_s"]

    def checkpoint(step):
        meta = {"config": config.to_dict(), "buffer_size": buffer.size, "resets": resets, "best": best,
                "history": history, "info": {k: float(v) for k, v in info.items()}, "obs": obs.tolist(),
                "episode_return": float(episode_return), "wall_s": time.perf_counter() - t0, "env": _env_state(env)}
        ckpts.save_tree(step, {"sac": state, "buffer": {k: v[:buffer.size] for k, v in buffer.data.items()}},
                        json.loads(json.dumps(meta)))

    t0 = time.perf_counter() - wall0
    bar = tqdm(total=config.total_steps, initial=first_step - 1, desc=f"SAC {config.env_name}", unit="step",
               disable=not progress)
    if resumed_from is not None:
        bar.write(f"resumed {workdir} at step {resumed_from}")
    for step in range(first_step, config.total_steps + 1):
        action = np.asarray(explore(state.actor, obs.astype(np.float32), step))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, float(terminated))
        episode_return += reward
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset(seed=reset_seed(resets))
            resets += 1
            best_text = f"{_score(best, task.metric)[0]:.3g}" if best else "-"
            bar.set_postfix(ep_return=f"{episode_return:.0f}", best=best_text)
            episode_return = 0.0
        if step > config.random_steps and step % config.updates_per_chunk == 0:
            batches = buffer.sample(jax.random.fold_in(k_batches, step), config.updates_per_chunk, config.batch_size)
            state, info = update_chunk(state, batches)
            _check_finite(info, step, config.updates_per_chunk, ckpts.latest_step())
        stop = False
        if step % config.eval_every == 0 or step == config.total_steps:
            result = evaluate(sac, state.actor, task.env_id, config.eval_episodes, seed=10_000, policy=policy)
            returns = result["return"]
            success = {"success_rate": float(result["success"].mean())} if task.metric == "success" else {}
            record = {"step": step, "return_mean": float(returns.mean()), "return_std": float(returns.std()),
                      **success, "wall_s": round(time.perf_counter() - t0, 1), **{k: float(v) for k, v in info.items()}}
            history.append(record)
            bar.write(json.dumps(record))
            current = {"return": float(returns.mean()), "return_std": float(returns.std()), **success, "step": step}
            if best is None or _score(current, task.metric) > _score(best, task.metric):
                best = current
                save_actor(out, state.actor, {
                    "env": config.env_name, "env_id": task.env_id, "algorithm": "SAC (dbc_jax.experts.sac)",
                    "hidden": list(config.hidden), "seed": config.seed, "step": step,
                    "deterministic_return_mean": best["return"], "deterministic_return_std": best["return_std"],
                    **success, "train_env": config.train_env.to_dict(), "eval_episodes": config.eval_episodes,
                    "eval_reset_seeds": f"10000..{10000 + config.eval_episodes - 1}",
                    "command": command or f"dbc_jax.experts.sac.train({config.env_name!r} config below)",
                    "config": {k: v for k, v in config.to_dict().items() if k not in ("pause_at", "out", "workdir")},
                    "history": history})
            stop = bool(config.stop_at and _score(current, task.metric)[0] >= config.stop_at)
        pause = step == config.pause_at
        if step % config.checkpoint_every == 0 or pause or step == config.total_steps:  # the last: to extend it
            checkpoint(step)
        bar.update(1)
        if stop or pause:
            break
    bar.close()
    env.close()
    ckpts.close()
    return load_actor(out)[1] if best is not None else None


def _json_object(text: str) -> dict:
    import argparse

    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r} ({e})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def main(argv=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Train a SAC expert for a task (writes its weights "
                                                 "to dbc_jax/experts/weights/<env>_sac.msgpack).")
    parser.add_argument("--env", required=True, choices=names(expert="sac"), help="task")
    defaults = get_config(names(expert="sac")[0])
    helps = {"seed": "root of every random draw", "total_steps": "env steps", "random_steps":
             "uniform-random actions before learning", "batch_size": "replay batch per update",
             "eval_every": "env steps between evaluations (the best one is kept)",
             "eval_episodes": "episodes per evaluation (50 for a success task)",
             "updates_per_chunk": "updates per jitted chunk (one per env step)",
             "checkpoint_every": "env steps between resumable checkpoints in --workdir",
             "pause_at": "stop after checkpointing at this step; rerun the same command to resume (0: never)"}
    # A larger --total_steps than a finished run's extends it (its last step is checkpointed).
    for name, text in helps.items():  # None: the task's own default (get_config)
        parser.add_argument(f"--{name}", type=int, default=None, help=f"{text} (default {defaults[name]})")
    parser.add_argument("--stop_at", type=float, default=0.0, help="stop once an evaluation reaches this return "
                                                                     "(a success rate for a success task)")
    parser.add_argument("--train_env", type=_json_object, default=None,
                        help="the training env's kwargs as a JSON object, e.g. '{\"reward\": \"progress\"}' "
                             "(default: the task registry's expert_train_env)")
    parser.add_argument("--out", default="", help="weights path (default: the shipped location)")
    parser.add_argument("--workdir", default="", help="checkpoint folder; a run there is resumed "
                                                      "(default: runs/sac_<env>_seed<seed>)")
    args = parser.parse_args(argv)
    config = get_config(args.env)
    for name, value in vars(args).items():
        if name != "env" and value is not None:
            config[name] = value
    flags = shlex.join(a for a in (argv if argv is not None else sys.argv[1:])
                       if not a.startswith(("--env", "--pause_at")))  # pausing does not change the result
    # Quoted twice (the shell, then make's recipe), so that a JSON --train_env survives a copy and paste.
    card = train(config, command=f"make expert ENV={args.env}" + (f" ARGS={shlex.quote(flags)}" if flags else ""))
    if card is None:
        print(f"paused before the first evaluation; rerun the same command to resume from {default_workdir(config)}")
    else:
        success = f", success rate {card['success_rate']:.2f}" if "success_rate" in card else ""
        print(f"best deterministic return {card['deterministic_return_mean']:.1f}{success} at step {card['step']} -> "
              f"{config.out or weights_path(config.env_name)}")


if __name__ == "__main__":
    run_cli(lambda argv: main(argv[1:]))
