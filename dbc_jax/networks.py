"""Networks with PyTorch's initializations: the deterministic policy MLP and a plain MLP (the joint models'
networks live with their models in ``dbc_jax/joint_models/``)."""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def torch_linear_init():
    """``nn.Linear``'s default in PyTorch: weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    kernel = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")

    def bias(key, shape, dtype, fan_in):
        bound = 1.0 / jnp.sqrt(fan_in)
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return kernel, bias


class TorchDense(nn.Module):
    """A dense layer initialized like PyTorch's ``nn.Linear``."""

    features: int

    @nn.compact
    def __call__(self, x):
        kernel_init, bias_init = torch_linear_init()
        kernel = self.param("kernel", kernel_init, (x.shape[-1], self.features), jnp.float32)
        bias = self.param("bias", lambda k, s, d: bias_init(k, s, d, x.shape[-1]), (self.features,), jnp.float32)
        return x @ kernel + bias


class MLP(nn.Module):
    """``hidden_sizes`` PyTorch-initialized dense layers with ``activation`` after each, then a linear output."""

    hidden_sizes: Sequence[int]
    out_dim: int
    activation: Callable = nn.relu

    @nn.compact
    def __call__(self, x):
        for i, h in enumerate(self.hidden_sizes):
            x = self.activation(TorchDense(h, name=f"hidden_{i}")(x))
        return TorchDense(self.out_dim, name="out")(x)


class Policy(nn.Module):
    """Deterministic MLP policy (official ``MLPBasic`` + linear ``action_head``): tanh after every hidden layer,
    orthogonal(sqrt 2) hidden weights with zero bias, PyTorch-default head, no output squashing."""

    hidden_sizes: Sequence[int]
    act_dim: int

    @nn.compact
    def __call__(self, obs):
        x = obs
        for i, h in enumerate(self.hidden_sizes):
            x = nn.Dense(h, kernel_init=nn.initializers.orthogonal(jnp.sqrt(2.0)), bias_init=nn.initializers.zeros,
                         name=f"hidden_{i}")(x)
            x = jnp.tanh(x)
        return TorchDense(self.act_dim, name="action_head")(x)
