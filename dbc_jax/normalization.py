"""One z-score normalization, computed once from the dataset and shared by the diffusion model and the policy.

As the official code: per-dimension mean and *unbiased* std over the whole dataset, ``(x - mean) / (std + 1e-8)``
clamped to [-10, 10], and dimensions with zero std mapped to 0. Actions leave the policy through
``x * (std + 1e-8) + mean``. (The official policy side does not clamp actions; the clamp never binds on the
paper's data, max |z| = 4.67, so one rule serves both.) It is saved with every checkpoint.

``config.data.normalize = False`` gives :meth:`Normalizer.identity`: raw values in and out, no clamp (the
official AntReach configs train the diffusion model and the policy on raw data).
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
    enabled: bool = struct.field(pytree_node=False, default=True)  # False: the identity (not saved; the config's)

    @classmethod
    def identity(cls, obs_dim: int, act_dim: int) -> "Normalizer":
        return cls(jnp.zeros(obs_dim), jnp.ones(obs_dim), jnp.zeros(act_dim), jnp.ones(act_dim), enabled=False)

    @classmethod
    def from_data(cls, obs: np.ndarray, actions: np.ndarray) -> "Normalizer":
        def stats(x):
            x = np.asarray(x, dtype=np.float64)
            return x.mean(0).astype(np.float32), x.std(0, ddof=1).astype(np.float32)

        (om, os_), (am, as_) = stats(obs), stats(actions)
        return cls(jnp.asarray(om), jnp.asarray(os_), jnp.asarray(am), jnp.asarray(as_))

    def _z(self, x, mean, std):
        if not self.enabled:
            return x
        return jnp.clip((x - mean) / (std + EPS), -CLAMP, CLAMP) * (std != 0)

    def normalize_obs(self, obs):
        return self._z(obs, self.obs_mean, self.obs_std)

    def normalize_actions(self, actions):
        return self._z(actions, self.act_mean, self.act_std)

    def denormalize_actions(self, actions):
        if not self.enabled:
            return actions
        return actions * (self.act_std + EPS) + self.act_mean
