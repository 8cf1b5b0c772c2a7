"""Demos from the shipped SAC experts (``dbc_jax/experts/weights``): HalfCheetah, Walker2d, AntReach and HandRotate."""

from __future__ import annotations

import functools
import hashlib
import os

import gymnasium as gym
import jax
import numpy as np

from dbc_jax.data import Dataset, EpisodeRecorder
from dbc_jax.tasks import get_task


def _card_score(card: dict) -> str:
    """The expert card's headline: success rate for goal tasks, else the deterministic return."""
    if "success_rate" in card:
        return f"{card['success_rate']:.0%} success"
    return f"return {card['deterministic_return_mean']:.0f}"


def _load_agent(env_name: str, weights: str = ""):
    """(SAC agent, actor params, card) of the shipped (or given) expert weights."""
    from dbc_jax.experts import sac  # here, not at the top: `python -m dbc_jax.experts.sac` imports this package

    path = weights or sac.weights_path(env_name)
    params, card = sac.load_actor(path)
    if card["env"] != env_name:
        raise ValueError(f"{path}: expert weights are for '{card['env']}', not '{env_name}'")
    config = sac.get_config(env_name)
    config.hidden = tuple(card["hidden"])
    return sac.SAC.create(config, get_task(env_name).act_dim), params, card


def load_expert(env_name: str, weights: str = "", stochastic: bool = False):
    """(``(obs, key, i) -> action`` of the expert, jitted; the weights' card). Deterministic: tanh of the actor's
    mean (``key`` unused); stochastic: a sample of its squashed Gaussian with ``fold_in(key, i)``."""
    agent, params, card = _load_agent(env_name, weights)
    if stochastic:
        policy = jax.jit(lambda p, obs, key, i: agent.sample(p, obs, jax.random.fold_in(key, i))[0])
    else:
        policy = jax.jit(lambda p, obs, key, i: agent.deterministic_action(p, obs))
    return (lambda obs, key, i: np.asarray(policy(params, np.asarray(obs, np.float32), key, i))), card


def expert_policy_fn(env_name: str, num_seeds: int = 1):
    """The deterministic expert in the evaluators' convention: ``(params with a leading axis of num_seeds copies,
    policy_fn(params [S, ...], obs [S, B, obs_dim], key, step) -> actions [S, B, act_dim]``)."""
    agent, params, _ = _load_agent(env_name)
    policy_fn = jax.jit(lambda p, obs, key, step, first=0, total=None: jax.vmap(agent.deterministic_action)(p, obs),
                        static_argnames="total")
    return jax.tree.map(lambda x: jax.numpy.broadcast_to(x, (num_seeds,) + x.shape), params), policy_fn


def weights_sha256(env_name: str, weights: str = "") -> str:
    """Fingerprint of the expert's weights file; demo files record it, so demos of an older expert are remade."""
    from dbc_jax.experts import sac

    path = weights or sac.weights_path(env_name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no expert weights (train them with `make expert ENV={env_name}`)")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def generate_demos(env_name: str, num_episodes: int = 5, seed: int = 0, progress: bool = True,
                   weights: str = "", min_return: float | None = None, stochastic: bool = False,
                   dart_noise: float = 0.0, num_transitions: int = 0, expert_sha256: str = "",
                   action_noise: float = 0.0, keep_failures: bool = False, **env_kwargs) -> Dataset:
    """Roll the expert out for ``num_episodes`` episodes (to the task's horizon unless the env ends one).

    Episodes whose return is below ``min_return`` (None: no bar), or, on a task whose metric is success, that do
    not end in success (the authors kept successful episodes only), are redrawn from a new start state and counted
    in the metadata (``redrawn_episodes``): our HalfCheetah expert stumbles from about 1 start in 7, and the
    paper's demos hold no such episode. ``stochastic`` records actions sampled from the expert's Gaussian instead
    of its mean: the noise visits states off the expert's path and labels them, as in the paper's data.
    ``dart_noise`` = sigma executes the expert's action plus N(0, sigma^2) noise but records the expert's own
    action (DART, Laskey et al. 2017): the states spread, the labels stay clean. ``action_noise`` = sigma executes
    and records clip(expert's action + N(0, sigma^2), -1, 1): non-expert (agent) data, labelled with what it did;
    with ``keep_failures`` no episode is redrawn (for its return or for failing). ``num_transitions`` > 0 stops at
    exactly that many transitions instead (the authors' files hold 10,000 on the success tasks, whose episodes end
    early on HandRotate): whole kept episodes, the last one cut; ``num_episodes`` then only bounds the attempts (10
    per episode). ``expert_sha256``, if given, must match the weights (a guard against demos of a stale expert). ``env_kwargs`` (the config's ``env`` section, e.g.
    AntReach's ``reset_noise``) go to the env and into the metadata.
    """
    expert, card = load_expert(env_name, weights, stochastic)
    sha = weights_sha256(env_name, weights)
    if expert_sha256 and expert_sha256 != sha:
        raise ValueError(f"expert_sha256 {expert_sha256[:12]}... does not match the weights ({sha[:12]}...)")
    action_key = jax.random.fold_in(jax.random.PRNGKey(seed), 1)
    noise_key = jax.random.fold_in(jax.random.PRNGKey(seed), 2)
    agent_key = jax.random.fold_in(jax.random.PRNGKey(seed), 3)
    task = get_task(env_name)
    act_dim, successful_only = task.act_dim, task.metric == "success"
    env = gym.make(task.env_id, **env_kwargs)
    if num_transitions:  # as many episodes as the shortest could need, then the usual 10 attempts each
        num_episodes = min(num_episodes, num_transitions)
    max_attempts = 10 * num_episodes
    reset_seeds = np.asarray(jax.random.randint(jax.random.PRNGKey(seed), (max_attempts,), 0, 2**31 - 1))
    recorder, returns, redrawn = EpisodeRecorder(num_episodes, num_transitions), [], 0
    with recorder.progress(f"{env_name} demos", progress):
        for attempt in range(max_attempts):
            if recorder.full:
                break
            obs, _ = env.reset(seed=int(reset_seeds[attempt]))
            ep_obs, ep_act, ep_next, ep_rew, total, done, info = [], [], [], [], 0.0, False, {}
            while not done:
                i = attempt * 100_000 + len(ep_obs)
                action = expert(obs, action_key, i)
                if action_noise:  # what the agent executes, clipped as the env clips it, is what it records
                    action = np.clip(action + action_noise * np.asarray(
                        jax.random.normal(jax.random.fold_in(agent_key, i), (act_dim,)), np.float32), -1.0, 1.0)
                ep_obs.append(obs)
                ep_act.append(action)
                if dart_noise:
                    noise = np.asarray(jax.random.normal(jax.random.fold_in(noise_key, i), (act_dim,)))
                    action = action + dart_noise * noise  # unclipped, like the paper's demos (env clamps)
                obs, reward, terminated, truncated, info = env.step(action)
                ep_next.append(obs)
                ep_rew.append(reward)
                total += reward
                done = terminated or truncated
            failed = ((min_return is not None and total < min_return)
                      or (successful_only and not info.get("success", False)))
            if failed and not keep_failures:
                redrawn += 1
                continue
            recorder.add_episode(ep_obs, ep_act, ep_next, ep_rew)
            returns.append(total)
    env.close()
    if not recorder.full:
        bar_text = "ended in success" if successful_only else f"reached data.expert.min_return = {min_return}"
        raise RuntimeError(f"{env_name} expert: only {recorder.num_episodes} of {max_attempts} episodes {bar_text}")
    cut = recorder.cut_at_count()
    source = (f"dbc_jax SAC expert ({weights or 'shipped weights'}, trained to step {card['step']}; "
              f"{_card_score(card)} on its card's {card['eval_episodes']} evaluation episodes)")
    return recorder.dataset({"env": env_name, "source": source, "seed": seed, "weights": weights,
                             "expert_sha256": sha, "min_return": min_return, "stochastic": stochastic,
                             "dart_noise": dart_noise, "action_noise": action_noise, "keep_failures": keep_failures,
                             "num_transitions": num_transitions,
                             "last_episode_cut_by": cut, "redrawn_episodes": redrawn, **env_kwargs,
                             "episode_returns": [float(r) for r in returns]})


generate_halfcheetah = functools.partial(generate_demos, "halfcheetah")
generate_walker = functools.partial(generate_demos, "walker")
generate_antreach = functools.partial(generate_demos, "antreach")
generate_handrotate = functools.partial(generate_demos, "handrotate")
