"""Learning from agent data (the paper's future work): how BC, DBC and Diffusion Policy degrade when the expert's
demos come mixed with a non-expert agent's episodes.

The agent is the task's own expert made mediocre by heavy action noise, executed and recorded (its labels are the
noisy actions), its failed episodes kept (``AGENTS``). The expert's demos stay whole and the agent's episodes are
added, so that they are 0%, 25% or 50% of the mixed file's transitions: a share changes only what was added, never
how much expert data there is. Each (task, share, method) cell is N independent runs (seeds 1..N, DBC with a
diffusion model per run, ``diffusion.shared=False``), trained on the mixed file as a user would (normalized with its
own statistics). Per cell: the final score's mean and IQM over runs with 95% stratified-bootstrap intervals (rliable,
``dbc_jax/stats.py``); per task and method, the probability that a run at 0% beats a run at each share (did the
agent data hurt?); per task and share, P(DBC > BC) and P(DBC > DP).

    python experiments/agent_data.py [--preset quick] [--runs 10] [--tasks maze halfcheetah] [--shares 0 25 50]
                                     [--methods bc dbc dp] [--set FIELD=VALUE] [--comparison JSON]
                                     [--no-train]

Finished cells are kept in the JSON itself (``<out>/agent_data_<preset>.json``): a cell recorded there whose config
equals the one asked (its demo file included, named by a digest of what it holds) is reused without its workdir, so
a clean clone regenerates the page from the JSON (making only the expert's demos, whose digest names each mix: other
demos, e.g. from another expert, make other mixes and so other cells) and a campaign spread over sessions adds
cells. A cell not recorded is read from its finished workdir, resumed if interrupted, or trained (``--no-train``:
listed as missing). Recorded cells not asked this time are kept where their config is still the one this command
would ask for them; any other recorded cell is kept aside as stale until one trained with the current config
replaces it. A 0% cell is the comparison's cell on the task's own demos (``docs/compare_<preset>.json``,
``--comparison``) where its config is the one asked. The mixed files go to ``data/agent_data/``, the runs to
``runs/agent_data_<preset>/``; writes ``<out>/agent_data_<preset>.{json,md,png}`` (``--out`` docs).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os

import numpy as np

import dbc_jax
from dbc_jax import stats
from dbc_jax.checkpoint import atomic_save_figure, atomic_write_text, read_json
from dbc_jax.data import concatenate, load_dataset
from dbc_jax.demos import prepare_dataset
from dbc_jax.estimate import counted
from dbc_jax.errors import run_cli
from dbc_jax.experts import generate_demos
from dbc_jax.provenance import code_version, hardware
from dbc_jax.tasks import get_task
from dbc_jax.workdir import saved_results

from compare import run_records  # experiments/: the script's folder, first on sys.path
from paper_table import portable, recorded_differences

METHODS = {"bc": "BC", "dbc": "DBC", "dp": "Diffusion Policy", "ibc": "Implicit BC"}
# The agent of each task: its expert with this much action noise, executed and recorded (clipped to the action
# bounds, as executed), failures kept.
AGENTS = {
    "maze": {"action_noise": 2.0},  # N(0, 2^2) before the [-1, 1] clip: the scripted expert solves ~68%, not 100%
    "halfcheetah": {"action_noise": 0.5},  # N(0, 0.5^2) on the SAC expert's action, clipped: return ~2,400
}
TITLES = {"maze": "Maze (our demos)", "halfcheetah": "HalfCheetah (our demos)"}
AGENT_SEED = 1000  # the agent's episodes never share a reset draw with the expert's demos (data.seed 0)
BOOTSTRAP = stats.BOOTSTRAP  # the resamples of every results page (dbc_jax.stats)


def base_config(task: str, method: str, args) -> dbc_jax.configs.ConfigDict:
    config = dbc_jax.get_config(task, args.preset)
    config.algo = method
    config.num_seeds = args.runs
    config.diffusion.shared = False  # a run is the unit: each its own diffusion model
    dbc_jax.configs.set_fields(config, args.set)
    return config


def mix_path(task: str, share: int, args) -> tuple[str, dict]:
    """Where the mix of ``share`` % agent steps lives and what it holds (made or not). Share 0 is the expert's own
    file. A mix's file name carries a digest of what it holds (the expert's demos and the agent's settings), so other
    demos or settings make another file, and runs trained on one never match the other."""
    config = dbc_jax.configs.resolve(base_config(task, "bc", args))
    expert = prepare_dataset(config, get_task(task), progress=not args.quiet)
    expert_path = dbc_jax.demos.default_data_path(config)
    info = {"expert_file": expert_path, "expert_transitions": expert.num_transitions,
            "expert_episodes": expert.num_episodes}
    if share == 0:
        return expert_path, {**info, "agent_transitions": 0}
    agent_transitions = int(round(expert.num_transitions * share / (100 - share)))
    settings = {**config.env, **(config.data.expert.to_dict() if "expert" in config.data else {}), **AGENTS[task],
                "seed": AGENT_SEED, "keep_failures": True, "num_transitions": agent_transitions,
                "num_episodes": agent_transitions}  # num_episodes: only a bound on the attempts
    wanted = {"share_percent": share, "agent_settings": settings, **info, "expert_digest": _digest(expert.actions)}
    name = f"{task}_agent{share}pct_{_digest(json.dumps(wanted, sort_keys=True))}.npz"
    return os.path.join("data", "agent_data", name), wanted


def mixed_demos(task: str, share: int, args, make: bool = True) -> tuple[str | None, dict]:
    """The task's expert demos plus agent episodes making ``share`` % of the transitions: (path, what it holds),
    made here if missing. ``make=False``: (None, ...) for a mix not made yet."""
    path, wanted = mix_path(task, share, args)
    if share == 0:
        return path, wanted
    if os.path.exists(path):
        return path, load_dataset(path).metadata
    if not make:
        return None, wanted
    settings = wanted["agent_settings"]
    print(f"Generating {settings['num_transitions']} steps of {task} agent episodes ({AGENTS[task]}) for a {share}% "
          "mix.")
    agent = generate_demos(task, progress=not args.quiet, **settings)
    metadata = {**wanted, "agent": _agent_quality(task, agent), "source": "experiments/agent_data.py"}
    concatenate([load_dataset(wanted["expert_file"]), agent], metadata).save(path)
    return path, metadata


def _digest(data) -> str:
    raw = data.encode() if isinstance(data, str) else np.ascontiguousarray(data).tobytes()
    return hashlib.sha256(raw).hexdigest()[:10]


def _agent_quality(task: str, agent) -> dict:
    """How good the agent's added episodes are: their success share (success tasks) or mean return (the last
    episode, cut at the count, counted whole)."""
    meta = agent.metadata
    quality = {"episodes": agent.num_episodes, "transitions": agent.num_transitions}
    if get_task(task).metric == "success":
        quality["success_percent"] = 100.0 * (1 - meta.get("failed_episodes", 0) / agent.num_episodes)
    else:
        quality["mean_return"] = float(np.mean(meta["episode_returns"]))
    return quality


def run_config(task: str, share: int, method: str, data_path: str, args) -> dbc_jax.configs.ConfigDict:
    config = base_config(task, method, args)
    if share:
        config.data.path = data_path
    config.workdir = os.path.join(args.workdir, f"{task}_agent{share}_{method}_n{args.runs}")
    return dbc_jax.configs.resolve(config)


def load_ledger(path: str) -> dict:
    """The cells, stale cells and mixes a JSON written by this script holds (an empty ledger if there is none);
    each entry checked here, before any training."""
    if not os.path.exists(path):
        return {"cells": [], "stale": [], "mixes": {}}
    table = read_json(path)
    if (not isinstance(table, dict) or not isinstance(table.get("cells"), list)
            or not isinstance(table.get("stale", []), list) or not isinstance(table.get("mixes", {}), dict)):
        raise ValueError(f"{path}: expected a JSON object with a 'cells' list, a 'stale' list and a 'mixes' object "
                         "(a file written by agent_data.py)")
    for part in ("cells", "stale"):
        for i, cell in enumerate(table.get(part, [])):
            problem = _cell_problem(cell)
            if problem:
                raise ValueError(f"{path}: {part}[{i}]: {problem}; regenerate it or remove the entry")
    return {"cells": table["cells"], "stale": table.get("stale", []), "mixes": table.get("mixes", {})}


def _cell_problem(cell) -> str:
    """What is wrong with a recorded cell, or '' if nothing is."""
    if not isinstance(cell, dict):
        return "expected an object"
    if cell.get("task") not in AGENTS or cell.get("method") not in METHODS:
        return f"expected a task of {list(AGENTS)} and a method of {list(METHODS)}"
    if not isinstance(cell.get("share"), int) or not 0 <= cell["share"] <= 90:
        return "expected 'share' an integer percent within 0..90"
    runs = cell.get("runs")
    if (not isinstance(runs, list) or len(runs) < 2
            or not all(isinstance(r, (int, float)) and np.isfinite(r) for r in runs)):
        return "expected 'runs' a list of at least 2 finite scores"
    if not isinstance(cell.get("config", {}), dict):
        return "expected 'config' an object"
    return ""


def load_comparison(path: str) -> dict:
    """The comparison's cells on the tasks' own demos (``experiments/compare.py``'s JSON), by (task, method), as 0%
    cells of this study; read and checked once, before any training. Empty if ``path`` is '' or absent."""
    if not path or not os.path.exists(path):
        return {}
    table = read_json(path)
    cells = table.get("cells") if isinstance(table, dict) else None
    if not isinstance(cells, list):
        raise ValueError(f"{path}: expected a JSON object with a 'cells' list (a file written by compare.py)")
    out = {}
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("data") != "ours" or cell.get("task") not in AGENTS:
            continue
        try:
            converted = _cell(cell["task"], 0, cell["method"], cell["metric"], cell["runs"],
                              f"{path}: {cell['task']}:ours {cell['method']}", cell.get("wall_s", {}),
                              cell.get("code", []), cell["config"])
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: cells[{i}]: expected runs with score, episodes and stderr, a metric and a "
                             f"config ({type(error).__name__}: {error})") from None
        problem = _cell_problem(converted)
        if problem:
            raise ValueError(f"{path}: cells[{i}]: {problem}")
        out[(cell["task"], cell["method"])] = converted
    return out


def finished_cell(task: str, share: int, method: str, config) -> dict | None:
    """A cell from its finished workdir, as recorded in the JSON; None if it has not finished."""
    saved = saved_results(config)
    if saved is None:
        return None
    return _cell(task, share, method, saved["metric"], run_records(saved), config.workdir, saved.get("timings", {}),
                 saved.get("code", []), portable(config, "ours"))


def _cell(task: str, share: int, method: str, metric: str, runs: list[dict], workdir: str, timings: dict,
          code: list, config: dict) -> dict:
    """A cell as this study records it, from per-run records (``compare.run_records``: score, episodes, stderr)."""
    scores = np.array([r["score"] for r in runs], np.float64)
    return {"task": task, "share": share, "method": method, "metric": metric, "runs": scores.tolist(),
            "episodes_per_run": int(runs[0]["episodes"]), "stderr_per_run": [float(r["stderr"]) for r in runs],
            "score": stats.mean_and_iqm(scores, BOOTSTRAP["reps"], BOOTSTRAP["seed"]), "workdir": workdir,
            "timings": timings, "code": code, "config": config}


def matches(recorded: dict | None, config, runs: int) -> bool:
    """Whether a recorded cell is the one asked: all its runs, and the same config (its demo file's name included)."""
    return (recorded is not None and "config" in recorded and len(recorded["runs"]) == runs
            and not recorded_differences(config, "ours", recorded["config"]))


def measure(args, ledger: dict, comparison: dict | None = None, publish=None) -> dict:
    """Every (task, share, method) asked: recorded in the ledger (or, at 0%, in the ``comparison``), finished in its
    workdir, trained, or missing. The ledger's other cells are kept when their config is still the one this command
    would ask for them, else kept aside as stale, as are stale cells not found again: none is ever dropped.
    ``publish(table)`` is called after each trained cell, so that what finished is saved before the next starts."""
    recorded = {(c["task"], c["share"], c["method"]): c for c in ledger["stale"] + ledger["cells"]}
    comparison = comparison or {}
    found, mixes, missing, visited = {}, {}, [], set()
    asked = {(t, s, m) for t in args.tasks for s in args.shares for m in args.methods}
    in_table = {(c["task"], c["share"], c["method"]) for c in ledger["cells"]}

    def snapshot() -> dict:
        kept = {}
        for key, c in recorded.items():
            if key in found or (key in asked and key in visited):
                continue
            if key in asked:  # not reached yet: as the ledger has it
                if key in in_table:
                    kept[key] = c
                continue
            recorded_path = c.get("config", {}).get("data", {}).get("path", "")  # not asked: in the table where
            if (matches(c, run_config(*key, recorded_path, args), args.runs)  # this command's config for it is
                    and f"{key[0]}:{key[1]}" in ledger["mixes"]):  # the one recorded
                kept[key] = c
        stale = [c for k, c in recorded.items() if k not in found and k not in kept]
        cells = sorted({**kept, **found}.values(), key=_order)
        every_mix = dict(mixes)
        for c in list(kept.values()) + stale:  # what their mixes hold, as recorded
            mix_key = f"{c['task']}:{c['share']}"
            if mix_key in ledger["mixes"]:
                every_mix.setdefault(mix_key, ledger["mixes"][mix_key])
        return {"preset": args.preset, "runs": args.runs, "shares": sorted({c["share"] for c in cells}),
                "agents": AGENTS, "set": args.set, "cells": cells, "stale": stale,
                "mixes": {k: every_mix[k] for k in sorted(every_mix, key=lambda k: (k.split(":")[0],
                                                                                    int(k.split(":")[1])))},
                "missing": missing + [f"{t} {s}% {METHODS[m]} (not trained yet)" for t in args.tasks
                                      for s in args.shares for m in args.methods
                                      if (t, s, m) not in visited and (t, s, m) not in kept],
                "comparisons": comparisons(cells), "bootstrap": BOOTSTRAP,
                "hardware": hardware(), "code": code_version(), "date": str(datetime.date.today())}

    for task in args.tasks:
        for share in args.shares:
            path, mix = mix_path(task, share, args)
            for method in args.methods:
                key = (task, share, method)
                visited.add(key)
                config = run_config(task, share, method, path, args)
                cell = finished_cell(task, share, method, config)
                if cell is None and matches(recorded.get(key), config, args.runs):
                    cell = recorded[key]
                if cell is None and share == 0 and matches(comparison.get((task, method)), config, args.runs):
                    cell = comparison[(task, method)]
                trained = cell is None and not args.no_train
                if trained:
                    mixed_demos(task, share, args)
                    print(f"\n== {task}, {share}% agent data, {METHODS[method]}: {args.runs} runs -> {config.workdir}")
                    dbc_jax.train(config, progress=not args.quiet)
                    cell = finished_cell(task, share, method, config)
                if cell is None:
                    missing.append(f"{task} {share}% {METHODS[method]} ({config.workdir})")
                    continue
                found[key] = cell
                if share and os.path.exists(path):  # what the mix holds, the agent's quality included
                    mix = load_dataset(path).metadata
                elif share:  # a recorded cell whose mix is not made on this checkout: as recorded
                    mix = ledger["mixes"].get(f"{task}:{share}", mix)
                mixes[f"{task}:{share}"] = mix
                if trained and publish is not None:
                    publish(snapshot())
    return snapshot()


def _order(cell: dict) -> tuple:
    """Tasks, shares and methods in the order this script knows them."""
    return (list(AGENTS).index(cell["task"]), cell["share"], list(METHODS).index(cell["method"]))


def comparisons(cells: list[dict]) -> list[dict]:
    """P(a run at 0% beats a run at share s) per task and method; P(DBC > BC), P(DBC > DP) per task and share."""
    by = {(c["task"], c["share"], c["method"]): c["runs"] for c in cells}
    reps, seed = BOOTSTRAP["pairs_reps"], BOOTSTRAP["seed"]
    out = []
    for (task, share, method), runs in by.items():
        clean = by.get((task, 0, method))
        if share and clean is not None:
            out.append({"task": task, "share": share, "pair": f"{METHODS[method]} at 0% > at {share}%",
                        **stats.probability_of_improvement(clean, runs, reps, seed)})
        if method == "dbc":
            for other in ("bc", "dp"):
                if (task, share, other) in by:
                    out.append({"task": task, "share": share, "pair": f"DBC > {METHODS[other]}",
                                **stats.probability_of_improvement(runs, by[(task, share, other)], reps, seed)})
    return out


def markdown(table: dict) -> str:
    lines = [f"# Learning from agent data, preset `{table['preset']}`", "",
             f"Generated by `experiments/agent_data.py` from `agent_data_{table['preset']}.json` (beside this file); "
             f"{table['date']}, {table['hardware']}, written by code {table['code']['commit'][:7]}; do not edit by "
             "hand. Each cell's runs record their own code in the JSON (`cells[].code`).", "",
             "The expert's demos whole, plus a non-expert agent's episodes making the share of the transitions in the "
             "first column. The agent is the task's expert with heavy action noise, executed and recorded, failures "
             "kept: " + "; ".join(f"{t}: action noise σ {a['action_noise']}" for t, a in table["agents"].items())
             + ". Each cell: " + f"{table['runs']} independent runs (DBC: a diffusion model per run), each run's "
             "final evaluation; mean over runs [95% stratified-bootstrap interval] (rliable)."
             + (f" Overrides: `{' '.join(table['set'])}`." if table["set"] else ""), ""]
    for task in dict.fromkeys(c["task"] for c in table["cells"]):
        cells = [c for c in table["cells"] if c["task"] == task]
        metric = cells[0]["metric"]
        digits = 1 if metric == "success" else 0
        methods = list(dict.fromkeys(c["method"] for c in cells))
        lines += [f"## {TITLES[task]}", "",
                  f"{'Success rate (%)' if metric == 'success' else 'Return'}, {cells[0]['episodes_per_run']} "
                  "evaluation episodes per run.", "",
                  "| agent share | demo file | " + " | ".join(METHODS[m] for m in methods) + " |",
                  "|---|---|" + "---|" * len(methods)]
        for share in dict.fromkeys(c["share"] for c in cells):
            mix = table["mixes"][f"{task}:{share}"]
            agent = mix.get("agent", {})
            what = f"{mix['expert_transitions']:,} expert" + ("" if agent else " steps")
            if agent:
                quality = (f"{agent['success_percent']:.0f}% successful" if "success_percent" in agent
                           else f"mean return {agent['mean_return']:.0f}")
                what += f" + {agent['transitions']:,} agent steps ({counted(agent['episodes'], 'episode')}, {quality})"
            row = {c["method"]: c for c in cells if c["share"] == share}
            scores = [stats.mean_text(row[m]["score"], digits) if m in row else "–" for m in methods]
            lines.append(f"| {share}% | {what} | " + " | ".join(scores) + " |")
        pairs = [p for p in table["comparisons"] if p["task"] == task]
        if pairs:
            lines += ["", "Probability that a run of the first beats a run of the second [95% interval]:", ""]
            for p in pairs:
                after = "" if "%" in p["pair"] else f" at {p['share']}%"  # a pair of methods at one share
                lines.append(f"- {stats.improvement_text(p['pair'], p, after)}")
        noise = ", ".join(f"{METHODS[c['method']]} {c['share']}% {np.mean(c['stderr_per_run']):.{digits}f}"
                          for c in cells)
        lines += ["", f"Per-run evaluation noise (standard error over a run's episodes, mean over runs): {noise}.", ""]
    if table["missing"]:
        lines += ["## Not trained yet", ""] + [f"- {m}" for m in table["missing"]] + [""]
    return "\n".join(lines) + "\n"


def figure(table: dict, path: str) -> None:
    """Per task: each method's mean score [95% CI] against the agent share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(c["task"] for c in table["cells"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        cells = [c for c in table["cells"] if c["task"] == task]
        for k, method in enumerate(dict.fromkeys(c["method"] for c in cells)):
            mine = sorted((c for c in cells if c["method"] == method), key=lambda c: c["share"])
            x = np.array([c["share"] for c in mine]) + (k - 1) * 0.8  # side by side, not on top of each other
            mean = np.array([c["score"]["mean"] for c in mine])
            ci = np.array([c["score"]["mean_ci"] for c in mine]).T
            ax.errorbar(x, mean, yerr=[mean - ci[0], ci[1] - mean], marker="o", capsize=3, label=METHODS[method])
        ax.set(xlabel="agent share of the transitions (%)", title=TITLES[task],
               ylabel="success rate (%)" if cells[0]["metric"] == "success" else "return")
        ax.legend(fontsize=8)
    fig.suptitle(f"Agent data ({table['preset']}): mean over {table['runs']} runs, 95% CI", fontsize=10)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=90)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--runs", type=int, default=10, help="independent runs per cell")
    parser.add_argument("--tasks", nargs="+", default=list(AGENTS), choices=list(AGENTS))
    parser.add_argument("--shares", type=int, nargs="+", default=[0, 25, 50],
                        help="agent share of the transitions, in percent (0 to 90)")
    parser.add_argument("--methods", nargs="+", default=["bc", "dbc", "dp"], choices=list(METHODS))
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config field for every run, e.g. --set eval.num_episodes=50 (repeatable)")
    parser.add_argument("--workdir", default="", help="folder of the runs (default runs/agent_data_<preset>)")
    parser.add_argument("--out", default="docs", help="folder of agent_data_<preset>.json, .md, .png")
    parser.add_argument("--comparison", default=None, metavar="JSON",
                        help="the comparison's JSON, whose cells on the task's own demos serve as 0%% cells where "
                             "their config is the one asked (default docs/compare_<preset>.json; '' for none)")
    parser.add_argument("--no-train", action="store_true", help="only the finished cells")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.runs < 2 or any(not 0 <= s <= 90 for s in args.shares):
        parser.error("--runs must be at least 2 and every --shares value within 0..90")
    for task in args.tasks:  # a bad --set fails here, before any demo or training
        base_config(task, args.methods[0], args)
    args.workdir = args.workdir or os.path.join("runs", f"agent_data_{args.preset}")
    if args.comparison is None:
        args.comparison = os.path.join("docs", f"compare_{args.preset}.json")
    stem = os.path.join(args.out, f"agent_data_{args.preset}")
    def publish(table: dict) -> None:
        os.makedirs(args.out, exist_ok=True)
        atomic_write_text(stem + ".json", json.dumps(table, indent=2) + "\n")
        atomic_write_text(stem + ".md", markdown(table))
        if table["cells"]:
            figure(table, stem + ".png")

    # a broken JSON stops here, before any training
    table = measure(args, load_ledger(stem + ".json"), load_comparison(args.comparison), publish)
    publish(table)
    print(markdown(table))
    print(f"written: {stem}.json, {stem}.md" + (f", {stem}.png" if table["cells"] else ""))


if __name__ == "__main__":
    run_cli(lambda argv: main(argv[1:]))
