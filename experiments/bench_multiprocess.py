"""Scaling of one grid over processes: the DBC policy phase of a Maze grid (``--members`` policies, paper sizes: policy
3x256, diffusion model hidden 128, N = 18,525 random pairs, batch 128) on

    1 process x 1 device | 1 process x D devices | P processes x 1 device each (jax.distributed over Gloo)

all on this machine (``--layouts``, each ``PROCESSESxDEVICES``). Each layout runs in fresh processes (a device count
is fixed when jax starts): the state is laid over the global mesh as ``dbc_jax.train`` lays it, one chunk of
``--epochs`` epochs is compiled and run (shown apart), then the next chunk is timed. "policy-updates/s" counts every
member's updates. On a CPU, XLA already spreads one device's work over the cores, so more devices or processes on
the same cores add no compute: the table shows what the layout costs, not a speed-up (that needs more hardware).

    python experiments/bench_multiprocess.py [--members 8] [--epochs 1] [--layouts 1x1 1x2 2x1]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def worker(args) -> None:
    """One process of a layout: train two chunks, print process 0's timings as JSON."""
    from dbc_jax import distributed

    distributed.initialize_from(args)
    import jax
    import numpy as np

    import dbc_jax
    from dbc_jax.sharding import member_mesh, shard_members
    from dbc_jax.trainer import TrainData

    config = dbc_jax.get_config("maze", "paper")
    config.num_seeds, config.grid.coeff = 1, tuple(float(i + 1) for i in range(args.members))
    fns = dbc_jax.make_train(config, 6, 2)
    rng = np.random.default_rng(0)
    data = TrainData.from_normalized(rng.normal(size=(18525, 6)).astype(np.float32),
                                     rng.uniform(-1, 1, size=(18525, 2)).astype(np.float32))
    mesh = member_mesh(fns.grid.num_members)
    state = shard_members(fns.init(jax.random.PRNGKey(0), data, fns.grid.hparams()), mesh, fns.grid.num_members)
    data = shard_members(data, mesh, None)
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        state, info = fns.policy_epochs(state, data, args.epochs)
        distributed.to_host(info)  # waits for every process's members
        times.append(time.perf_counter() - t0)
    updates = args.epochs * (18525 // config.policy.batch_size) * args.members
    if distributed.is_writer():
        print(json.dumps({"processes": jax.process_count(), "devices": jax.device_count(),
                          "first_s": times[0], "policy_updates_per_s": updates / times[1]}), flush=True)


def run_layout(layout: str, args) -> dict:
    processes, devices = (int(x) for x in layout.split("x"))
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu",
           "PYTHONPATH": ROOT}
    base = [sys.executable, os.path.abspath(__file__), "--worker", "--members", str(args.members),
            "--epochs", str(args.epochs)]
    procs = [subprocess.Popen(base + ([f"--coordinator_address=localhost:{port}", f"--num_processes={processes}",
                                        f"--process_id={pid}"] if processes > 1 else []),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for pid in range(processes)]
    outs = [p.communicate(timeout=1800) for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError(f"layout {layout} failed: " + outs[0][1][-2000:])
    return json.loads(outs[0][0].strip().splitlines()[-1])


def main() -> None:
    from dbc_jax import distributed

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=8, help="policies in the grid (a multiple of every layout's "
                                                                "device count)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per chunk (145 updates per member each)")
    parser.add_argument("--layouts", nargs="+", default=["1x1", "1x2", "2x1"], metavar="PROCESSESxDEVICES")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    distributed.add_arguments(parser)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    from dbc_jax.provenance import hardware

    print(f"hardware: {hardware()}")
    print(f"DBC policy phase, Maze paper sizes, {args.members} members, chunks of {args.epochs} epoch(s)\n")
    print("| processes x devices | first chunk (compile + run) | policy-updates/s |")
    print("|---|---|---|")
    for layout in args.layouts:
        row = run_layout(layout, args)
        print(f"| {row['processes']} x {row['devices'] // row['processes']} | {row['first_s']:.1f} s | "
              f"{row['policy_updates_per_s']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
