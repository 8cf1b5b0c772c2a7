"""An energy-based model E(s, a) (the authors' EBM ablation): IBC's energy MLP and InfoNCE, over the pair.

Pretrained with InfoNCE: the expert action must get the lowest energy among itself and ``num_negatives``
counter-examples drawn uniformly within the data's normalized action range (widened by ``bounds_margin``). The
proxy loss of a pair is its energy: lower is more expert-like. The authors' policy term was the absolute
difference ``mean |E(s, pi(s)) - E(s, a)|`` (``term = "abs"``); the hinge is DBC's.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from dbc_jax.energy import EnergyModel, info_nce
from dbc_jax.joint_models import JointModel, adam, gradient_step, init_state


def make(section, obs_dim: int, act_dim: int, action_bounds) -> JointModel:
    net = EnergyModel(tuple(section.hidden_sizes))
    low, high = (jnp.asarray(b, jnp.float32) for b in action_bounds)
    margin = section.bounds_margin * (high - low)
    low, high = low - margin, high + margin
    tx = adam(section, optax.exponential_decay(section.lr, section.lr_decay_every, section.lr_decay, staircase=True))

    def energy(params, obs, actions):
        return net.apply(params, obs, actions)

    def init(key):
        return init_state(tx, net.init(key, jnp.zeros((1, obs_dim)), jnp.zeros((1, 1, act_dim))))

    def proxy_loss(params, x, key):
        """The energy of each pair [B] (deterministic: ``key`` unused)."""
        del key
        return energy(params, x[:, :obs_dim], x[:, None, obs_dim:])[:, 0]

    def loss(params, x, key):
        obs, actions = x[:, :obs_dim], x[:, obs_dim:]
        negatives = jax.random.uniform(key, (x.shape[0], section.num_negatives, act_dim), minval=low, maxval=high)
        value, accuracy = info_nce(lambda o, a: energy(params, o, a), obs, actions, negatives, section.temperature)
        return value, {"model/loss": value, "ebm/expert_lowest": accuracy}

    def pretrain_step(state, x, key):
        return gradient_step(tx, loss, state, x, key)

    return JointModel(init=init, pretrain_step=pretrain_step, online_step=None, proxy_loss=proxy_loss)
