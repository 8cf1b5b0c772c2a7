"""One z-score normalization, computed once from the dataset and shared by the diffusion model and the policy.

As the official code: per-dimension mean and *unbiased* std over the whole dataset, ``(x - mean) / (std + 1e-8)``
clamped to [-10, 10], and dimensions with zero std mapped to 0. Actions leave the policy through
``x * (std + 1e-8) + mean``. (The official policy side does not clamp actions; the clamp never binds on the
paper's data, max |z| = 4.67, so one rule serves both.) It is saved with every checkpoint.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import struct

EPS = 1e-8
CLAMP = 10.0


@struct.dataclass
class Normalizer:
    obs_mean: jnp.ndarray
    obs_std: jnp.ndarray
    act_mean: jnp.ndarray
    act_std: jnp.ndarray

    @classmethod
    def from_data(cls, obs: np.ndarray, actions: np.ndarray) -> "Normalizer":
        def stats(x):
            x = np.asarray(x, dtype=np.float64)
            return x.mean(0).astype(np.float32), x.std(0, ddof=1).astype(np.float32)

        (om, os_), (am, as_) = stats(obs), stats(actions)
        return cls(jnp.asarray(om), jnp.asarray(os_), jnp.asarray(am), jnp.asarray(as_))

    @staticmethod
    def _z(x, mean, std):
        return jnp.clip((x - mean) / (std + EPS), -CLAMP, CLAMP) * (std != 0)

    def normalize_obs(self, obs):
        return self._z(obs, self.obs_mean, self.obs_std)

    def normalize_actions(self, actions):
        return self._z(actions, self.act_mean, self.act_std)

    def denormalize_actions(self, actions):
        return actions * (self.act_std + EPS) + self.act_mean
