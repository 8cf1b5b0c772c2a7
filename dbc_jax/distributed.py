"""Several processes, one run: JAX's multi-controller model (``jax.distributed``), one process per host.

Every process runs the same program. A run's member axis is laid over the devices of all processes (a global
``Mesh``: :mod:`dbc_jax.sharding`); each process feeds and trains the members on its own devices, evaluates them,
and the results are gathered once. Process 0 is the writer: it alone holds the workdir's lock and writes the
metrics, TensorBoard, plots and ``results.json``; checkpoints are written by every process (its own shards) and
committed by orbax once. Outside a multi-process run every function here is the single-process identity.

    initialize(coordinator_address="host0:1234", num_processes=2, process_id=0)  # explicit, e.g. two machines
    initialize(auto=True)  # Slurm, Open MPI, TPU pods, ...: from the cluster's environment (jax's own detection)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback

import jax
import numpy as np
from jax.experimental import multihost_utils

# A process that stops answering is declared dead after this long, and the others stop (env DBC_JAX_HEARTBEAT_S).
HEARTBEAT_TIMEOUT_S = int(os.environ.get("DBC_JAX_HEARTBEAT_S", "60"))
_heartbeat_timeout_s = HEARTBEAT_TIMEOUT_S  # the one this run was initialized with


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, auto: bool = False,
               heartbeat_timeout_s: int = HEARTBEAT_TIMEOUT_S) -> bool:
    """Join a multi-process run; False (nothing done) without a coordinator address and without ``auto``.

    Must come before anything touches jax's devices. On CPUs the processes exchange arrays through Gloo."""
    if not coordinator_address and not auto:
        if num_processes not in (None, 1) or process_id not in (None, 0):
            raise ValueError("--num_processes/--process_id need --coordinator_address (host:port of process 0), "
                             "or --distributed to read them from the cluster's environment")
        return False
    if coordinator_address and (num_processes is None or process_id is None):
        raise ValueError(f"--coordinator_address={coordinator_address}: also give --num_processes and --process_id "
                         "(0 on the coordinator's host)")
    if num_processes is not None and not (0 <= (process_id or 0) < num_processes):
        raise ValueError(f"--process_id={process_id}: expected 0 .. {num_processes - 1} (--num_processes="
                         f"{num_processes})")
    global _heartbeat_timeout_s
    _heartbeat_timeout_s = heartbeat_timeout_s
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, heartbeat_timeout_seconds=heartbeat_timeout_s)
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The multi-process flags of an experiment's command line (read by :func:`initialize_from`)."""
    group = parser.add_argument_group("several processes (jax.distributed; docs/multihost.md)")
    group.add_argument("--coordinator_address", default=None, metavar="HOST:PORT",
                       help="process 0's address; with --num_processes and --process_id, run on several processes")
    group.add_argument("--num_processes", type=int, default=None)
    group.add_argument("--process_id", type=int, default=None)
    group.add_argument("--distributed", action="store_true",
                       help="join a multi-process run described by the cluster's environment (Slurm, TPU, MPI)")


def initialize_from(args) -> bool:
    """:func:`initialize` from the flags of :func:`add_arguments` (or main's absl flags of the same names)."""
    return initialize(args.coordinator_address, args.num_processes, args.process_id, auto=args.distributed)


_PEER_LOST = ("Connection reset by peer", "Connection closed by peer", "heartbeat timeout", "Socket closed")


@contextlib.contextmanager
def stop_all_on_error():
    """In a multi-process run, an error on one process ends that process at once (``os._exit``): otherwise it
    would wait for the others at jax's exit barrier while they wait for it inside a collective. The others see its
    heartbeat stop and end with jax's error naming it within the heartbeat timeout. A stop asked for on any
    process (Ctrl-C, SIGTERM) is agreed between chunks, so every process ends at the same checkpoint."""
    try:
        yield
    except BaseException as error:
        if not is_multiprocess():
            raise
        if os.environ.get("DBC_JAX_DEBUG", "") not in ("", "0"):
            traceback.print_exc()
        stopped = isinstance(error, KeyboardInterrupt)
        reason = "stopped" if stopped else f"{type(error).__name__}: {error}"
        if any(sign in str(error) for sign in _PEER_LOST):
            reason += " (another process ended or is unreachable)"
        print(f"process {jax.process_index()} of {jax.process_count()}: {reason}; ending this process (the others "
              f"end too, within the heartbeat timeout of {_heartbeat_timeout_s} s)", file=sys.stderr, flush=True)
        os._exit(130 if stopped else 1)


def is_multiprocess() -> bool:
    return jax.process_count() > 1


def is_writer() -> bool:
    """Whether this process writes the run's files: process 0."""
    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Every process waits here until all have come (nothing to do in a single process)."""
    if is_multiprocess():
        multihost_utils.sync_global_devices(name)


def to_host(tree):
    """Every leaf as a numpy array, gathered from every process where an array spans several (small things only:
    a chunk's metrics, never the state)."""
    if not is_multiprocess():
        return jax.tree.map(np.asarray, tree)
    return jax.tree.map(lambda x: np.asarray(multihost_utils.process_allgather(x, tiled=True)), tree)


def gather_stacked(array: np.ndarray) -> np.ndarray:
    """[processes, ...]: every process's ``array`` (each the same shape and dtype), in process order. Moved as
    bytes: jax would turn float64 and int64 into 32 bits."""
    array = np.asarray(array)
    if not is_multiprocess():
        return array[None]
    raw = np.frombuffer(array.tobytes(), np.uint8)
    gathered = np.asarray(multihost_utils.process_allgather(raw, tiled=False))
    return np.stack([np.frombuffer(row.tobytes(), array.dtype).reshape(array.shape) for row in gathered])


def all_agree(flag: bool) -> bool:
    """Whether ``flag`` holds on every process: a decision that all processes must take alike."""
    return bool(gather_stacked(np.asarray(bool(flag))).all())


def any_process(flag: bool) -> bool:
    """Whether ``flag`` holds on some process (e.g. a stop requested on one of them)."""
    return bool(gather_stacked(np.asarray(bool(flag))).any())


def held_rows(leaf) -> list[tuple[int, int, np.ndarray]]:
    """[(first row, stop, rows)] of the leading axis of ``leaf`` that this process holds as the primary copy
    (replica 0), sorted; a numpy leaf (or a 0-d one) is held whole by process 0."""
    if not isinstance(leaf, jax.Array):
        array = np.asarray(leaf)
        return [(0, len(array) if array.ndim else 1, array)] if is_writer() else []
    rows = len(leaf) if leaf.ndim else 1
    held = {}
    for shard in leaf.addressable_shards:
        if shard.replica_id != 0:
            continue
        index = shard.index[0] if leaf.ndim else slice(None)
        first, stop, step = index.indices(rows)
        if step != 1 or any(s.indices(n) != (0, n, 1) for s, n in zip(shard.index[1:], leaf.shape[1:])):
            raise ValueError(f"a leaf of shape {leaf.shape} is split along more than its leading axis "
                             f"({shard.index}); dbc_jax lays only the member axis over devices")
        held[first] = (first, stop, np.asarray(shard.data))
    return [held[k] for k in sorted(held)]


def local_members(tree, num_members: int) -> tuple[range, object]:
    """(the members this process holds, the tree cut to them as local numpy arrays): a member-sharded tree's
    part for this process's evaluator. Single process: every member, the tree itself."""
    if not is_multiprocess():
        return range(num_members), tree
    first_leaf = jax.tree.leaves(tree)[0]
    members = sorted({m for shard in first_leaf.addressable_shards
                      for m in range(*shard.index[0].indices(num_members))})
    members = range(members[0], members[-1] + 1)

    def cut(leaf):
        parts = {}
        for shard in leaf.addressable_shards:
            first, stop, _ = shard.index[0].indices(num_members)
            parts[first] = np.asarray(shard.data)
        local = np.concatenate([parts[k] for k in sorted(parts)])
        if len(local) != len(members):
            raise ValueError(f"members {members.start}..{members.stop - 1} expected on process "
                             f"{jax.process_index()}, it holds {len(local)}")
        return local

    return members, jax.tree.map(cut, tree)


def gather_members(array: np.ndarray | None, members: range, pad_axis: int | None = None) -> np.ndarray | None:
    """Every process's [its ``members``, ...] concatenated in member order (each process holds as many members);
    with ``pad_axis``, shorter parts are NaN-padded along that axis to the longest first."""
    if not is_multiprocess() or array is None:
        return array
    array = np.asarray(array)
    if pad_axis is not None:
        longest = int(gather_stacked(np.asarray(array.shape[pad_axis])).max())
        widths = [(0, 0)] * array.ndim
        widths[pad_axis] = (0, longest - array.shape[pad_axis])
        array = np.pad(array, widths, constant_values=np.nan)
    order = np.argsort(gather_stacked(np.asarray(members.start)))
    return np.concatenate(list(gather_stacked(array)[order]))
