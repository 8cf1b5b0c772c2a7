"""A run's members laid over the local devices with ``jax.sharding`` (a 1-D mesh named "members")."""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def member_mesh(num_members: int) -> Mesh | None:
    """A 1-D mesh ("members") over as many local devices as divide the member count; None on one device.

    Multi-host: after ``jax.distributed.initialize()`` on every host, ``jax.devices()`` lists every host's devices
    and the same mesh spans them; the driver's host-side parts (checkpoints, logs, the C MuJoCo evaluator) would then
    have to run on process 0 only, which this driver does not do.
    """
    devices = jax.devices()
    usable = max(d for d in range(1, len(devices) + 1) if num_members % d == 0)
    if usable < len(devices):
        print(f"{num_members} members over {usable} of the {len(devices)} devices (the member count must divide "
              "evenly; a grid size that is a multiple of the device count uses them all).")
    return Mesh(np.array(devices[:usable]), ("members",)) if usable > 1 else None


def shard_members(tree, mesh: Mesh | None, num_members: int):
    """Lay every leaf with a leading member axis over the mesh and replicate the rest (identity without a mesh)."""
    if mesh is None:
        return tree

    def place(x):
        spec = PartitionSpec("members") if np.ndim(x) and np.shape(x)[0] == num_members else PartitionSpec()
        return jax.device_put(x, NamedSharding(mesh, spec))

    return jax.tree.map(place, tree)
