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


def cosine_schedule(num_steps: int = 100, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
    """The cosine schedule (Nichol & Dhariwal 2021; diffusers' ``squaredcos_cap_v2``, Diffusion Policy's)."""
    f = lambda t: np.cos((t / num_steps + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    steps = np.arange(num_steps)
    betas = np.minimum(1.0 - f(steps + 1) / f(steps), max_beta)
    alphas_bar = np.cumprod(1.0 - betas)
    return Schedule(
        betas=jnp.asarray(betas, jnp.float32),
        sqrt_alphas_bar=jnp.asarray(np.sqrt(alphas_bar), jnp.float32),
        sqrt_one_minus_alphas_bar=jnp.asarray(np.sqrt(1.0 - alphas_bar), jnp.float32),
    )


def predict_x0(schedule: Schedule, x_t, t, eps):
    """x_0 implied by x_t and a noise prediction: (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t)."""
    return (x_t - schedule.sqrt_one_minus_alphas_bar[t] * eps) / schedule.sqrt_alphas_bar[t]


def ddpm_sample(denoise_fn, schedule: Schedule, shape, key, clip_lo, clip_hi):
    """Ancestral DDPM sampling (Ho et al. 2020) as one ``lax.scan`` over t = T-1..0; ``denoise_fn(x_t, t)`` predicts
    eps for a scalar t. The predicted x_0 is clipped to [clip_lo, clip_hi] at every step, as Diffusion Policy."""
    betas = schedule.betas
    alphas_bar = schedule.sqrt_alphas_bar ** 2
    alphas_bar_prev = jnp.concatenate([jnp.ones(1), alphas_bar[:-1]])
    init_key, step_key = jax.random.split(key)

    def step(x, t):
        x0 = jnp.clip(predict_x0(schedule, x, t, denoise_fn(x, t)), clip_lo, clip_hi)
        mean = (betas[t] * jnp.sqrt(alphas_bar_prev[t]) * x0
                + (1 - alphas_bar_prev[t]) * jnp.sqrt(1 - betas[t]) * x) / (1 - alphas_bar[t])
        var = betas[t] * (1 - alphas_bar_prev[t]) / (1 - alphas_bar[t])
        z = jax.random.normal(jax.random.fold_in(step_key, t), x.shape)
        return mean + jnp.where(t > 0, jnp.sqrt(var), 0.0) * z, None

    x, _ = jax.lax.scan(step, jax.random.normal(init_key, shape), jnp.arange(schedule.num_steps - 1, -1, -1))
    return x


def ddim_sample(denoise_fn, schedule: Schedule, shape, key, clip_lo, clip_hi, num_steps: int):
    """Deterministic DDIM sampling (Song et al. 2021, eta = 0) on ``num_steps`` evenly spaced timesteps; the only
    randomness is x_T. The predicted x_0 is clipped as in :func:`ddpm_sample`."""
    alphas_bar = schedule.sqrt_alphas_bar ** 2
    ts = jnp.asarray(np.linspace(schedule.num_steps - 1, 0, num_steps).round().astype(np.int32))
    ts_prev = jnp.concatenate([ts[1:], jnp.asarray([-1], jnp.int32)])

    def step(x, t_pair):
        t, t_prev = t_pair
        x0 = jnp.clip(predict_x0(schedule, x, t, denoise_fn(x, t)), clip_lo, clip_hi)
        eps = (x - schedule.sqrt_alphas_bar[t] * x0) / schedule.sqrt_one_minus_alphas_bar[t]
        ab_prev = jnp.where(t_prev >= 0, alphas_bar[jnp.maximum(t_prev, 0)], 1.0)
        return jnp.sqrt(ab_prev) * x0 + jnp.sqrt(1 - ab_prev) * eps, None

    x, _ = jax.lax.scan(step, jax.random.normal(key, shape), (ts, ts_prev))
    return x
