"""DDPM maths shared by every diffusion-based part: the official sigmoid schedule, q(x_t | x_0), the eps-loss."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct


@struct.dataclass
class Schedule:
    betas: jnp.ndarray
    sqrt_alphas_bar: jnp.ndarray
    sqrt_one_minus_alphas_bar: jnp.ndarray

    @property
    def num_steps(self) -> int:
        return self.betas.shape[0]


def sigmoid_schedule(num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """``betas = sigmoid(linspace(-6, 6, T)) * (beta_end - beta_start) + beta_start`` (official ``ddpm.py``)."""
    betas = 1.0 / (1.0 + np.exp(-np.linspace(-6.0, 6.0, num_steps))) * (beta_end - beta_start) + beta_start
    alphas_bar = np.cumprod(1.0 - betas)
    return Schedule(
        betas=jnp.asarray(betas, jnp.float32),
        sqrt_alphas_bar=jnp.asarray(np.sqrt(alphas_bar), jnp.float32),
        sqrt_one_minus_alphas_bar=jnp.asarray(np.sqrt(1.0 - alphas_bar), jnp.float32),
    )


def antithetic_timesteps(key: jax.Array, batch_size: int, num_steps: int) -> jnp.ndarray:
    """``t = [u, T - 1 - u]`` with ``u ~ U{0..T-1}`` of size B/2, as the official code draws t."""
    if batch_size % 2:
        raise ValueError(f"antithetic timesteps need an even batch size, got {batch_size}")
    u = jax.random.randint(key, (batch_size // 2,), 0, num_steps)
    return jnp.concatenate([u, num_steps - 1 - u])


def q_sample(schedule: Schedule, x0, t, noise):
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps."""
    return schedule.sqrt_alphas_bar[t][:, None] * x0 + schedule.sqrt_one_minus_alphas_bar[t][:, None] * noise


def eps_loss(denoise_fn, schedule: Schedule, x0, t, noise):
    """Mean over batch and dimensions of ``(eps - eps_theta(x_t, t))^2``."""
    return jnp.mean((noise - denoise_fn(q_sample(schedule, x0, t, noise), t)) ** 2)
