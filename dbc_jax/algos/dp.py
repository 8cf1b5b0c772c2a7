"""Diffusion Policy (Chi et al., RSS 2023), state-based as the DBC paper compares against it, as pure functions.

A conditional DDPM over the (normalized) action given the normalized state: an MLP noise predictor
``eps_theta(s, a_t, t)`` with a sinusoidal timestep embedding, trained with the eps-loss on the cosine schedule.
Acting samples an action by DDPM ancestral steps, or by deterministic DDIM on fewer steps
(``config.dp.ddim_steps > 0``); either is a jitted ``lax.scan``, so it runs inside the evaluator and under
``vmap`` over seeds, and its noise comes from the key the caller passes. Predicted actions are clipped to the
range of the dataset's normalized actions, the equivalent of Diffusion Policy's ``clip_sample`` on [-1, 1].
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from ml_collections import ConfigDict

from dbc_jax import diffusion


def mish(x):
    """x * tanh(softplus(x)) (Misra 2019), Diffusion Policy's activation."""
    return x * jnp.tanh(jax.nn.softplus(x))


def timestep_embedding(t, dim: int):
    """Sinusoidal embedding of integer timesteps ``t`` [B] -> [B, dim] (Vaswani et al.; DP's SinusoidalPosEmb)."""
    half = dim // 2
    freqs = jnp.exp(-jnp.log(10_000.0) * jnp.arange(half) / (half - 1))
    args = t[:, None].astype(jnp.float32) * freqs[None]
    return jnp.concatenate([jnp.sin(args), jnp.cos(args)], -1)


class NoisePredictor(nn.Module):
    """eps_theta(s, a_t, t): an MLP (Mish; ``config.policy.hidden_sizes``) on [s, a_t, emb(t)], the sinusoidal
    embedding passed through a small MLP first (as Diffusion Policy's diffusion-step encoder)."""

    hidden_sizes: Sequence[int]
    act_dim: int
    embed_dim: int = 64

    @nn.compact
    def __call__(self, obs, noisy_action, t):
        emb = timestep_embedding(t, self.embed_dim)
        emb = nn.Dense(self.embed_dim * 2)(emb)
        emb = nn.Dense(self.embed_dim)(mish(emb))
        x = jnp.concatenate([obs, noisy_action, emb], -1)
        for h in self.hidden_sizes:
            x = mish(nn.Dense(h)(x))
        return nn.Dense(self.act_dim)(x)


class Agent(NamedTuple):
    net: NoisePredictor
    schedule: diffusion.Schedule
    action_low: jnp.ndarray  # [act_dim] normalized action range of the dataset: the sampler clips x_0 to it
    action_high: jnp.ndarray
    ddim_steps: int  # 0: DDPM ancestral sampling over all steps


def make_agent(config: ConfigDict, obs_dim: int, act_dim: int, action_bounds) -> Agent:
    del obs_dim
    return Agent(net=NoisePredictor(tuple(config.policy.hidden_sizes), act_dim),
                 schedule=diffusion.cosine_schedule(config.dp.num_steps),
                 action_low=jnp.asarray(action_bounds[0]), action_high=jnp.asarray(action_bounds[1]),
                 ddim_steps=config.dp.ddim_steps)


def init_policy(agent: Agent, key: jax.Array, obs_dim: int):
    act_dim = agent.action_low.shape[0]
    return agent.net.init(key, jnp.zeros((1, obs_dim)), jnp.zeros((1, act_dim)), jnp.zeros((1,), jnp.int32))


def policy_loss(agent: Agent, params, obs, actions, key, hparams, model_params):
    """The eps-loss of the conditional DDPM: t ~ U{0..T-1}, eps ~ N(0, I), MSE(eps_theta(s, a_t, t), eps)."""
    del hparams, model_params  # the trainer's interface; DP has no BC weight, λ or joint model
    t_key, noise_key = jax.random.split(key)
    t = jax.random.randint(t_key, (actions.shape[0],), 0, agent.schedule.num_steps)
    noise = jax.random.normal(noise_key, actions.shape)
    noisy = diffusion.q_sample(agent.schedule, actions, t, noise)
    loss = jnp.mean((agent.net.apply(params, obs, noisy, t) - noise) ** 2)
    return loss, {"dp/loss": loss, "loss/total": loss}


def act(agent: Agent, params, obs, key):
    """Sample actions (normalized) for normalized ``obs`` [B, obs_dim]."""
    def denoise(x, t):
        return agent.net.apply(params, obs, x, jnp.full((obs.shape[0],), t, jnp.int32))

    shape = (obs.shape[0], agent.action_low.shape[0])
    if agent.ddim_steps:
        sample = functools.partial(diffusion.ddim_sample, num_steps=agent.ddim_steps)
    else:
        sample = diffusion.ddpm_sample
    return sample(denoise, agent.schedule, shape, key, agent.action_low, agent.action_high)
