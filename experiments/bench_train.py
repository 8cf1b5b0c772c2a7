"""Training speed: updates per second of joint-model pretraining and of the DBC policy step, at the paper's sizes,
and what training a grid as one program buys.

    python experiments/bench_train.py [--epochs 2] [--seeds 1 3] [--cases maze halfcheetah walker]
                                      [--models diffusion ebm vae gan]
    python experiments/bench_train.py --grid [--lambdas 8] [--grid-sizes 24 48 96] [--cases maze]
    python experiments/bench_train.py --bounds [--cases maze halfcheetah walker]

Cases (batch 128, timings of whole compiled chunks of epochs, so they include the scan and the shuffling):
    maze        DM hidden 128 on 6+2 dims, policy 3x256, N = 18,525 (the size of the paper's maze.pt)
    halfcheetah DM hidden 1024 on 17+6 dims, policy 2x256, N = 5,000 (the size of halfcheetah.pt)
    walker      DM hidden 1024 on 17+6 dims, policy 2x1024, N = 5,000 (walker.pt)
The data are random arrays of those shapes: the speed of a step does not depend on the values. "updates/s"
counts one update of every vmapped seed as one update; "seed-updates/s" multiplies by the seeds. The first
call (compile + one chunk) is shown apart.

Against the machine's limit: "GFLOP/s" is the floating-point work of one update (of every vmapped seed), as XLA's
cost analysis counts it for the compiled program, times updates/s; "of roofline" divides it by the best rate of a
large float32 matrix multiply measured in the same run (``roofline``: n x n by n x n for n in 1024, 2048, 4096,
the best of several calls). XLA's cost analysis counts a loop's body once, whatever its trip count, so the count of
a chunk of epochs is that of one update; ``flops_per_update`` checks this on one and two epochs.

A lone member (the shared diffusion model; a one-seed policy) is trained squeezed, not as a vmapped batch of one
(``dbc_jax.trainer.map_members``); ``--no-squeeze`` times the vmapped batch of one.

``--bounds``: where a diffusion pretraining update's time goes (the whole update, its forward and backward pass
alone, gradient clipping and Adam alone), the update time that 75% of the roofline would mean, and the rate of one
matmul of the policy's hidden layer at batch 128.

``--grid``: the DBC policy phase of 3 seeds x ``--lambdas`` λ values (24 policies by default) trained as one
program (``config.grid.coeff``), against the same policies trained one after another (one compiled 1-policy
program called once per policy; its compile counted once, apart). "policy-updates/s" counts every policy's
updates. ``--grid-sizes`` adds rows of the one-program grid at other sizes (policies; multiples of 3).
"""
from __future__ import annotations

import argparse
import itertools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dbc_jax
from dbc_jax import joint_models
from dbc_jax.joint_models import MODEL_NAMES
from dbc_jax.provenance import hardware
from dbc_jax.train import make_train
from dbc_jax.trainer import TrainData

CASES = {
    "maze": dict(obs_dim=6, act_dim=2, n=18525, dm_hidden=128, policy=(256, 256, 256)),
    "halfcheetah": dict(obs_dim=17, act_dim=6, n=5000, dm_hidden=1024, policy=(256, 256)),
    "walker": dict(obs_dim=17, act_dim=6, n=5000, dm_hidden=1024, policy=(1024, 1024)),
}


def case_config(case: str, num_seeds: int, model: str = "diffusion"):
    spec = CASES[case]
    config = dbc_jax.get_config("maze", "paper")
    config.num_seeds, config.model = num_seeds, model
    config.diffusion.hidden = spec["dm_hidden"]
    config.policy.hidden_sizes = spec["policy"]
    rng = np.random.default_rng(0)
    data = TrainData.from_normalized(rng.standard_normal((spec["n"], spec["obs_dim"])),
                                     rng.standard_normal((spec["n"], spec["act_dim"])))
    return config, data


def best_seconds(fn, *args, repeats: int = 3) -> float:
    """The best wall time of ``fn(*args)`` over ``repeats`` calls, after one call that compiles."""
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best


def roofline(sizes=(1024, 2048, 4096), repeats: int = 5) -> dict:
    """The best FLOP/s of a float32 n x n matmul over ``sizes`` (each the best of ``repeats`` calls)."""
    best = {"flops_per_s": 0.0, "n": 0}
    matmul = jax.jit(jnp.matmul)
    for n in sizes:
        a, b = (jax.random.normal(jax.random.PRNGKey(i), (n, n), jnp.float32) for i in (0, 1))
        rate = 2 * n ** 3 / best_seconds(matmul, a, b, repeats=repeats)
        if rate > best["flops_per_s"]:
            best = {"flops_per_s": rate, "n": n}
    return best


def compiled_flops(jitted, *args) -> float:
    """XLA's FLOP count of ``jitted`` compiled for ``args`` (a loop's body counted once)."""
    cost = jitted.lower(*args).compile().cost_analysis()
    return float((cost[0] if isinstance(cost, list) else cost)["flops"])


def flops_per_update(step, state, data) -> float:
    """FLOPs of one update of ``step`` (a chunk of epochs), from XLA's cost analysis of the compiled program."""
    one, two = compiled_flops(step, state, data, 1), compiled_flops(step, state, data, 2)
    if abs(one - two) > 0.01 * one:  # the count would then scale with the loop's trip count
        raise RuntimeError(f"XLA's FLOP count changed with the epochs ({one:.3g} vs {two:.3g}): not one update")
    return one


def timed(step, state, data, epochs):
    """(state after two calls, seconds of the first call, seconds of the second)."""
    t0 = time.perf_counter()
    out, _ = step(state, data, epochs)
    jax.block_until_ready(out)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    out, _ = step(out, data, epochs)
    jax.block_until_ready(out)
    return out, first, time.perf_counter() - t0


def bench(case: str, num_seeds: int, epochs: int, model: str = "diffusion", squeeze_one: bool = True) -> list[dict]:
    config, data = case_config(case, num_seeds, model)
    fns = make_train(config, data.obs.shape[1], data.actions.shape[1], squeeze_one=squeeze_one)
    state = fns.init(jax.random.PRNGKey(0), data, fns.grid.hparams())
    per_epoch = fns.updates_per_epoch(data.num_items)
    rows = []
    phases = [(f"{model} pretraining", "model", fns.model_epochs)] if per_epoch["model"] else []
    for phase, key, step in phases + [(f"DBC policy step ({model})", "policy", fns.policy_epochs)]:
        _, first, elapsed = timed(step, state, data, epochs)
        updates = epochs * per_epoch[key]
        # A shared joint model is pretrained once, whatever the number of policy seeds.
        models = 1 if key == "model" and config[model].shared else num_seeds
        flops = flops_per_update(step, state, data)
        rows.append(dict(case=case, phase=phase, seeds=models, updates_per_s=updates / elapsed,
                         seed_updates_per_s=updates * models / elapsed, first_call_s=first,
                         compile_s=max(0.0, first - elapsed), flops_per_update=flops,
                         flops_per_s=flops * updates / elapsed))
    return rows


def bounds(case: str, steps: int) -> dict:
    """Where a diffusion pretraining update's time goes: milliseconds of the whole update, of its forward and
    backward pass alone, and of gradient clipping + Adam alone (on fixed gradients), each the mean of ``steps``
    updates in one ``lax.scan``; and the rate of one matmul of the policy's hidden layer at batch 128."""
    spec = CASES[case]
    config, _ = case_config(case, 1)
    dim = spec["obs_dim"] + spec["act_dim"]
    model = joint_models.make("diffusion", config.diffusion, spec["obs_dim"], spec["act_dim"], None)
    tx = joint_models.adam(config.diffusion)
    state = model.init(jax.random.PRNGKey(0))
    batches = jax.random.normal(jax.random.PRNGKey(1), (steps, config.diffusion.batch_size, dim))
    keys = jax.random.split(jax.random.PRNGKey(2), steps)

    def per_update(step, carry):
        """(milliseconds, XLA's FLOP count) per update: the scan's body is counted once."""
        scanned = jax.jit(lambda c: jax.lax.scan(step, c, (batches, keys))[0])
        return best_seconds(scanned, carry) / steps * 1e3, compiled_flops(scanned, carry)

    def loss(params, x, key):
        return jnp.mean(model.proxy_loss(params, x, key))

    def forward_backward(total, xs):
        grads = jax.grad(loss)(state.params, *xs)
        return total + sum(jnp.sum(g[:1]) for g in jax.tree.leaves(grads)), None  # keep every gradient live

    grads = jax.grad(loss)(state.params, batches[0], keys[0])

    def optimizer(carry, xs):
        params, opt_state = carry
        scaled = jax.tree.map(lambda g: g * xs[0][0, 0], grads)  # one pass like a fresh gradient, no backward
        updates, opt_state = tx.update(scaled, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), None

    width, matmuls = spec["policy"][-1], 100
    a, b = jnp.ones((matmuls, config.policy.batch_size, width)), jnp.ones((width, width))
    matmul_s = best_seconds(jax.jit(lambda a, b: jax.lax.map(lambda x: x @ b, a)), a, b, repeats=10)
    tables = sum(x.size for path, x in jax.tree_util.tree_leaves_with_path(state.params)
                 if "t_embed" in jax.tree_util.keystr(path))
    update_ms, update_flops = per_update(lambda s, xs: (model.pretrain_step(s, *xs)[0], None), state)
    backward_ms, backward_flops = per_update(forward_backward, jnp.zeros(()))
    return dict(case=case, update_ms=update_ms, update_flops=update_flops, forward_backward_ms=backward_ms,
                forward_backward_flops=backward_flops,
                optimizer_ms=per_update(optimizer, (state.params, tx.init(state.params)))[0],
                params=sum(x.size for x in jax.tree.leaves(state.params)), table_params=tables, policy_width=width,
                policy_matmul_flops_per_s=2 * a.size * width / matmul_s)


def main_bounds(args, peak) -> None:
    print("Diffusion pretraining, one update (one model), and one matmul of the policy's hidden layer:\n")
    print("| case | params (of which t-embedding) | update (ms) | of roofline | forward + backward (ms) | "
          "of roofline | clip + Adam (ms) | update at 75% of roofline (ms) | policy matmul 128 x w x w |")
    print("|---|---|---|---|---|---|---|---|---|")
    def of_peak(flops, ms):
        return f"{flops / (ms / 1e3) / peak['flops_per_s']:.0%}"

    for case in args.cases:
        r = bounds(case, args.bound_steps)
        matmul = r["policy_matmul_flops_per_s"]
        print(f"| {case} | {r['params'] / 1e6:.2f}M ({r['table_params'] / 1e6:.2f}M) | {r['update_ms']:.2f} | "
              f"{of_peak(r['update_flops'], r['update_ms'])} | {r['forward_backward_ms']:.2f} | "
              f"{of_peak(r['forward_backward_flops'], r['forward_backward_ms'])} | {r['optimizer_ms']:.2f} | "
              f"{r['update_flops'] / (0.75 * peak['flops_per_s']) * 1e3:.2f} | w = {r['policy_width']}: "
              f"{matmul / 1e9:.0f} GFLOP/s ({matmul / peak['flops_per_s']:.0%}) |", flush=True)


def lambda_values(n: int) -> tuple:
    """n λ values on a log grid from 1e-3, with 0 first (the authors' sweep: 0, 1e-3 ... 10)."""
    return (0.0,) + tuple(float(v) for v in np.logspace(-3, 1, n - 1))


def bench_grid(case: str, num_policies: int, epochs: int, one_after_another: bool) -> list[dict]:
    """The policy phase of ``num_policies`` = 3 seeds x λ values as one program, and (optionally) one by one."""
    lambdas = lambda_values(num_policies // 3)
    config, data = case_config(case, 3)
    config.grid.coeff = lambdas
    fns = make_train(config, data.obs.shape[1], data.actions.shape[1])
    updates = epochs * fns.updates_per_epoch(data.num_items)["policy"]
    state = fns.init(jax.random.PRNGKey(0), data, fns.grid.hparams())
    _, first, elapsed = timed(fns.policy_epochs, state, data, epochs)
    rows = [dict(case=case, how="one program", policies=num_policies, seconds=elapsed,
                 policy_updates_per_s=num_policies * updates / elapsed, compile_s=max(0.0, first - elapsed))]
    if one_after_another:
        # One compiled 1-policy program (λ and the seed are arrays in the state), called once per policy.
        single, data1 = case_config(case, 1)
        single.diffusion.coeff = 1.0
        fns1 = make_train(single, data1.obs.shape[1], data1.actions.shape[1])
        hp = fns.grid.hparams()
        states = [fns1.init(jax.random.PRNGKey(0), data1,
                            jax.tree.map(lambda x: x[m:m + 1], hp).replace(seed=jnp.zeros(1, jnp.int32)))
                  for m in range(num_policies)]
        _, first, _ = timed(fns1.policy_epochs, states[0], data1, epochs)
        t0 = time.perf_counter()
        for s in states:
            out, _ = fns1.policy_epochs(s, data1, epochs)
            jax.block_until_ready(out)
        elapsed = time.perf_counter() - t0
        rows.append(dict(case=case, how="one after another", policies=num_policies, seconds=elapsed,
                         policy_updates_per_s=num_policies * updates / elapsed,
                         compile_s=max(0.0, first - elapsed / num_policies)))
    return rows


def main_grid(args) -> None:
    print(f"DBC policy phase: 3 seeds x λ values, {args.epochs} epochs per timed call; compile shown apart\n")
    print("| case | how | policies | seconds (all policies) | policy-updates/s | compile (s) |")
    print("|---|---|---|---|---|---|")
    for case in args.cases:
        for size in [3 * args.lambdas] + [g for g in args.grid_sizes if g != 3 * args.lambdas]:
            if size % 3:
                raise SystemExit(f"--grid-sizes: {size} is not a multiple of 3 seeds")
            for r in bench_grid(case, size, args.epochs, one_after_another=size == 3 * args.lambdas):
                print(f"| {r['case']} | {r['how']} | {r['policies']} | {r['seconds']:.2f} | "
                      f"{r['policy_updates_per_s']:,.0f} | {r['compile_s']:.1f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per timed chunk")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 3], help="numbers of vmapped seeds")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--models", nargs="+", default=["diffusion"], choices=MODEL_NAMES,
                        help="joint models (the case sets only the diffusion model's width; the others: defaults)")
    parser.add_argument("--no-squeeze", action="store_true",
                        help="vmap a lone member too (a batch of one), as training did before the squeeze")
    parser.add_argument("--bounds", action="store_true",
                        help="where the diffusion update's time goes (forward + backward, clip + Adam) and the "
                             "policy layer's matmul rate")
    parser.add_argument("--bound-steps", type=int, default=100, help="--bounds: updates per timed scan")
    parser.add_argument("--grid", action="store_true", help="one program for a grid of policies vs one by one")
    parser.add_argument("--lambdas", type=int, default=8, help="--grid: λ values (x 3 seeds)")
    parser.add_argument("--grid-sizes", type=int, nargs="*", default=[], help="--grid: more grid sizes (policies)")
    args = parser.parse_args()
    print(f"hardware: {hardware()}")
    print(f"date: {time.strftime('%Y-%m-%d')}, batch 128, {args.epochs} epochs per timed chunk\n")
    if args.grid:
        return main_grid(args)
    peak = roofline()
    print(f"roofline: {peak['flops_per_s'] / 1e9:.1f} GFLOP/s (float32 {peak['n']} x {peak['n']} matmul, best of "
          "5 calls)\n")
    if args.bounds:
        return main_bounds(args, peak)
    print("| case | phase | seeds | updates/s | seed-updates/s | MFLOP per update | GFLOP/s | of roofline | "
          "compile (s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    seen = set()
    for case, model in itertools.product(args.cases, args.models):
        for seeds in args.seeds:
            for r in bench(case, seeds, args.epochs, model, squeeze_one=not args.no_squeeze):
                key = (r["case"], r["phase"], r["seeds"])
                if key in seen:  # a shared model's pretraining does not depend on the policy seeds
                    continue
                seen.add(key)
                print(f"| {r['case']} | {r['phase']} | {r['seeds']} | {r['updates_per_s']:,.0f} | "
                      f"{r['seed_updates_per_s']:,.0f} | {r['flops_per_update'] / 1e6:,.1f} | "
                      f"{r['flops_per_s'] / 1e9:.1f} | {r['flops_per_s'] / peak['flops_per_s']:.0%} | "
                      f"{r['compile_s']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
