"""DBC (Chen et al., ICML 2024) as pure functions; BC is the same algorithm without a joint model.

Phase 1 fits a joint model of normalized expert pairs (s, a) (``config.model``: the paper's diffusion model, or an
EBM, VAE or GAN; ``dbc_jax/joint_models/``). Phase 2 trains a deterministic policy with
``coeff_bc * MSE(pi(s), a) + λ * term(L(s, pi(s)), L(s, a))``, where ``L`` is the model's proxy loss, drawn with
the same key (for the diffusion model: the same noise and antithetic timesteps) for both pairs, the model is
frozen (or, for the GAN, updated beside the policy by the trainer) and the expert's loss is a constant.
Every loss returns ``(loss, info)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from ml_collections import ConfigDict

from dbc_jax.joint_models import JointModel, model_term
from dbc_jax.networks import Policy


class Agent(NamedTuple):
    """The static parts of DBC (parameters live in the TrainState)."""

    policy: Policy
    model: JointModel | None  # None: BC
    term: str  # form of the model's term (joint_models.model_term)


def make_agent(config: ConfigDict, obs_dim: int, act_dim: int, action_bounds=None,
               model: JointModel | None = None) -> Agent:
    del obs_dim, action_bounds
    return Agent(policy=Policy(hidden_sizes=tuple(config.policy.hidden_sizes), act_dim=act_dim), model=model,
                 term=config[config.model].term)


def init_policy(agent: Agent, key: jax.Array, obs_dim: int):
    return agent.policy.init(key, jnp.zeros((1, obs_dim)))


def act(agent: Agent, policy_params, obs, key=None):
    """Deterministic action in normalized action space for normalized ``obs`` (``key`` unused)."""
    return agent.policy.apply(policy_params, obs)


def policy_loss(agent: Agent, policy_params, obs, actions, key, hparams, model_params):
    """``hparams.coeff_bc`` times BC plus, with a joint model, ``hparams.coeff`` (λ) times its term;
    ``model_params`` get no gradient. The weights are traced values: the trainer passes each grid member's own."""
    pred = act(agent, policy_params, obs)
    bc = jnp.mean((pred - actions) ** 2)
    info = {"bc/mse": bc}
    loss = hparams.coeff_bc * bc
    if agent.model is not None:
        model_params = jax.lax.stop_gradient(model_params)
        agent_loss = agent.model.proxy_loss(model_params, jnp.concatenate([obs, pred], -1), key)
        expert_loss = jax.lax.stop_gradient(
            agent.model.proxy_loss(model_params, jnp.concatenate([obs, actions], -1), key))
        term = model_term(agent.term, agent_loss, expert_loss)
        loss = loss + hparams.coeff * term
        info.update({"model/agent": jnp.mean(agent_loss), "model/expert": jnp.mean(expert_loss), "model/term": term})
    info["loss/total"] = loss
    return loss, info
