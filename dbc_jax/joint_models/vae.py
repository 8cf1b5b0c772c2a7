"""A variational autoencoder over (s, a) (the authors' VAE ablation).

MLP encoder to a Gaussian latent and a mirrored decoder (LeakyReLU), trained with the reconstruction MSE plus
``beta`` times the KL divergence to N(0, I). The proxy loss of a pair is its squared reconstruction error after
one reparameterized pass, the latent noise drawn from the key (so the agent's and the expert's pairs share it);
the authors hinged it exactly like DBC.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from dbc_jax.joint_models import JointModel, adam, gradient_step, init_state
from dbc_jax.networks import MLP


class VAE(nn.Module):
    hidden_sizes: tuple
    latent_dim: int

    @nn.compact
    def __call__(self, x, noise):
        """(reconstruction, mean, log-variance) of ``x`` [B, dim], the latent sampled with ``noise`` [B, latent]."""
        stats = MLP(self.hidden_sizes, 2 * self.latent_dim, nn.leaky_relu, name="encoder")(x)
        mean, log_var = jnp.split(stats, 2, -1)
        z = mean + jnp.exp(0.5 * log_var) * noise
        return MLP(self.hidden_sizes[::-1], x.shape[-1], nn.leaky_relu, name="decoder")(z), mean, log_var


def make(section, obs_dim: int, act_dim: int, action_bounds=None) -> JointModel:
    del action_bounds
    dim = obs_dim + act_dim
    vae = VAE(tuple(section.hidden_sizes), section.latent_dim)
    tx = adam(section, optax.exponential_decay(section.lr, section.lr_decay_every, section.lr_decay, staircase=True))

    def forward(params, x, key):
        return vae.apply(params, x, jax.random.normal(key, (x.shape[0], section.latent_dim)))

    def init(key):
        return init_state(tx, vae.init(key, jnp.zeros((1, dim)), jnp.zeros((1, section.latent_dim))))

    def proxy_loss(params, x, key):
        """Squared reconstruction error [B, dim] of one pass with latent noise from ``key``."""
        return (forward(params, x, key)[0] - x) ** 2

    def loss(params, x, key):
        reconstruction, mean, log_var = forward(params, x, key)
        mse = jnp.mean((reconstruction - x) ** 2)
        kl = jnp.mean(0.5 * jnp.sum(jnp.exp(log_var) + mean**2 - 1.0 - log_var, -1))
        value = mse + section.beta * kl
        return value, {"model/loss": value, "vae/mse": mse, "vae/kl": kl}

    def pretrain_step(state, x, key):
        return gradient_step(tx, loss, state, x, key)

    return JointModel(init=init, pretrain_step=pretrain_step, online_step=None, proxy_loss=proxy_loss)
