"""Inference cost: policy queries per second of DBC/BC, Diffusion Policy and Implicit BC.

    python experiments/bench_policy.py [--tasks maze walker] [--presets quick paper] [--batch 1 100 300]

One query maps one state to one action. The batch is the number of states asked at once: 300 is the evaluator's
batch in the results (3 seeds x 100 episodes; here one seed's parameters answer all of them). Each row times
``--calls`` calls of the jitted ``act`` after a first call that compiles (shown apart). The paper argues that
joint models (DP: one network call per denoising step; IBC: an energy for every candidate action) are slow at
inference; this measures by how much, with each method's configured sampler.
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

import dbc_jax
from dbc_jax.provenance import hardware
from dbc_jax.train import make_train
from dbc_jax.trainer import TrainData

ALGOS = ("dbc", "dp", "ibc")


def sampler(config) -> str:
    if config.algo == "dp":
        return f"DDIM {config.dp.ddim_steps} steps" if config.dp.ddim_steps else f"DDPM {config.dp.num_steps} steps"
    if config.algo == "ibc":
        if config.ibc.inference == "dfo":
            return f"DFO {config.ibc.num_samples} samples x {config.ibc.dfo_iterations + 1} passes"
        return f"Langevin {config.ibc.num_samples} samples x {config.ibc.langevin_steps} steps"
    return "one forward pass"


def bench(task: str, preset: str, algo: str, batch: int, calls: int) -> dict:
    config = dbc_jax.get_config(task, preset)
    config.algo, config.num_seeds = algo, 1
    spec = dbc_jax.tasks.get_task(task)
    rng = np.random.default_rng(0)
    n = 2 * max(config.policy.batch_size, config.diffusion.batch_size)
    data = TrainData.from_normalized(rng.standard_normal((n, spec.obs_dim)), rng.standard_normal((n, spec.act_dim)))
    fns = make_train(config, spec.obs_dim, spec.act_dim)
    params = jax.tree.map(lambda x: x[0], fns.init(jax.random.PRNGKey(0), data, fns.grid.hparams()).policy_params)
    act = jax.jit(functools.partial(fns.act, action_bounds=data.action_bounds))
    obs = jnp.asarray(rng.standard_normal((batch, spec.obs_dim)), jnp.float32)
    t0 = time.perf_counter()
    jax.block_until_ready(act(params, obs, jax.random.PRNGKey(0)))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(calls):
        out = act(params, obs, jax.random.PRNGKey(i))
    jax.block_until_ready(out)
    per_call = (time.perf_counter() - t0) / calls
    return dict(task=task, preset=preset, algo=algo, sampler=sampler(dbc_jax.configs.resolve(config)), batch=batch,
                ms_per_call=1e3 * per_call, queries_per_s=batch / per_call, first_call_s=first)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=["maze", "walker"], help="tasks (their nets' sizes)")
    parser.add_argument("--presets", nargs="+", default=["quick", "paper"], help="config presets")
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("--batch", nargs="+", type=int, default=[1, 300], help="states per call")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per row")
    args = parser.parse_args()
    print(hardware())
    print("| task | preset | method | sampler | batch | ms per call | queries/s | first call (compile) s |")
    print("|---|---|---|---|---|---|---|---|")
    for task in args.tasks:
        for preset in args.presets:
            for algo in args.algos:
                for batch in args.batch:
                    r = bench(task, preset, algo, batch, args.calls)
                    print(f"| {r['task']} | {r['preset']} | {r['algo']} | {r['sampler']} | {r['batch']} | "
                          f"{r['ms_per_call']:.2f} | {r['queries_per_s']:,.0f} | {r['first_call_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
