"""Manifold overfitting: does a joint model of (s, a) alone lose the expert as the ambient dimension grows, and
does DBC's combination with BC keep it?

    python experiments/manifold.py [--dims 8 32 128 512] [--size quick|smoke] [--workdir runs/manifold]

The paper claims that a generative model of high-dimensional data lying on a low-dimensional manifold overfits
("manifold overfitting"), and that DBC, which adds BC, does not; its setup is not published. This one is ours:

- **Expert data on a known manifold.** A latent z ~ U[-1, 1]^2; the state is ``s = W f(z)`` with the fixed features
  ``f(z) = (z1, z2, sin(pi z1), sin(pi z2), z1 z2, cos(pi z1) cos(pi z2))`` and a fixed random Gaussian map
  ``W`` [D, 6], D >= 6 (full column rank, so s determines f(z) and z); the expert action is
  ``a = (sin(pi z1) cos(pi z2), z2 - z1^2)``. So every (s, a) lies on a 2-dimensional manifold in R^(D + 2), and
  only the ambient dimension D grows. 1,000 training pairs, 2,000 held-out ones; the same draws for every method
  (data seed 0).
- **Methods,** in one harness with one preset: BC; DBC (BC + λ · the diffusion term, λ 30 as on Maze); the
  diffusion term alone (DBC with ``coeff_bc = 0``: the joint model is the only teacher); Diffusion Policy. DBC and
  the term alone are one program (``config.grid.coeff_bc = (0, 1)``) sharing one pretrained diffusion model.
- **Metric:** held-out relative action error ``E ||pi(s) - a*(s)||^2 / E ||a* - mean a*||^2`` in normalized action
  units (0: the expert; 1: no better than the mean action). Since the held-out s lie on the manifold and a* is a
  function of s, it is also the squared distance of (s, pi(s)) to the manifold along the action axes, which is
  what "leaving the manifold" costs a policy.

Writes ``<workdir>/<size>/{table.md, manifold.png, results.json}``; dimensions already in ``results.json`` (same
size) are reused, so an interrupted run continues.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import dbc_jax
from dbc_jax.checkpoint import atomic_save_figure, atomic_write_text, read_json
from dbc_jax.errors import run_cli
from dbc_jax.train import make_train
from dbc_jax.trainer import TrainData

METHODS = {"bc": "BC", "dbc": "DBC (BC + λ·diffusion)", "term": "diffusion term alone (coeff_bc 0)",
           "dp": "Diffusion Policy"}
LATENT_DIM, NUM_FEATURES = 2, 6


def features(z):
    z1, z2 = z[:, 0], z[:, 1]
    return np.stack([z1, z2, np.sin(np.pi * z1), np.sin(np.pi * z2), z1 * z2,
                     np.cos(np.pi * z1) * np.cos(np.pi * z2)], 1)


def expert_action(z):
    z1, z2 = z[:, 0], z[:, 1]
    return np.stack([np.sin(np.pi * z1) * np.cos(np.pi * z2), z2 - z1 ** 2], 1)


def manifold_data(dim: int, num_train: int, num_test: int, seed: int = 0):
    """(train obs, train actions, test obs, test actions) on the 2-D manifold embedded in R^dim."""
    rng = np.random.default_rng([seed, dim])
    embed = rng.standard_normal((dim, NUM_FEATURES)) / np.sqrt(NUM_FEATURES)
    z = rng.uniform(-1, 1, (num_train + num_test, LATENT_DIM))
    obs, actions = (features(z) @ embed.T).astype(np.float32), expert_action(z).astype(np.float32)
    return obs[:num_train], actions[:num_train], obs[num_train:], actions[num_train:]


def method_config(method: str, size: str):
    """The shared preset: Maze's quick networks and learning rates, sized for 1,000 pairs."""
    c = dbc_jax.get_config("maze", "quick" if size == "quick" else "smoke")
    c.algo = {"term": "dbc"}.get(method, method)
    c.policy.epochs = 300 if size == "quick" else 4
    c.diffusion.epochs = 1000 if size == "quick" else 4
    c.diffusion.coeff = 30.0
    c.algo_overrides.dp.policy.epochs = c.policy.epochs
    if method in ("dbc", "term"):
        c.grid.coeff_bc = (0.0, 1.0)  # the term alone and DBC, one program
    return dbc_jax.configs.resolve(c)


def relative_error(fns, state, data: TrainData, test_obs, test_actions, key) -> np.ndarray:
    """[members] held-out relative action error in normalized units."""
    obs = data.normalizer.normalize_obs(test_obs)
    target = data.normalizer.normalize_actions(test_actions)
    act = jax.jit(jax.vmap(lambda p, k: fns.act(p, obs, k, data.action_bounds)))
    members = jax.tree.leaves(state.policy_params)[0].shape[0]
    pred = act(state.policy_params, jax.random.split(key, members))
    return np.asarray(jnp.mean(jnp.sum((pred - target) ** 2, -1), -1) / jnp.mean(
        jnp.sum((target - target.mean(0)) ** 2, -1)))


def run_dim(dim: int, size: str, seed: int) -> dict:
    """{method: {"per_seed": [...], "mean", "std", "seconds"}} for one ambient dimension."""
    num_train, num_test = (1000, 2000) if size == "quick" else (256, 256)
    train_obs, train_actions, test_obs, test_actions = manifold_data(dim, num_train, num_test)
    data = TrainData.from_demos(train_obs, train_actions)
    out = {}
    for method in ("bc", "dbc", "dp"):
        config = method_config(method, size)
        config.seed = seed
        fns = make_train(config, dim, 2)
        t0 = time.perf_counter()
        state, _, _ = jax.jit(fns.run)(jax.random.PRNGKey(seed), data, fns.grid.hparams())
        errors = relative_error(fns, state, data, test_obs, test_actions, jax.random.PRNGKey(seed + 1))
        seconds = time.perf_counter() - t0
        for name, coeff_bc in ([("term", 0.0), ("dbc", 1.0)] if method == "dbc" else [(method, None)]):
            members = [i for i, m in enumerate(fns.grid.members()) if coeff_bc is None or m["coeff_bc"] == coeff_bc]
            values = errors[members]
            out[name] = {"per_seed": values.tolist(), "mean": float(values.mean()), "std": float(values.std()),
                         "seconds": seconds}
    return out


def table(results: dict, size: str, seed: int) -> str:
    dims = sorted(results, key=int)
    rows = [f"Held-out relative action error (0 = the expert, 1 = the mean action), mean ± std over 3 seeds "
            f"(config.seed {seed}); size `{size}`; written {datetime.date.today()}.", "",
            "| method | " + " | ".join(f"D = {d}" for d in dims) + " |", "|---|" + "---|" * len(dims)]
    for method, label in METHODS.items():
        rows.append(f"| {label} | " + " | ".join(
            f"{results[d][method]['mean']:.2g} ± {results[d][method]['std']:.1g}" for d in dims) + " |")
    return "\n".join(rows) + "\n"


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = sorted(results, key=int)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for method, label in METHODS.items():
        means = [results[d][method]["mean"] for d in dims]
        stds = [results[d][method]["std"] for d in dims]
        ax.errorbar([int(d) for d in dims], means, yerr=stds, marker="o", capsize=3, label=label)
    ax.set(xscale="log", yscale="log", xlabel="ambient state dimension D (the manifold is 2-D)",
           ylabel="held-out relative action error", title="Manifold overfitting")
    ax.set_xticks([int(d) for d in dims], dims)
    ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dims", type=int, nargs="+", default=[8, 32, 128, 512],
                        help=f"ambient state dimensions (>= {NUM_FEATURES})")
    parser.add_argument("--size", default="quick", choices=["quick", "smoke"])
    parser.add_argument("--seed", type=int, default=1, help="config.seed (3 seeds from it)")
    parser.add_argument("--workdir", default="runs/manifold")
    args = parser.parse_args()
    if min(args.dims) < NUM_FEATURES:
        parser.error(f"--dims: at least {NUM_FEATURES}, so that the state determines the latent")
    folder = os.path.join(args.workdir, args.size, f"seed{args.seed}")
    path = os.path.join(folder, "results.json")
    saved = read_json(path) if os.path.exists(path) else {}
    results = saved.get("results", {})
    for dim in args.dims:
        if str(dim) in results:
            print(f"D = {dim}: reused")
            continue
        t0 = time.perf_counter()
        results[str(dim)] = run_dim(dim, args.size, args.seed)
        print(f"D = {dim}: " + ", ".join(f"{m} {r['mean']:.3g}" for m, r in results[str(dim)].items())
              + f" ({time.perf_counter() - t0:.0f} s)", flush=True)
        atomic_write_text(path, json.dumps({"size": args.size, "seed": args.seed, "results": results}, indent=2))
    shown = {str(d): results[str(d)] for d in args.dims}
    text = table(shown, args.size, args.seed)
    atomic_write_text(os.path.join(folder, "table.md"), text)
    plot(shown, os.path.join(folder, "manifold.png"))
    print(text)
    print(f"wrote {folder}/table.md, manifold.png, results.json")


if __name__ == "__main__":
    run_cli(lambda argv: main())
