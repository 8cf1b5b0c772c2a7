"""FetchPick: what separates our BC and DBC from the paper's (91.6 and 97.5), by measurement.

    python experiments/fetchpick_gap.py [--runs 10] [--no-train] [--render]

Five measurements, each written to ``docs/fetchpick_gap.{json,md}``:

1. **The demos' episodes.** The authors' file is ``pick_10000_clip.pt``: 10,000 transitions in about 303 episodes
   (ablations_and_tasks.md section 4), about 33 steps each, which the 50-step episodes that their script writes
   (spec 7.2) cannot give. Our expert's first success comes at steps 30 to 35; demos that end there fill 10,000
   steps with about 316 episodes. Measured: the step of the expert's first success over 200 episodes.
2. **Both kinds of demos, trained.** BC and DBC, N independent runs each (DBC: a diffusion model per run), at the
   ``quick`` preset on (a) our default demos (200 episodes x 50 steps, the last ~18 of each holding still at the
   goal) and (b) demos that end at their first success, 10,000 steps (``data.expert.end_at_success``,
   ``num_transitions``), through ``experiments/compare.py``. Reported: each cell's mean [95% CI], P(b > a), and
   the success at each periodic evaluation (how much the score depends on where training stops).
3. **The size of DBC's term.** From the DBC runs' training logs: the BC term (MSE), λ times the diffusion term, and
   the diffusion model's loss on expert pairs, at the end of policy training; and ``experiments/probe_model.py`` on
   the first run's model: how much worse it scores the demos' states with their actions shuffled.
4. **The official evaluation's counting.** The official loop stops once 100 episodes have finished in 10 parallel
   envs and averages those, which leaves out the episodes still running, more often long (failed) ones. Replayed
   on each run's own final episodes (success, length; 5,000 replays): the success rate that counting would report.
5. **λ at the paper's model width.** DBC on our default demos with the diffusion model as wide as the paper's (1024;
   ``quick``: 256), all else ``quick``: ``VARIANTS['paper_width']['runs']`` = 5 independent runs (each its own
   1024-wide model; about 2 h on this 2-core CPU, so 5 rather than 10), P(better than with the 256-wide model), and
   its term sizes and probe as in 3. Whether the official λ 0.5 is too weak only for our smaller model (the λ sweep
   reaches 96 at λ 10 at 256).

``--render`` rewrites the page from the JSON only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

import numpy as np

from dbc_jax import stats
from dbc_jax.checkpoint import atomic_write_text, read_json
from dbc_jax.errors import run_cli
from dbc_jax.experts.fetch import generate_demos
from dbc_jax.metrics import MetricsLog
from dbc_jax.provenance import code_version, hardware

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # noqa: E402  (the N-run cells and their ledger)
import probe_model  # noqa: E402  (what a joint model knows of the demos' actions)

VARIANTS = {  # each trained variant: compare.py --set items, its methods, its runs (None: --runs)
    "default": {"sets": [], "methods": ("bc", "dbc"), "runs": None},
    "end_at_success": {"sets": ["fetchpick:data.expert.end_at_success=True",
                                "fetchpick:data.expert.num_transitions=10000"], "methods": ("bc", "dbc"), "runs": None},
    "paper_width": {"sets": ["fetchpick:diffusion.hidden=1024"], "methods": ("dbc",), "runs": 5},
}
WIDE_PAIR = "DBC with the 1024-wide model > with the 256-wide one"
LABELS = {"default": "our default demos: 200 episodes x 50 steps",
          "end_at_success": "demos ending at their first success: 10,000 steps",
          "paper_width": f"our default demos, the diffusion model 1024 wide (the paper's width; quick has 256), "
                         f"{VARIANTS['paper_width']['runs']} runs"}
AUTHORS_EPISODES, AUTHORS_TRANSITIONS = 303, 10_000  # pick_10000_clip.pt (ablations_and_tasks.md section 4)
PAPER = {"dbc": (97.5, 1.9), "bc": (91.6, 5.8)}
BOOTSTRAP = stats.BOOTSTRAP  # the resamples of every results page (dbc_jax.stats)
OFFICIAL = {"envs": 10, "episodes": 100, "draws": 5_000, "seed": 0}


def first_success_steps(episodes: int = 200) -> np.ndarray:
    """The step (1-based) of the expert's first success in the first ``episodes`` demo draws: the lengths of
    demos that end there (the same reset draws as the default demos)."""
    demos = generate_demos(num_episodes=episodes, end_at_success=True, progress=False)
    return np.diff(demos.episode_ends, prepend=0)


def official_count(success: np.ndarray, length: np.ndarray, rng: np.random.Generator, draws: int) -> float:
    """The success rate (%) the official loop reports for a policy whose episodes are drawn from (success, length):
    10 envs each play episodes back to back; at the first step at which 100 have finished, the finished ones are
    averaged (mean over ``draws`` replays). An env starts its next episode on the step after one ends (the reset
    costs no step), as in the official rollout loop's auto-reset."""
    envs, target = OFFICIAL["envs"], OFFICIAL["episodes"]
    per_env = target  # no env can run out before the 100th episode in all has finished
    pick = rng.integers(0, len(success), size=(draws, envs, per_env))
    ends = np.cumsum(length[pick], axis=2)  # [draws, envs, episodes] the step each episode ends
    flat_ends = ends.reshape(draws, -1)
    stop = np.partition(flat_ends, target - 1, axis=1)[:, target - 1]  # the step the 100th episode finishes
    finished = flat_ends <= stop[:, None]
    won = success[pick].reshape(draws, -1)
    return float(100 * np.mean((won * finished).sum(1) / finished.sum(1)))


def term_sizes(workdir: str, coeff: float) -> dict:
    """The last policy chunk's BC term, λ times the diffusion term and the model's loss on expert pairs (means over
    the runs), and the pretrained models' final loss."""
    records = list(MetricsLog(os.path.join(workdir, "metrics.jsonl")).records())
    policy = [r for r in records if r["phase"] == "policy"][-1]
    model = [r for r in records if r["phase"] == "model"]
    return {"epoch": policy["epoch"], "bc_mse": policy["bc/mse"], "lambda": coeff,
            "lambda_term": coeff * policy["model/term"], "term": policy["model/term"],
            "model_loss_expert_pairs": policy["model/expert"], "model_loss_agent_pairs": policy["model/agent"],
            "pretraining_loss": model[-1]["model/loss"] if model else None}


def measure(args) -> dict:
    steps = first_success_steps()
    solved = steps  # every demo succeeds (failed draws are redrawn)
    table = {"demos": {"first_success_steps": steps.tolist(), "mean": float(solved.mean()),
                       "min": int(solved.min()), "max": int(solved.max()),
                       "episodes_per_10000": float(AUTHORS_TRANSITIONS / solved.mean()),
                       "authors_episodes": AUTHORS_EPISODES,
                       "authors_steps_per_episode": AUTHORS_TRANSITIONS / AUTHORS_EPISODES},
             "variants": {}, "runs": args.runs, "paper": PAPER, "bootstrap": BOOTSTRAP, "official": OFFICIAL,
             "hardware": hardware(), "code": code_version(), "date": str(datetime.date.today())}
    rng = np.random.default_rng(OFFICIAL["seed"])
    for variant, spec in VARIANTS.items():
        folder, sets, runs = os.path.join(args.workdir, variant), spec["sets"], spec["runs"] or args.runs
        argv = (["--preset", "quick", "--rows", "fetchpick:ours", "--methods", *spec["methods"], "--runs", str(runs),
                 "--workdir", folder, "--out", folder, "--no-plan"] + [a for s in sets for a in ("--set", s)])
        compare.main(argv + (["--no-train"] if args.no_train else []) + (["--quiet"] if args.quiet else []))
        ledger = read_json(os.path.join(folder, "compare_quick.json"))
        cells = {c["method"]: c for c in ledger["cells"] if c["task"] == "fetchpick" and c["method"] in spec["methods"]}
        entry = {"sets": sets, "label": LABELS[variant], "cells": {}}
        for method, cell in cells.items():
            workdir = os.path.join(folder, f"fetchpick-ours_{method}_n{runs}")
            scores = [r["score"] for r in cell["runs"]]
            row = {"runs": scores, "stats": cell["stats"], "code": cell["code"], "wall_s": cell["wall_s"],
                   "date": cell["date"], "command": cell["command"]}
            results = os.path.join(workdir, "results.json")
            if os.path.exists(results):
                episodes = read_json(results)["episodes"]
                success, length = (np.asarray(episodes[k], np.float64) for k in ("success", "length"))
                row["official_count"] = [official_count(s, n, rng, OFFICIAL["draws"]) for s, n in zip(success, length)]
                row["mean_length"] = float(length.mean())
                row["curve"] = [{"epoch": r["epoch"], "success": 100 * float(np.mean(r["success"]))}
                                for r in MetricsLog(os.path.join(workdir, "metrics.jsonl")).records()
                                if r["phase"] == "eval"]
                if method == "dbc":
                    row["terms"] = term_sizes(workdir, cell["config"]["diffusion"]["coeff"])
                    row["probe"] = probe_model.probe(workdir)
            entry["cells"][method] = row
        table["variants"][variant] = entry
    pairs = {}
    default, short = table["variants"]["default"]["cells"], table["variants"]["end_at_success"]["cells"]
    for method in ("bc", "dbc"):
        if method in default and method in short:
            name = f"{method.upper()} on demos ending at success > on our default demos"
            pairs[name] = stats.probability_of_improvement(short[method]["runs"], default[method]["runs"],
                                                           BOOTSTRAP["pairs_reps"], BOOTSTRAP["seed"])
    wide = table["variants"]["paper_width"]["cells"]
    if "dbc" in wide and "dbc" in default:
        pairs[WIDE_PAIR] = stats.probability_of_improvement(
            wide["dbc"]["runs"], default["dbc"]["runs"], BOOTSTRAP["pairs_reps"], BOOTSTRAP["seed"])
    for variant, entry in table["variants"].items():
        if {"bc", "dbc"} <= set(entry["cells"]):
            pairs[f"DBC > BC, {LABELS[variant].split(':')[0]}"] = stats.probability_of_improvement(
                entry["cells"]["dbc"]["runs"], entry["cells"]["bc"]["runs"], BOOTSTRAP["pairs_reps"],
                BOOTSTRAP["seed"])
    table["pairs"] = pairs
    return table


def markdown(table: dict) -> str:
    demos = table["demos"]
    lines = ["# FetchPick: where the gap to the paper comes from", "",
             f"Generated by `experiments/fetchpick_gap.py` from `fetchpick_gap.json` (beside this file); "
             f"{table['date']}, {table['hardware']}, written by code {table['code']['commit'][:7]}; do not edit by "
             "hand. `quick` preset, "
             f"{table['runs']} independent runs per cell unless its row says otherwise (DBC: a diffusion model per "
             "run), 100 evaluation episodes "
             "per run at start and goal noise 1.25; mean over runs [95% stratified-bootstrap interval] (rliable).",
             "", "## 1. The demos' episodes", "",
             f"Our expert's first success comes at step {demos['mean']:.1f} on average (from {demos['min']} to "
             f"{demos['max']}, {len(demos['first_success_steps'])} episodes), so demos that end there fill "
             f"10,000 steps with {demos['episodes_per_10000']:.0f} episodes. The authors' file holds 10,000 steps in "
             f"about {demos['authors_episodes']} episodes, {demos['authors_steps_per_episode']:.1f} steps each; "
             "50-step episodes, as their script writes them and as ours are, would be 200.", "",
             "## 2. Both kinds of demos, trained", "",
             "| demos | BC | DBC | DBC's runs | BC's runs |", "|---|---|---|---|---|"]
    for variant, entry in table["variants"].items():
        if variant == "paper_width":  # section 5
            continue
        cells = entry["cells"]
        lines.append(f"| {entry['label']} | " + " | ".join(
            stats.mean_text(cells[m]["stats"]) if m in cells else "–" for m in ("bc", "dbc")) + " | "
            + " | ".join(", ".join(f"{v:.0f}" for v in cells[m]["runs"]) if m in cells else "–"
                         for m in ("dbc", "bc")) + " |")
    lines.append(f"| the paper (3 seeds, mean ± std) | {PAPER['bc'][0]} ± {PAPER['bc'][1]} | "
                 f"{PAPER['dbc'][0]} ± {PAPER['dbc'][1]} | | |")
    if table["pairs"]:
        lines += ["", "Probability that a run of the first beats a run of the second [95% interval]:", ""]
        lines += [f"- {stats.improvement_text(name, p)}" for name, p in table["pairs"].items() if name != WIDE_PAIR]
    curves = [(entry["label"], m, cell["curve"]) for entry in table["variants"].values()
              for m, cell in entry["cells"].items() if cell.get("curve")]
    if curves:
        lines += ["", "Success at each periodic evaluation (policy epoch: mean over the runs); the table above is the "
                      "last one:", ""]
        lines += [f"- {label}, {m.upper()}: " + ", ".join(f"{c['epoch']}: {c['success']:.1f}" for c in curve)
                  for label, m, curve in curves]
    lines += ["", "Each cell's command, code and wall time:", ""]
    for variant, entry in table["variants"].items():
        for method, cell in entry["cells"].items():
            wall = sum(cell["wall_s"].values()) / 60
            commit = ", ".join(c["commit"][:7] + ("*" if c.get("dirty") else "") for c in cell["code"])
            lines.append(f"- {variant}, {method.upper()}: `{cell['command']}`, code {commit}, {wall:.0f} min, "
                         f"{cell['date']}")
    lines += ["", "## 3. The size of DBC's term", "",
              "At the end of policy training, mean over the runs (from each DBC run's `metrics.jsonl`):", "",
              "| demos | BC term (MSE) | λ | λ x diffusion term | model loss, expert pairs | pretraining loss |",
              "|---|---|---|---|---|---|"]
    for entry in table["variants"].values():
        t = entry["cells"].get("dbc", {}).get("terms")
        if t:
            lines.append(f"| {entry['label']} | {t['bc_mse']:.4f} | {t['lambda']:g} | {t['lambda_term']:.5f} | "
                         f"{t['model_loss_expert_pairs']:.3f} | {t['pretraining_loss']:.3f} |")
    probes = [(e["label"], e["cells"]["dbc"]["probe"]) for e in table["variants"].values()
              if e["cells"].get("dbc", {}).get("probe")]
    if probes:
        lines += ["", "The first run's diffusion model on its demos (`experiments/probe_model.py`; the official Maze "
                      "model: loss 0.313, shuffled actions 0.353, official_dbc_spec.md section 2.3):", ""]
        lines += [f"- {label}: loss {p['demo_loss']:.3f} (state dimensions {p['state_dims_loss']:.3f}, action "
                  f"dimensions {p['action_dims_loss']:.3f}); with the actions shuffled among the states "
                  f"{p['demo_loss'] + p['shuffled_gap']:.3f}, worse for {100 * p['shuffled_worse']:.0f}% of pairs"
                  for label, p in probes]
    lines += ["", "## 4. The official evaluation's counting", "",
              f"Each run's own final episodes replayed through the official stopping rule ({OFFICIAL['envs']} envs, "
              f"stop at {OFFICIAL['episodes']} finished, {OFFICIAL['draws']:,} replays), mean over the runs:", "",
              "| demos | method | ours (every episode counted) | the official counting | mean episode length |",
              "|---|---|---|---|---|"]
    for entry in table["variants"].values():
        for method, cell in entry["cells"].items():
            if "official_count" in cell:
                lines.append(f"| {entry['label']} | {method.upper()} | {cell['stats']['mean']:.1f} | "
                             f"{np.mean(cell['official_count']):.1f} | {cell['mean_length']:.1f} |")
    default, wide = (table["variants"].get(v, {}).get("cells", {}).get("dbc") for v in ("default", "paper_width"))
    lines += ["", "## 5. λ at the paper's model width", "",
              "DBC on our default demos at λ 0.5 (the official value), all else `quick`, with the diffusion model 256 "
              "wide (`quick`) or 1024 wide (the paper's); each run its own model:", "",
              "| diffusion model | DBC | runs |", "|---|---|---|"]
    for label, cell in (("256 wide (`quick`)", default), ("1024 wide (the paper's)", wide)):
        lines.append(f"| {label} | " + (f"{stats.mean_text(cell['stats'])} | "
                                        + ", ".join(f"{v:.0f}" for v in cell["runs"]) if cell else "not trained | –")
                     + " |")
    if WIDE_PAIR in table["pairs"]:
        lines += ["", f"- {stats.improvement_text(WIDE_PAIR, table['pairs'][WIDE_PAIR])}"]
    if wide:
        lines += ["", "Its periodic evaluations and command are in section 2, its term sizes and its first model's "
                      "probe in section 3, its counting in section 4."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10,
                        help=f"independent runs per cell (the 1024-wide DBC cell: {VARIANTS['paper_width']['runs']})")
    parser.add_argument("--workdir", default=os.path.join("runs", "fetchpick_gap"), help="folder of the runs")
    parser.add_argument("--out", default="docs", help="folder of fetchpick_gap.json and .md")
    parser.add_argument("--no-train", action="store_true", help="only finished cells (compare.py --no-train)")
    parser.add_argument("--render", action="store_true", help="rewrite the page from the JSON only")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    json_path, md_path = (os.path.join(args.out, f"fetchpick_gap.{ext}") for ext in ("json", "md"))
    if args.render:
        table = read_json(json_path)
    else:
        table = measure(args)
        os.makedirs(args.out, exist_ok=True)
        atomic_write_text(json_path, json.dumps(table, indent=2) + "\n")
    atomic_write_text(md_path, markdown(table))
    print(markdown(table))
    print(f"written: {md_path}" + ("" if args.render else f", {json_path}"))


if __name__ == "__main__":
    run_cli(lambda argv: main(argv[1:]))
