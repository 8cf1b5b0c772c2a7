"""Whether a change leaves training bit for bit the same: train a fixed set of smoke configs with the dbc_jax first
on ``sys.path``, keep every final parameter array and every metrics record, and compare two such sets exactly.

    git worktree add /tmp/before <commit>                       # the code before the change
    PYTHONPATH=/tmp/before python experiments/same_results.py run /tmp/same/before
    python experiments/same_results.py run /tmp/same/after      # this checkout
    python experiments/same_results.py compare /tmp/same/before /tmp/same/after

The cases: Maze with each algorithm, a λ grid, the EBM and the online GAN, one diffusion model per seed, FetchPick
and HalfCheetah DBC, and a run resumed after its newest checkpoint was removed (compared with the uninterrupted
one). The demos are made once, by the first ``run``, into ``<out>/../data``, so both sides train on the same files.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil

import jax
import numpy as np

import dbc_jax

CASES = {
    "maze_dbc": ("maze", "dbc", {}), "maze_bc": ("maze", "bc", {}), "maze_dp": ("maze", "dp", {}),
    "maze_ibc": ("maze", "ibc", {}), "maze_grid": ("maze", "dbc", {"grid.coeff": (0.0, 1.0, 30.0)}),
    "maze_gan": ("maze", "dbc", {"model": "gan"}), "maze_ebm": ("maze", "dbc", {"model": "ebm"}),
    "maze_per_seed_model": ("maze", "dbc", {"diffusion.shared": False}),
    "fetchpick_dbc": ("fetchpick", "dbc", {}), "halfcheetah_dbc": ("halfcheetah", "dbc", {}),
}


def _imports():
    """make_demos and restore_workdir, where this checkout keeps them (train.py before the split of issue 33)."""
    try:
        from dbc_jax.demos import make_demos
        from dbc_jax.workdir import restore_workdir
    except ImportError:
        from dbc_jax.train import make_demos, restore_workdir
    return make_demos, restore_workdir


def _config(task: str, algo: str, fields: dict, data_dir: str, workdir: str):
    make_demos, _ = _imports()
    config = dbc_jax.get_config(task, "smoke")
    config.algo = algo
    for field, value in fields.items():
        *sections, name = field.split(".")
        target = config
        for section in sections:
            target = target[section]
        target[name] = value
    config.data.path = os.path.join(data_dir, f"{task}_smoke.npz")
    if not os.path.exists(config.data.path):
        make_demos(config, config.data.path, progress=False)
    config.workdir, config.log.tensorboard = workdir, False
    return config


def _outcome(results, workdir: str) -> dict:
    _, restore_workdir = _imports()
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f]
    state = restore_workdir(workdir)[1]
    return {"records": records, "per_member": [float(v) for v in results.per_member],
            "arrays": [np.asarray(x) for x in jax.tree.leaves((state.policy_params, state.model))]}


def run(out: str) -> None:
    data_dir = os.path.join(os.path.dirname(os.path.abspath(out)), "data")
    os.makedirs(data_dir, exist_ok=True)
    outcome = {}
    for name, (task, algo, fields) in CASES.items():
        config = _config(task, algo, fields, data_dir, os.path.join(out, name))
        outcome[name] = _outcome(dbc_jax.train(config, progress=False), config.workdir)
        print(name, outcome[name]["per_member"], flush=True)
    resumed = os.path.join(out, "maze_dbc_resumed")
    shutil.copytree(os.path.join(out, "maze_dbc"), resumed)
    steps = sorted(int(d) for d in os.listdir(os.path.join(resumed, "checkpoints")) if d.isdigit())
    shutil.rmtree(os.path.join(resumed, "checkpoints", str(steps[-1])))
    os.remove(os.path.join(resumed, "results.json"))
    config = _config("maze", "dbc", {}, data_dir, resumed)
    outcome["maze_dbc_resumed"] = _outcome(dbc_jax.train(config, progress=False), resumed)
    with open(os.path.join(out, "outcome.pkl"), "wb") as f:
        pickle.dump(outcome, f)


def compare(before: str, after: str) -> int:
    """Print, per case, how many arrays and records differ; the total."""
    a, b = (pickle.load(open(os.path.join(d, "outcome.pkl"), "rb")) for d in (before, after))
    a = {**a, "maze_dbc_resumed": a.get("maze_dbc_resumed") or a["maze_dbc"]}  # or the uninterrupted run
    total = 0
    for name in a:
        x, y = a[name], b[name]
        arrays = sum(not np.array_equal(p, q) for p, q in zip(x["arrays"], y["arrays"]))
        arrays += abs(len(x["arrays"]) - len(y["arrays"]))
        records = sum(p != q for p, q in zip(x["records"], y["records"])) + abs(len(x["records"]) - len(y["records"]))
        print(f"{name}: {len(x['arrays'])} arrays, {arrays} differ; {len(x['records'])} records, {records} differ")
        total += arrays + records
    print(f"differing arrays and records in all: {total}")
    return total


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="train the cases into OUT").add_argument("out")
    cmp = sub.add_parser("compare", help="compare two runs' outcomes exactly")
    cmp.add_argument("before")
    cmp.add_argument("after")
    args = parser.parse_args(argv)
    if args.command == "run":
        run(args.out)
    elif compare(args.before, args.after):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
