"""Training speed: updates per second of joint-model pretraining and of the DBC policy step, at the paper's sizes.

    python experiments/bench_train.py [--epochs 2] [--seeds 1 3] [--cases maze halfcheetah walker]
                                      [--models diffusion ebm vae gan]

Cases (batch 128, timings of whole compiled chunks of epochs, so they include the scan and the shuffling):
    maze        DM hidden 128 on 6+2 dims, policy 3x256, N = 18,525 (the size of the paper's maze.pt)
    halfcheetah DM hidden 1024 on 17+6 dims, policy 2x256, N = 5,000 (the size of halfcheetah.pt)
    walker      DM hidden 1024 on 17+6 dims, policy 2x1024, N = 5,000 (walker.pt)
The data are random arrays of those shapes: the speed of a step does not depend on the values. "updates/s"
counts one update of every vmapped seed as one update; "seed-updates/s" multiplies by the seeds. The first
call (compile + one chunk) is shown apart.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import time

import jax
import numpy as np

import dbc_jax
from dbc_jax.joint_models import MODEL_NAMES
from dbc_jax.train import make_train

CASES = {
    "maze": dict(obs_dim=6, act_dim=2, n=18525, dm_hidden=128, policy=(256, 256, 256)),
    "halfcheetah": dict(obs_dim=17, act_dim=6, n=5000, dm_hidden=1024, policy=(256, 256)),
    "walker": dict(obs_dim=17, act_dim=6, n=5000, dm_hidden=1024, policy=(1024, 1024)),
}


def hardware() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    dev = jax.devices()[0]
    device = "CPU only" if dev.platform == "cpu" else f"{dev.platform.upper()}: {dev.device_kind}"
    return (f"{device} | host CPU: {cpu}, {os.cpu_count()} cores | "
            f"jax {jax.__version__}, python {platform.python_version()}")


def bench(case: str, num_seeds: int, epochs: int, model: str = "diffusion") -> list[dict]:
    spec = CASES[case]
    config = dbc_jax.get_config("maze", "paper")
    config.num_seeds, config.model = num_seeds, model
    config.diffusion.hidden = spec["dm_hidden"]
    config.policy.hidden_sizes = spec["policy"]
    rng = np.random.default_rng(0)
    obs = rng.standard_normal((spec["n"], spec["obs_dim"])).astype(np.float32)
    actions = rng.standard_normal((spec["n"], spec["act_dim"])).astype(np.float32)
    fns = make_train(config, obs, actions)
    state = fns.init(jax.random.PRNGKey(0))
    rows = []
    phases = [(f"{model} pretraining", "model", fns.model_epochs)] if fns.updates_per_epoch["model"] else []
    for phase, key, step in phases + [(f"DBC policy step ({model})", "policy", fns.policy_epochs)]:
        t0 = time.perf_counter()
        out, _ = step(state, epochs)
        jax.block_until_ready(out)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        out, _ = step(out, epochs)
        jax.block_until_ready(out)
        elapsed = time.perf_counter() - t0
        updates = epochs * fns.updates_per_epoch[key]
        # A shared joint model is pretrained once, whatever the number of policy seeds.
        models = 1 if key == "model" and config[model].shared else num_seeds
        rows.append(dict(case=case, phase=phase, seeds=models, updates_per_s=updates / elapsed,
                         seed_updates_per_s=updates * models / elapsed, first_call_s=first,
                         compile_s=max(0.0, first - elapsed)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed chunk")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 3], help="numbers of vmapped seeds")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--models", nargs="+", default=["diffusion"], choices=MODEL_NAMES,
                        help="joint models (the case sets only the diffusion model's width; the others: defaults)")
    args = parser.parse_args()
    print(f"hardware: {hardware()}")
    print(f"date: {time.strftime('%Y-%m-%d')}, batch 128, {args.epochs} epochs per timed chunk\n")
    print("| case | phase | seeds | updates/s | seed-updates/s | compile (s) |")
    print("|---|---|---|---|---|---|")
    seen = set()
    for case, model in itertools.product(args.cases, args.models):
        for seeds in args.seeds:
            for r in bench(case, seeds, args.epochs, model):
                key = (r["case"], r["phase"], r["seeds"])
                if key in seen:  # a shared model's pretraining does not depend on the policy seeds
                    continue
                seen.add(key)
                print(f"| {r['case']} | {r['phase']} | {r['seeds']} | {r['updates_per_s']:,.0f} | "
                      f"{r['seed_updates_per_s']:,.0f} | {r['compile_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
