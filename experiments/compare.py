"""Does DBC beat BC, Diffusion Policy and Implicit BC? Every cell from N independent runs, with intervals.

    make compare [PRESET=quick] [ARGS="--rows maze:ours --no-train --readme README.md"]
    python experiments/compare.py --preset quick --runs 10 ibc=5

The rows are the paper table's (``experiments/paper_table.py``: each task on our demos and, where the authors
released theirs, on their data). A cell is one method on one row, trained as ONE program of N members
(``config.num_seeds = N`` from ``config.seed = 1``): each member is an independent run with its own seed and, for
DBC, its own pretrained diffusion model (``diffusion.shared=False``). That is the computation of N separate
pretrainings: the members of a vmapped program never mix, and member ``s`` draws every key from its own index
(tests/test_compare.py checks that a member's scores do not depend on how many members train beside it).

Finished cells are kept in the JSON itself (``docs/compare_<preset>.json``): a cell whose recorded config equals the
one asked is reused without its workdir, so a clean clone regenerates every page from the JSON alone and a campaign
spread over machines adds cells to it. A cell not in the JSON is read from its finished workdir
(``runs/compare_<preset>/<task>-<data>_<method>``), resumed from its checkpoints if interrupted, or trained
(``--no-train``: listed as missing). The JSON is rewritten after every cell.

From the JSON come the statistics (``dbc_jax.stats``, i.e. rliable: mean and IQM per cell with 95%
stratified-bootstrap intervals; per row the probability that DBC beats each baseline; an aggregate over rows on a
normalized score and performance profiles), the page ``docs/compare_<preset>.md``, the figure
``docs/compare_<preset>.png`` and, with ``--readme``, the README's headline table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
import traceback

import numpy as np
from ml_collections import ConfigDict

import dbc_jax
from dbc_jax.checkpoint import atomic_write_text
from dbc_jax.errors import run_cli
from dbc_jax.tasks import TASKS, get_task
from dbc_jax.train import config_differences, read_json, saved_results

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_train import hardware  # noqa: E402  (experiments/ is the script's folder)
from paper_table import (DEFAULT_ROWS, LABELS, METHODS, RELEASED, default_paper_data, duration,  # noqa: E402
                         parse_rows, row_settings, unavailable)

DEFAULT_RUNS = {"dbc": 10, "bc": 10, "dp": 10, "ibc": 5}  # Implicit BC's cells are the slowest
BASELINES = ("bc", "dp", "ibc")  # each compared with DBC
RANDOM_EPISODES = 100  # episodes of the uniform random policy that anchor a return task's normalized score
REFERENCE_SEED = 1_000_000  # its reset seeds start here (the evaluation's own reset seeds start at 0)


def parse_runs(items: list[str]) -> dict:
    """``["10", "ibc=5"]`` -> runs per method: a bare number for every method, ``method=N`` for one."""
    runs = dict(DEFAULT_RUNS)
    for item in items:
        method, sep, count = item.rpartition("=")
        if not count.isdigit() or int(count) < 2 or (sep and method not in METHODS):
            raise ValueError(f"--runs {item}: expected N or <method>=N with N >= 2 and a method in "
                             f"{', '.join(METHODS)}")
        runs.update({method: int(count)} if sep else dict.fromkeys(runs, int(count)))
    return runs


def cell_config(task: str, data: str, method: str, args, runs: int) -> ConfigDict:
    """The cell's resolved config: N runs from config.seed 1, each DBC run with its own diffusion model."""
    config = dbc_jax.get_config(task, args.preset)
    config.algo, config.seed, config.num_seeds = method, 1, runs
    config[config.model].shared = False
    config.workdir = os.path.join(args.workdir, f"{task}-{data}_{method}")
    if data == "paper":
        config.data.path = os.path.join(args.paper_data, RELEASED[task])
    dbc_jax.configs.set_fields(config, row_settings(task, data, args.preset) + args.set)
    return dbc_jax.configs.resolve(config)


def portable(config: ConfigDict, data: str) -> dict:
    """The config as recorded in the JSON: the paper's file by name (its folder differs between checkouts)."""
    saved = json.loads(config.to_json())
    if data == "paper":
        saved["data"]["path"] = os.path.basename(saved["data"]["path"])
    saved.pop("workdir")
    return saved


def same_cell(config: ConfigDict, data: str, recorded: dict) -> list[str]:
    """The training fields in which a recorded cell's config differs from ``config`` (num_seeds aside: a cell
    with fewer runs than asked is a partial cell, not another one)."""
    current = ConfigDict(portable(config, data))
    current.num_seeds = recorded["num_seeds"]
    return config_differences(current, dbc_jax.configs.upgrade(recorded))


def command(task: str, data: str, method: str, args, runs: int) -> str:
    overrides = row_settings(task, data, args.preset) + args.set
    sets = "".join(f" --set {shlex.quote(item)}" for item in overrides)
    return (f"python experiments/compare.py --preset {args.preset} --rows {task}:{data} --methods {method} "
            f"--runs {method}={runs}{sets}")


def run_records(saved: dict) -> list[dict]:
    """Each run's final score, with its own evaluation noise: episodes and the standard error over them."""
    scale = 100.0 if saved["metric"] == "success" else 1.0
    episodes = np.asarray(saved["episodes"][saved["metric"]], np.float64) * scale  # [runs, episodes]
    stderr = episodes.std(1, ddof=1) / np.sqrt(episodes.shape[1])
    return [{"seed": s, "score": float(score), "episodes": int(episodes.shape[1]), "stderr": float(se)}
            for s, (score, se) in enumerate(zip(saved["per_member"], stderr))]


def collect(config: ConfigDict, data: str, saved: dict, record: dict) -> dict:
    when = datetime.datetime.fromtimestamp(os.path.getmtime(os.path.join(config.workdir, "results.json")),
                                           datetime.timezone.utc)
    return {**record, "runs": run_records(saved), "wall_s": saved.get("timings", {}), "code": saved.get("code", []),
            "date": when.date().isoformat(), "hardware": hardware(), "config": portable(config, data)}


def reference_returns(task: str) -> dict:
    """A return task's normalization (as D4RL's): a uniform random policy's mean return over RANDOM_EPISODES
    episodes of the task's env, measured here, and the return of the expert whose demos the task uses (its
    shipped card's deterministic return)."""
    import gymnasium as gym

    from dbc_jax.experts import sac

    _, card = sac.load_actor(sac.weights_path(task))
    env = gym.make(TASKS[task].env_id)
    space = env.action_space
    env.close()
    rng = np.random.default_rng(REFERENCE_SEED)
    random = sac.evaluate(None, None, TASKS[task].env_id, RANDOM_EPISODES, REFERENCE_SEED,
                          policy=lambda _, obs: rng.uniform(space.low, space.high).astype(np.float32))
    return {"random": float(random["return"].mean()), "expert": float(card["deterministic_return_mean"]),
            "random_how": f"uniform random actions, {RANDOM_EPISODES} episodes from reset seeds {REFERENCE_SEED}..",
            "expert_how": f"the shipped SAC expert's card: deterministic return over its {card['eval_episodes']} "
                          f"evaluation episodes (step {card['step']})"}


def normalized(task: str, scores, references: dict) -> np.ndarray:
    """Success rate as a fraction; a return as (R - random) / (expert - random)."""
    scores = np.asarray(scores, np.float64)
    if get_task(task).metric == "success":
        return scores / 100.0
    ref = references[task]
    return (scores - ref["random"]) / (ref["expert"] - ref["random"])


def load_ledger(path: str) -> dict:
    if not os.path.exists(path):
        return {"cells": [], "references": {}}
    table = read_json(path)
    if not isinstance(table.get("cells"), list):
        raise ValueError(f"{path}: expected a JSON object with a 'cells' list (a file written by compare.py)")
    return table


def build(args, argv: list[str], json_path: str) -> dict:
    rows = parse_rows(args.rows)
    ledger = load_ledger(json_path)
    recorded = {(c["task"], c["data"], c["method"]): c for c in ledger["cells"]}
    table = {"preset": args.preset, "runs_asked": args.runs, "hardware": hardware(),
             "command": " ".join(["python experiments/compare.py"] + [shlex.quote(a) for a in argv]),
             "rows": [list(r) for r in rows], "cells": [], "missing": [], "unavailable": [],
             "references": dict(ledger.get("references", {}))}

    def save() -> None:  # after every cell: an interrupted campaign keeps what it finished
        atomic_write_text(json_path, json.dumps(table, indent=2) + "\n")

    for task, data in rows:
        reason = unavailable(task, data, args.paper_data)
        for method in args.methods:
            runs = args.runs[method]
            config = cell_config(task, data, method, args, runs)
            record = {"task": task, "data": data, "method": method, "metric": get_task(task).metric,
                      "runs_asked": runs, "command": command(task, data, method, args, runs)}
            old = recorded.get((task, data, method))
            if old and not same_cell(config, data, old["config"]) and (len(old["runs"]) >= runs or args.no_train):
                table["cells"].append({**old, **record})
                continue
            saved = saved_results(config)
            if saved is None and not args.no_train and not reason:
                print(f"\n== {LABELS[task]} ({data}), {METHODS[method]}, {runs} runs: {config.workdir}", flush=True)
                try:
                    saved = dbc_jax.train(config, progress=not args.quiet).to_dict()
                except Exception as error:  # noqa: BLE001 -- one cell's fault must not cost the others' hours
                    traceback.print_exc()
                    table["missing"].append({**record, "reason": f"failed: {type(error).__name__}: {error}",
                                             "failed": True})
                    continue
            if saved is None:
                table["missing"].append({**record, "reason": reason or "not trained yet (run without --no-train)"})
                continue
            table["cells"].append(collect(config, data, saved, record))
            save()
        if get_task(task).metric == "return" and task not in table["references"]:
            table["references"][task] = reference_returns(task)
    save()
    return table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--rows", nargs="+", default=list(DEFAULT_ROWS), metavar="TASK:DATA",
                        help="rows, each <task>:ours or <task>:paper, trained in this order (default: all nine)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--runs", nargs="+", default=[], metavar="N|METHOD=N",
                        help="independent runs per cell: N for every method, METHOD=N for one (default: 10, ibc=5)")
    parser.add_argument("--paper-data", default=default_paper_data(),
                        help="folder of the released maze.pt, halfcheetah.pt, walker.pt (env DBC_JAX_PAPER_DATA)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config field for every run, e.g. --set eval.num_episodes=50 (repeatable)")
    parser.add_argument("--no-train", action="store_true", help="only finished cells; list the others as missing")
    parser.add_argument("--out", default="docs", help="folder of compare_<preset>.json, .md and .png")
    parser.add_argument("--workdir", default="", help="folder of the cells' runs (default runs/compare_<preset>)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    args.runs = parse_runs(args.runs)
    parse_rows(args.rows)  # bad input fails before any training
    args.workdir = args.workdir or os.path.join("runs", f"compare_{args.preset}")
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(args.out, f"compare_{args.preset}.json")
    table = build(args, list(sys.argv[1:] if argv is None else argv), json_path)
    print(f"\nwritten: {json_path}; {len(table['cells'])} cells, {len(table['missing'])} missing")


if __name__ == "__main__":
    run_cli(lambda argv: main(argv[1:]))
