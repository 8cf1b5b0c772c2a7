"""gymnasium_robotics, imported in one place for the tasks built on it (FetchPick, HandRotate)."""

from __future__ import annotations

import contextlib
import io

with contextlib.redirect_stderr(io.StringIO()):  # its import prints a notice about the Adroit envs
    from gymnasium_robotics.envs import robot_env
    from gymnasium_robotics.envs.fetch.pick_and_place import MujocoFetchPickAndPlaceEnv
    from gymnasium_robotics.envs.mujoco import mujoco_py_env
    from gymnasium_robotics.envs.shadow_dexterous_hand.manipulate import quat_from_angle_and_axis
    from gymnasium_robotics.envs.shadow_dexterous_hand.manipulate_block import MujocoHandBlockEnv
    from gymnasium_robotics.utils import rotations

# gymnasium_robotics keeps the ImportError of mujoco_py (the old bindings, which we do not use) in module globals.
# Its traceback holds the frame that imported the module and, through f_back, every caller's frame with its locals:
# the env module is imported by the first gym.make of a process, inside an evaluator building its envs, so that
# evaluator (512 HandRotate envs: about 7 GB) would never be freed. The message stays; the frames go.
for _error in (robot_env.MUJOCO_PY_IMPORT_ERROR, mujoco_py_env.MUJOCO_PY_IMPORT_ERROR):
    if _error is not None:
        _error.__traceback__ = None

__all__ = ["MujocoFetchPickAndPlaceEnv", "MujocoHandBlockEnv", "quat_from_angle_and_axis", "rotations"]
