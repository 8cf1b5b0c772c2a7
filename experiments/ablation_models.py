"""The paper's generative-model ablation on Maze: DBC's joint model of (s, a) is a diffusion model, an EBM, a VAE or
a GAN (``config.model``), each trained with the BC term and without it (``policy.coeff_bc = 0``), beside BC.

    python experiments/ablation_models.py [--preset quick|paper] [--models diffusion ebm vae gan] [--terms dbc]

Each cell is one ``dbc_jax.train`` run of ``config.num_seeds`` seeds in ``<workdir>/<preset>/<run>``: a finished
run (its ``results.json`` written for the same config) is reused, an interrupted one resumed. ``--terms dbc`` uses
DBC's hinge for every model; ``--terms authors`` the authors' recipe where it differs (EBM: mean |E(s, pi(s)) -
E(s, a)|; GAN: the non-saturating generator loss). Writes ``<workdir>/<preset>/table.md`` (success rate, mean +- std
over seeds, the paper's numbers beside), ``ablation_models.png`` (bars with +-std) and ``results.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os

import dbc_jax
from dbc_jax.checkpoint import atomic_save_figure, atomic_write_text
from dbc_jax.errors import run_cli
from dbc_jax.joint_models import MODEL_NAMES
from dbc_jax.workdir import saved_results

# ablations_and_tasks.md section 1: Maze success rate (%), mean and std over 3 seeds.
PAPER = {("diffusion", False): (79.6, 9.6), ("diffusion", True): (95.4, 1.7), ("ebm", False): (20.3, 11.8),
         ("ebm", True): (92.5, 3.0), ("vae", False): (53.1, 8.7), ("vae", True): (92.7, 2.7),
         ("gan", False): (54.8, 4.4), ("gan", True): (93.0, 3.5), ("bc", True): (92.1, 3.6)}
LABELS = {"diffusion": "DM (DBC)", "ebm": "EBM", "vae": "VAE", "gan": "GAN", "bc": "BC alone"}
AUTHORS_TERMS = {"ebm": "abs", "gan": "agent"}  # where the authors' policy term was not DBC's hinge


def run_configs(preset: str, models: list[str], terms: str, seed: int, root: str, overrides: list[str]) -> dict:
    """{(model, with_bc): config} of every cell, BC included as ("bc", True)."""
    cells = {}
    for model, with_bc in [(m, b) for m in models for b in (False, True)] + [("bc", True)]:
        config = dbc_jax.get_config("maze", preset)
        config.seed = seed
        if model == "bc":
            config.algo = "bc"
        else:
            config.model = model
            if terms == "authors":
                config[model].term = AUTHORS_TERMS.get(model, config[model].term)
            config.policy.coeff_bc = 1.0 if with_bc else 0.0
        dbc_jax.configs.set_fields(config, overrides)
        tag = model if model == "bc" else f"{model}_{'bc' if with_bc else 'nobc'}"
        if terms == "authors" and model in AUTHORS_TERMS:
            tag += f"_{AUTHORS_TERMS[model]}"
        config.workdir = os.path.join(root, preset, f"seed{seed}", tag)
        cells[(model, with_bc)] = config
    return cells


def table(cells: dict, results: dict, preset: str, num_episodes: int) -> str:
    def cell(key):
        if key not in results:
            return "–"
        r = results[key]
        return f"{r['mean']:.1f} ± {r['std']:.1f}"

    def paper(key):
        return "{:.1f} ± {:.1f}".format(*PAPER[key]) if key in PAPER else "–"

    rows = [f"Maze, success rate (%) over {num_episodes} episodes per seed, mean ± std over seeds; preset "
            f"`{preset}`; written {datetime.date.today()}.", "",
            "| joint model | term | ours, without BC | paper | ours, with BC | paper |", "|---|---|---|---|---|---|"]
    for model in [m for m in MODEL_NAMES if (m, True) in cells] + ["bc"]:
        term = "–" if model == "bc" else cells[(model, True)][model].term
        rows.append(f"| {LABELS[model]} | {term} | {cell((model, False)) if model != 'bc' else '–'} | "
                    f"{paper((model, False))} | {cell((model, True))} | {paper((model, True))} |")
    return "\n".join(rows) + "\n"


def plot(cells: dict, results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m in MODEL_NAMES if (m, True) in cells] + ["bc"]
    bars = [("ours, without BC", False, False, "tab:orange"), ("paper, without BC", False, True, "moccasin"),
            ("ours, with BC", True, False, "tab:blue"), ("paper, with BC", True, True, "lightsteelblue")]
    width = 0.2
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, (label, with_bc, is_paper, color) in enumerate(bars):
        xs, means, stds = [], [], []
        for j, model in enumerate(models):
            key = (model, with_bc)
            source = PAPER.get(key) if is_paper else (results[key]["mean"], results[key]["std"]) \
                if key in results else None
            if source is not None:
                xs.append(j + (i - 1.5) * width)
                means.append(source[0])
                stds.append(source[1])
        ax.bar(xs, means, width, yerr=stds, capsize=3, color=color, label=label, edgecolor="k", linewidth=0.5)
    ax.set_xticks(range(len(models)), [LABELS[m] for m in models])
    ax.set(ylabel="success rate (%)", ylim=(0, 105), title="Maze: the joint model in DBC's term")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--models", nargs="+", default=list(MODEL_NAMES), choices=MODEL_NAMES)
    parser.add_argument("--terms", default="dbc", choices=("dbc", "authors"),
                        help="dbc: DBC's hinge for every model; authors: EBM abs, GAN non-saturating loss")
    parser.add_argument("--seed", type=int, default=1, help="config.seed of every run")
    parser.add_argument("--workdir", default="runs/ablation_models", help="root of the runs and the outputs")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config field for every run, e.g. --set eval.every_epochs=500 (repeatable)")
    parser.add_argument("--no-train", action="store_true", help="write the table from finished runs only")
    args = parser.parse_args()

    cells = run_configs(args.preset, args.models, args.terms, args.seed, args.workdir, args.set)
    results = {}
    for key, config in cells.items():
        saved = saved_results(config)
        if saved is None and not args.no_train:
            what = "BC" if key[0] == "bc" else f"{LABELS[key[0]]}, {'with' if key[1] else 'without'} BC"
            print(f"\n== {what}: {config.workdir}", flush=True)
            saved = dbc_jax.train(config).to_dict()
        if saved is not None:
            results[key] = saved
    out = os.path.join(args.workdir, args.preset, f"seed{args.seed}")
    os.makedirs(out, exist_ok=True)
    episodes = next(iter(cells.values())).eval.num_episodes
    text = table(cells, results, args.preset, episodes)
    atomic_write_text(os.path.join(out, "table.md"), text)
    plot(cells, results, os.path.join(out, "ablation_models.png"))
    atomic_write_text(os.path.join(out, "results.json"), json.dumps(
        {"preset": args.preset, "seed": args.seed, "terms": args.terms,
         "runs": [{"model": m, "with_bc": b, **results[(m, b)]} for (m, b) in cells if (m, b) in results]},
        indent=2))
    print("\n" + text)
    print(f"written: {out}/table.md, ablation_models.png, results.json")


if __name__ == "__main__":
    run_cli(lambda argv: main())
