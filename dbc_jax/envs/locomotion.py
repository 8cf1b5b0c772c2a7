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

import numpy as np


def set_state_from_obs(env, obs) -> None:
    """Put an (unwrapped) env in the state an observation describes; x, absent from obs, is set to 0 (the
    dynamics do not depend on it). Velocities that Walker2d clipped to +-10 cannot be recovered."""
    nq = env.model.nq
    qpos = np.concatenate([[0.0], obs[: nq - 1]])
    qvel = np.asarray(obs[nq - 1:], dtype=np.float64)
    env.set_state(qpos, qvel)
