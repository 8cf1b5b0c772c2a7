"""HalfCheetah and Walker2d: gymnasium's v4 models, the ones whose dynamics match the paper's data.

The paper ran gym 0.17's ``-v3`` envs (MuJoCo 2 through mujoco-py). Gymnasium's ``-v4`` has the same models on
the ``mujoco`` bindings; ``-v5`` changed Walker2d's left-foot friction, which moves it further from the paper's
demos (``tests/test_locomotion.py`` pins the one-step replay errors). Observation: ``qpos[1:]`` and ``qvel``
(17-D; Walker2d clips velocities to +-10); horizon 1000; Walker2d ends early when unhealthy.

Actions outside [-1, 1] are passed through unchanged, as in the paper: MuJoCo clamps the control to the
actuators' ``ctrlrange``, while the control cost is computed from the raw action (the v3/v4 reward). The paper's
demos reach |a| = 4.6, so a policy trained on them may output such actions, and pays the cost for them.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

# Registering our own ids with the v4 classes as entry points is the one place these envs are made. Going through
# gym.make("HalfCheetah-v4") would print "The environment HalfCheetah-v4 is out of date" on every make; v4 is
# chosen deliberately (faithful to the paper's data, see above), so we skip that path rather than filter warnings.
ENV_IDS = {
    "halfcheetah": ("dbc_jax/HalfCheetah-v0", "gymnasium.envs.mujoco.half_cheetah_v4:HalfCheetahEnv"),
    "walker": ("dbc_jax/Walker2d-v0", "gymnasium.envs.mujoco.walker2d_v4:Walker2dEnv"),
}
MAX_EPISODE_STEPS = 1000


def register() -> None:
    for env_id, entry_point in ENV_IDS.values():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, max_episode_steps=MAX_EPISODE_STEPS)


def set_state_from_obs(env, obs) -> None:
    """Put an (unwrapped) env in the state an observation describes; x, absent from obs, is set to 0 (the
    dynamics do not depend on it). Velocities that Walker2d clipped to +-10 cannot be recovered."""
    nq = env.model.nq
    qpos = np.concatenate([[0.0], obs[: nq - 1]])
    qvel = np.asarray(obs[nq - 1:], dtype=np.float64)
    env.set_state(qpos, qvel)
