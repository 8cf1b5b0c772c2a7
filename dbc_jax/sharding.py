"""A run's members laid over the devices with ``jax.sharding`` (a 1-D mesh named "members").

In a multi-process run (:mod:`dbc_jax.distributed`) the mesh spans every process's devices: each process places
only its own shards, from the same host values (the data are replicated, the state's member axis split).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def member_mesh(num_members: int) -> Mesh | None:
    """A 1-D mesh ("members") over as many devices as divide the member count; None on one device.

    With several processes the mesh spans all their devices, so the member count must be a multiple of the global
    device count (refused otherwise: a process left without members would have nothing to train or evaluate)."""
    devices = jax.devices()
    if jax.process_count() > 1:
        if num_members % len(devices):
            raise ValueError(f"{num_members} members do not divide over the {len(devices)} devices of "
                             f"{jax.process_count()} processes: use a grid (points x config.num_seeds) whose size is "
                             f"a multiple of {len(devices)}")
        return Mesh(np.array(devices), ("members",))
    usable = max(d for d in range(1, len(devices) + 1) if num_members % d == 0)
    if usable < len(devices):
        print(f"{num_members} members over {usable} of the {len(devices)} devices (the member count must divide "
              "evenly; a grid size that is a multiple of the device count uses them all).")
    return Mesh(np.array(devices[:usable]), ("members",)) if usable > 1 else None


def _place(x, sharding: NamedSharding):
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    host = np.asarray(x)  # the same value on every process; each places the slices its devices hold
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def shard_members(tree, mesh: Mesh | None, num_members: int | None):
    """Lay every leaf with a leading member axis over the mesh and replicate the rest (identity without a mesh);
    ``num_members=None`` replicates every leaf (the data)."""
    if mesh is None:
        return tree

    def place(x):
        split = num_members is not None and np.ndim(x) and np.shape(x)[0] == num_members
        return _place(x, NamedSharding(mesh, PartitionSpec("members") if split else PartitionSpec()))

    return jax.tree.map(place, tree)
