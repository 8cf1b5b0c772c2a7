"""A GAN's discriminator over (s, a), trained online against the policy (the authors' GAN ablation).

No pretraining: at every policy update the discriminator D first takes one step on the batch's expert pairs
(label 1) against the current policy's pairs [s, pi(s)] (label 0), with the binary cross-entropy; then the
policy is trained against it. The proxy loss of a pair is ``-log D(s, a)``, so ``term = "agent"`` is the
non-saturating generator loss the authors used, and the hinge is DBC's.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from dbc_jax.joint_models import JointModel, adam, gradient_step, init_state
from dbc_jax.networks import MLP


def make(section, obs_dim: int, act_dim: int, action_bounds=None) -> JointModel:
    del action_bounds
    discriminator = MLP(tuple(section.hidden_sizes), 1, nn.relu)
    tx = adam(section)

    def logits(params, x):
        return discriminator.apply(params, x)[:, 0]

    def init(key):
        return init_state(tx, discriminator.init(key, jnp.zeros((1, obs_dim + act_dim))))

    def proxy_loss(params, x, key):
        """-log D(x) per pair [B] (``key`` unused)."""
        del key
        return jax.nn.softplus(-logits(params, x))

    def loss(params, x_expert, x_agent):
        expert, agent = logits(params, x_expert), logits(params, x_agent)
        value = jnp.mean(jax.nn.softplus(-expert)) + jnp.mean(jax.nn.softplus(agent))
        accuracy = 0.5 * (jnp.mean(expert > 0) + jnp.mean(agent < 0))
        return value, {"model/loss": value, "gan/accuracy": accuracy}

    def online_step(state, x_expert, x_agent, key):
        del key
        return gradient_step(tx, loss, state, x_expert, x_agent)

    return JointModel(init=init, pretrain_step=None, online_step=online_step, proxy_loss=proxy_loss)
