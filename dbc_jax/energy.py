"""Energy models of (s, a) and their InfoNCE loss, shared by Implicit BC (the policy, ``algos/ibc.py``) and DBC's
EBM joint model (``joint_models/ebm.py``)."""

from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class EnergyModel(nn.Module):
    """E(s, a): a ReLU MLP on [s, a] -> scalar. ``obs`` [B, obs_dim], ``actions`` [B, N, act_dim] -> [B, N]."""

    hidden_sizes: Sequence[int]

    @nn.compact
    def __call__(self, obs, actions):
        obs = jnp.broadcast_to(obs[:, None], actions.shape[:2] + obs.shape[-1:])
        x = jnp.concatenate([obs, actions], -1)
        for h in self.hidden_sizes:
            x = nn.relu(nn.Dense(h)(x))
        return nn.Dense(1)(x)[..., 0]


def info_nce(energy_fn, obs, actions, negatives, temperature: float):
    """InfoNCE: cross-entropy of picking the expert action (index 0) among it and the counter-examples
    ``negatives`` [B, N, act_dim] by ``softmax(-E / temperature)``; returns (loss, how often the expert is lowest)."""
    candidates = jnp.concatenate([actions[:, None], negatives], 1)
    logits = -energy_fn(obs, candidates) / temperature
    loss = -jnp.mean(jax.nn.log_softmax(logits, -1)[:, 0])
    return loss, jnp.mean(jnp.argmax(logits, -1) == 0)
