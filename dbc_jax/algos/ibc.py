"""Implicit BC (Florence et al., CoRL 2021) as pure functions.

An energy model ``E(s, a)`` is trained with the InfoNCE loss: the expert action must have the lowest energy
among itself and ``num_negatives`` counter-examples drawn uniformly within the dataset's (normalized) action
bounds. Acting minimizes the energy with IBC's derivative-free optimizer: sample uniformly, then repeatedly
resample in proportion to ``softmax(-E)``, perturb with Gaussian noise that shrinks each iteration, and return
the lowest-energy sample. Langevin dynamics on ``grad_a E`` is the alternative (``config.ibc.inference``).
Every step is a jitted, key-driven function, so it runs inside the evaluator and under ``vmap`` over seeds.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from ml_collections import ConfigDict

from dbc_jax.energy import EnergyModel, info_nce


class Agent(NamedTuple):
    net: EnergyModel
    action_low: jnp.ndarray  # [act_dim] normalized action bounds (dataset range, widened by config.ibc.bounds_margin)
    action_high: jnp.ndarray
    num_negatives: int  # counter-examples per training pair
    temperature: float  # softmax temperature of InfoNCE and of the optimizer's resampling
    inference: str  # "dfo" or "langevin"
    num_samples: int  # candidate actions per state at inference
    dfo_iterations: int  # DFO: resample-and-perturb rounds
    noise_scale: float  # DFO: initial perturbation std, as a fraction of the half-range of the bounds
    noise_shrink: float  # DFO: the std is multiplied by this after each round
    langevin_steps: int  # Langevin: gradient steps
    langevin_step_size: float  # Langevin: initial step size


def make_agent(config: ConfigDict, obs_dim: int, act_dim: int, action_bounds) -> Agent:
    del obs_dim, act_dim
    c = config.ibc
    low, high = jnp.asarray(action_bounds[0]), jnp.asarray(action_bounds[1])
    margin = c.bounds_margin * (high - low)
    if c.inference not in ("dfo", "langevin"):
        raise ValueError(f"config.ibc.inference: expected 'dfo' or 'langevin', got '{c.inference}'")
    return Agent(EnergyModel(tuple(config.policy.hidden_sizes)), low - margin, high + margin, c.num_negatives,
                 c.temperature, c.inference, c.num_samples, c.dfo_iterations, c.noise_scale, c.noise_shrink,
                 c.langevin_steps, c.langevin_step_size)


def init_policy(agent: Agent, key: jax.Array, obs_dim: int):
    act_dim = agent.action_low.shape[0]
    return agent.net.init(key, jnp.zeros((1, obs_dim)), jnp.zeros((1, 1, act_dim)))


def _uniform(agent: Agent, key, shape):
    return jax.random.uniform(key, shape + agent.action_low.shape, minval=agent.action_low, maxval=agent.action_high)


def policy_loss(agent: Agent, params, obs, actions, key, hparams, model_params):
    """InfoNCE against ``num_negatives`` counter-examples drawn uniformly within the bounds."""
    del hparams, model_params  # the trainer's interface; IBC has no BC weight, λ or joint model
    negatives = _uniform(agent, key, (actions.shape[0], agent.num_negatives))
    energy_fn = lambda o, a: agent.net.apply(params, o, a)  # noqa: E731
    loss, accuracy = info_nce(energy_fn, obs, actions, negatives, agent.temperature)
    return loss, {"ibc/infonce": loss, "ibc/expert_lowest": accuracy, "loss/total": loss}


def _resample(key, probs):
    """N indices per row drawn with replacement from ``probs`` [B, N] by inverse CDF: O(N log N) per row, where
    ``jax.random.categorical`` with N draws makes N x N Gumbel draws (16384 candidates: 268M per state)."""
    cdf = jnp.cumsum(probs, -1)
    u = jax.random.uniform(key, probs.shape) * cdf[:, -1:]
    return jnp.minimum(jax.vmap(jnp.searchsorted)(cdf, u), probs.shape[-1] - 1)


def _dfo(agent: Agent, energy, samples, key):
    half_range = (agent.action_high - agent.action_low) / 2

    def round_(carry, k):
        samples, std = carry
        resample_key, noise_key = jax.random.split(k)
        probs = jax.nn.softmax(-energy(samples) / agent.temperature, -1)  # [B, N]
        samples = jnp.take_along_axis(samples, _resample(resample_key, probs)[..., None], 1)
        samples = samples + std * half_range * jax.random.normal(noise_key, samples.shape)
        return (jnp.clip(samples, agent.action_low, agent.action_high), std * agent.noise_shrink), None

    (samples, _), _ = jax.lax.scan(round_, (samples, agent.noise_scale), jax.random.split(key, agent.dfo_iterations))
    return samples


def _langevin(agent: Agent, energy, samples, key):
    """IBC's Langevin sampler: ``a -= lr * (0.5 * grad_a E + N(0, 1))``, the move clipped to 10% of the half-range,
    lr decaying polynomially (power 2) from ``langevin_step_size`` to 1e-5 (IBC's defaults)."""
    grad = jax.grad(lambda a: energy(a).sum())
    max_move = 0.1 * (agent.action_high - agent.action_low) / 2

    def step(samples, xs):
        k, frac = xs
        lr = 1e-5 + (agent.langevin_step_size - 1e-5) * (1.0 - frac) ** 2
        move = lr * (0.5 * grad(samples) + jax.random.normal(k, samples.shape))
        samples = samples - jnp.clip(move, -max_move, max_move)
        return jnp.clip(samples, agent.action_low, agent.action_high), None

    fracs = jnp.arange(agent.langevin_steps) / agent.langevin_steps
    samples, _ = jax.lax.scan(step, samples, (jax.random.split(key, agent.langevin_steps), fracs))
    return samples


def act(agent: Agent, params, obs, key):
    """argmin_a E(s, a) by the configured optimizer, for normalized ``obs`` [B, obs_dim] -> [B, act_dim]."""
    init_key, opt_key = jax.random.split(key)
    energy = lambda a: agent.net.apply(params, obs, a)  # noqa: E731
    samples = _uniform(agent, init_key, (obs.shape[0], agent.num_samples))
    optimize = _dfo if agent.inference == "dfo" else _langevin
    samples = optimize(agent, energy, samples, opt_key)
    best = jnp.argmin(energy(samples), -1)
    return jnp.take_along_axis(samples, best[:, None, None], 1)[:, 0]
