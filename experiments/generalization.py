"""FetchPick generalization (the paper's Figure "pick", spec section 10): train each method at start/goal noise
1.25, then evaluate the same policies as the noise grows.

    python experiments/generalization.py [--preset quick] [--methods bc dbc] [--noise 1 1.25 1.5 1.75 2]

Each method is one ``dbc_jax.train`` run of ``config.num_seeds`` seeds (its default workdir, so a finished run is
reused and an interrupted one resumed), evaluated at every noise ratio r with ``noise_ratio = goal_noise_ratio = r``
on ``eval.num_episodes`` episodes per seed (at the training noise: the run's own final evaluation). The episodes at
a given r are the same for every method (same evaluation key). Writes ``<out>/table.md`` (success rate, mean +- std
over seeds, the paper's numbers beside), ``<out>/generalization.png`` (success against noise, one line per method,
a +-std band) and ``<out>/results.json``; run again, it keeps the evaluations already in ``<out>/results.json``
(same run, same episode count) and adds the missing ones. Methods: ``bc``, ``dbc``, ``dp`` (Diffusion Policy),
``ibc`` (Implicit BC).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time

import numpy as np

import dbc_jax
from dbc_jax.checkpoint import atomic_save_figure, atomic_write_text, read_json
from dbc_jax.errors import run_cli
from dbc_jax.train import evaluate_workdir

# Spec section 10 (docs/img/pick.png): success rate (%) mean, std over 3 seeds, by noise ratio.
PAPER = {
    "bc": {1.0: (92.4, 8.5), 1.25: (91.6, 5.8), 1.5: (85.5, 6.3), 1.75: (77.6, 7.1), 2.0: (67.4, 8.2)},
    "ibc": {1.0: (83.1, 3.1), 1.25: (69.4, 7.3), 1.5: (51.6, 4.2), 1.75: (36.5, 4.7), 2.0: (23.6, 3.0)},
    "dp": {1.0: (90.0, 3.5), 1.25: (83.9, 3.4), 1.5: (72.3, 6.8), 1.75: (64.1, 7.1), 2.0: (58.2, 8.2)},
    "dbc": {1.0: (99.5, 0.5), 1.25: (97.5, 1.9), 1.5: (91.5, 3.3), 1.75: (83.3, 4.8), 2.0: (73.5, 6.8)},
}
NAMES = {"bc": "BC", "dbc": "DBC", "dp": "Diffusion Policy", "ibc": "Implicit BC"}


def run(env_name: str, preset: str, methods: list[str], noises: list[float], seed: int,
        num_episodes: int | None, previous: dict | None = None, progress: bool = True) -> dict:
    """Train (or reuse) each method's run and evaluate it at every noise; returns per-seed success rates (%).
    Evaluations already in ``previous`` (an earlier results.json) for the same run and episode count are kept."""
    results = {"env": env_name, "preset": preset, "seed": seed, "noise": noises, "methods": {}}
    for method in methods:
        config = dbc_jax.get_config(env_name, preset)
        config.algo = method
        config.seed = seed
        t0 = time.time()
        trained = dbc_jax.train(config, progress=progress)
        train_s = time.time() - t0
        episodes = num_episodes or config.eval.num_episodes
        before = (previous or {}).get("methods", {}).get(method, {})
        same_run = before.get("workdir") == trained.workdir and before.get("num_episodes") == episodes
        per_noise = {}
        for noise in noises:
            if same_run and str(noise) in before["success"]:
                per_noise[str(noise)] = before["success"][str(noise)]
                continue
            if noise == config.env.noise_ratio == config.env.goal_noise_ratio and episodes == config.eval.num_episodes:
                per_noise[str(noise)] = (100 * trained.evaluation.success).tolist()  # train's own final evaluation
                continue
            t0 = time.time()
            evaluation = evaluate_workdir(trained.workdir, num_episodes,
                                          env={"noise_ratio": noise, "goal_noise_ratio": noise})
            per_seed = (100 * evaluation.evaluation.success).tolist()
            per_noise[str(noise)] = per_seed
            print(f"{method} at noise {noise}: {np.mean(per_seed):.1f} +- {np.std(per_seed):.1f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
        train_s = before["train_s"] if same_run else train_s  # a finished run only re-evaluates
        results["methods"][method] = {"workdir": trained.workdir, "train_s": train_s, "success": per_noise,
                                      "num_seeds": config.num_seeds, "num_episodes": episodes}
    return results


def markdown_table(results: dict) -> str:
    noises = results["noise"]
    lines = ["| method | " + " | ".join(f"noise {n:g}" for n in noises) + " |",
             "|---|" + "---|" * len(noises)]
    for method, r in results["methods"].items():
        cells = [f"{np.mean(r['success'][str(n)]):.1f} ± {np.std(r['success'][str(n)]):.1f}" for n in noises]
        lines.append(f"| {NAMES[method]} (ours) | " + " | ".join(cells) + " |")
    for method in results["methods"]:
        cells = [f"{PAPER[method][n][0]:.1f} ± {PAPER[method][n][1]:.1f}" if n in PAPER[method] else "–"
                 for n in noises]
        lines.append(f"| {NAMES[method]} (paper) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    noises = np.asarray(results["noise"])
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (method, r) in enumerate(results["methods"].items()):
        per_noise = np.asarray([r["success"][str(n)] for n in results["noise"]])
        mean, std = per_noise.mean(1), per_noise.std(1)
        color = f"C{i}"
        ax.plot(noises, mean, "o-", color=color, label=f"{NAMES[method]} (ours)")
        ax.fill_between(noises, mean - std, mean + std, color=color, alpha=0.2)
        paper = [PAPER[method].get(float(n), (np.nan,))[0] for n in noises]
        ax.plot(noises, paper, "x--", color=color, alpha=0.6, label=f"{NAMES[method]} (paper)")
    ax.set_xlabel("start and goal noise ratio (trained at 1.25)")
    ax.set_ylabel("success rate (%)")
    ax.set_title(f"{results['env']} generalization, preset {results['preset']}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="fetchpick", help="task (a config in dbc_jax/configs/)")
    parser.add_argument("--preset", default="quick", choices=["smoke", "quick", "paper"])
    parser.add_argument("--methods", nargs="+", default=["bc", "dbc"], choices=list(NAMES))
    parser.add_argument("--noise", nargs="+", type=float, default=[1.0, 1.25, 1.5, 1.75, 2.0],
                        help="noise ratios to evaluate at (start and goal together)")
    parser.add_argument("--seed", type=int, default=1, help="config.seed of every run")
    parser.add_argument("--episodes", type=int, default=None,
                        help="episodes per seed and noise (default: the config's)")
    parser.add_argument("--out", default=None, help="output folder (default runs/generalization_<env>_<preset>)")
    args = parser.parse_args()
    if any(n <= 0 for n in args.noise):
        parser.error(f"--noise: ratios must be > 0, got {args.noise}")
    out = args.out or os.path.join("runs", f"generalization_{args.env}_{args.preset}")
    os.makedirs(out, exist_ok=True)
    previous_path = os.path.join(out, "results.json")
    previous = read_json(previous_path) if os.path.exists(previous_path) else None
    results = run(args.env, args.preset, args.methods, args.noise, args.seed, args.episodes, previous)
    results["date"] = datetime.date.today().isoformat()
    table = markdown_table(results)
    atomic_write_text(os.path.join(out, "table.md"), table)
    atomic_write_text(os.path.join(out, "results.json"), json.dumps(results, indent=2))
    plot(results, os.path.join(out, "generalization.png"))
    print(table)
    print(f"wrote {out}/table.md, {out}/generalization.png, {out}/results.json")


if __name__ == "__main__":
    run_cli(lambda argv: main())
