"""DBC (Chen et al., ICML 2024) as pure functions; BC is the same algorithm with ``coeff_dm = 0``.

Phase 1 fits a DDPM to normalized expert pairs (s, a) with the eps-loss. Phase 2 trains a deterministic policy
with ``coeff_bc * MSE(pi(s), a) + coeff_dm * relu(L_dm(s, pi(s)) - L_dm(s, a))``, where both diffusion losses use
the same noise and the same antithetic timesteps and are batch means (the hinge acts on their difference), and
the diffusion model is frozen. Every loss returns ``(loss, info)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from ml_collections import ConfigDict

from dbc_jax import diffusion
from dbc_jax.networks import Denoiser, Policy


class Agent(NamedTuple):
    """The static parts of DBC: modules and schedule (parameters live in the TrainState)."""

    policy: Policy
    denoiser: Denoiser
    schedule: diffusion.Schedule


def make_agent(config: ConfigDict, obs_dim: int, act_dim: int, action_bounds=None) -> Agent:
    del obs_dim, action_bounds
    return Agent(
        policy=Policy(hidden_sizes=tuple(config.policy.hidden_sizes), act_dim=act_dim),
        denoiser=Denoiser(hidden=config.dm.hidden, num_steps=config.dm.num_steps),
        schedule=diffusion.sigmoid_schedule(config.dm.num_steps),
    )


def init_policy(agent: Agent, key: jax.Array, obs_dim: int):
    return agent.policy.init(key, jnp.zeros((1, obs_dim)))


def init_denoiser(agent: Agent, key: jax.Array, dim: int):
    return agent.denoiser.init(key, jnp.zeros((1, dim)), jnp.zeros((1,), jnp.int32))


def act(agent: Agent, policy_params, obs, key=None):
    """Deterministic action in normalized action space for normalized ``obs`` (``key`` unused)."""
    return agent.policy.apply(policy_params, obs)


def _diffusion_losses(agent: Agent, dm_params, x0s, key):
    """eps-losses of each x0 in ``x0s`` under one shared draw of antithetic t and noise."""
    t_key, noise_key = jax.random.split(key)
    t = diffusion.antithetic_timesteps(t_key, x0s[0].shape[0], agent.schedule.num_steps)
    noise = jax.random.normal(noise_key, x0s[0].shape)
    denoise = lambda x, t: agent.denoiser.apply(dm_params, x, t)  # noqa: E731
    return [diffusion.eps_loss(denoise, agent.schedule, x0, t, noise) for x0 in x0s]


def denoiser_loss(agent: Agent, dm_params, obs, actions, key):
    """Phase 1: the DDPM eps-loss on normalized (s, a) pairs."""
    (loss,) = _diffusion_losses(agent, dm_params, [jnp.concatenate([obs, actions], -1)], key)
    return loss, {"dm/loss": loss}


def policy_loss(agent: Agent, policy_params, dm_params, obs, actions, key, *, coeff_bc, coeff_dm,
                agent_expert_normalization: bool = True):
    """Phase 2: BC plus the diffusion term. With ``coeff_dm == 0`` (a Python 0: BC) the DM is not evaluated."""
    pred = act(agent, policy_params, obs)
    bc = jnp.mean((pred - actions) ** 2)
    info = {"bc/mse": bc}
    loss = coeff_bc * bc
    if not (isinstance(coeff_dm, (int, float)) and coeff_dm == 0):
        dm_params = jax.lax.stop_gradient(dm_params)
        agent_loss, expert_loss = _diffusion_losses(
            agent, dm_params, [jnp.concatenate([obs, pred], -1), jnp.concatenate([obs, actions], -1)], key)
        expert_loss = jax.lax.stop_gradient(expert_loss)
        # Without normalization the official code uses max(L_agent, 0) (its own comment doubts it).
        dm_term = jax.nn.relu(agent_loss - expert_loss if agent_expert_normalization else agent_loss)
        loss = loss + coeff_dm * dm_term
        info.update({"dm/agent": agent_loss, "dm/expert": expert_loss, "dm/hinge": dm_term})
    info["loss/total"] = loss
    return loss, info


def make_policy_loss(agent: Agent, config: ConfigDict, coeff_dm):
    """``(params, dm_params, obs, actions, key) -> (loss, info)`` with the config's coefficients; ``coeff_dm`` is
    the seed's lambda (a Python 0 for BC, which skips the diffusion model)."""
    pol = config.policy

    def loss(params, dm_params, obs, actions, key):
        return policy_loss(agent, params, dm_params, obs, actions, key, coeff_bc=pol.coeff_bc, coeff_dm=coeff_dm,
                           agent_expert_normalization=pol.agent_expert_normalization)

    return loss
