"""The diffusion model (DBC's own joint model): the official DDPM over normalized (s, a).

Pretrained with the eps-loss on the official sigmoid schedule (T = 1000) and antithetic timesteps; the proxy loss
of a pair is its eps-loss, ``(eps - eps_theta(x_t, t))^2``, under the one draw of t and noise that the key gives.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from dbc_jax import diffusion
from dbc_jax.joint_models import JointModel, adam, gradient_step, init_state
from dbc_jax.networks import TorchDense


class Denoiser(nn.Module):
    """The official ``MLPDiffusion``: predicts the noise eps from (x_t, t).

    Three hidden ReLU layers of width ``hidden``; before each ReLU a learned per-layer embedding of t is added.
    The official module (depth 4) also holds a fourth hidden layer that ``forward`` never uses; it is left out.
    """

    hidden: int
    num_steps: int = 1000
    num_hidden_layers: int = 3

    @nn.compact
    def __call__(self, x, t):
        out_dim = x.shape[-1]
        for i in range(self.num_hidden_layers):
            x = TorchDense(self.hidden, name=f"linear_{i}")(x)
            x = x + nn.Embed(self.num_steps, self.hidden, embedding_init=nn.initializers.normal(1.0),
                             name=f"t_embed_{i}")(t)
            x = nn.relu(x)
        return TorchDense(out_dim, name="out")(x)


def make(section, obs_dim: int, act_dim: int, action_bounds=None) -> JointModel:
    del action_bounds
    dim = obs_dim + act_dim
    denoiser = Denoiser(hidden=section.hidden, num_steps=section.num_steps)
    schedule = diffusion.sigmoid_schedule(section.num_steps)
    tx = adam(section)

    def init(key):
        return init_state(tx, denoiser.init(key, jnp.zeros((1, dim)), jnp.zeros((1,), jnp.int32)))

    def proxy_loss(params, x, key):
        """Elementwise eps-loss [B, dim] under antithetic t and noise drawn from ``key``."""
        t_key, noise_key = jax.random.split(key)
        t = diffusion.antithetic_timesteps(t_key, x.shape[0], schedule.num_steps)
        noise = jax.random.normal(noise_key, x.shape)
        return (noise - denoiser.apply(params, diffusion.q_sample(schedule, x, t, noise), t)) ** 2

    def loss(params, x, key):
        value = jnp.mean(proxy_loss(params, x, key))
        return value, {"model/loss": value}

    def pretrain_step(state, x, key):
        return gradient_step(tx, loss, state, x, key)

    return JointModel(init=init, pretrain_step=pretrain_step, online_step=None, proxy_loss=proxy_loss)
