"""The paper's main table (BC, DBC, Diffusion Policy, Implicit BC on every task) from one command.

    make paper-table [PRESET=quick|paper|smoke] [ARGS="--rows maze:ours walker:paper --no-train"]
    python experiments/paper_table.py --preset quick

Each cell is one ``dbc_jax.train`` run (3 seeds, ``config.seed=1``) in the default workdir of ``make train`` with
the same task, algorithm, preset and data, so runs made by hand are reused. Finished cells are kept in the JSON
itself, each with its config: a recorded cell whose config is the one asked is reused without its workdir (a clean
clone regenerates the pages from the JSON alone, the paper's data included); else a finished run (its
``results.json`` written for the same config) is read, an interrupted one resumed, a missing one trained
(``--no-train``: listed as missing instead). A recorded cell not asked stays while its config is the current one;
any other (another ``--set``, a changed preset, a cell recorded before cells kept their config) is kept aside in
the JSON as stale, with its reason, never dropped, until a cell of the current config replaces it. The JSON and
the page are rewritten after every trained cell (with ``--workers``: once the workers end). Rows are (task, data):
``ours`` (the task's expert demos, ``make demos``) or ``paper`` (the released file in ``--paper-data``). A cell that
cannot be trained here (no released file, no shipped expert) and is not recorded is listed with its reason. A cell
whose training fails is listed with its error and the other cells go on; the script then writes the table and
exits with an error naming the failed cells.

For every cell it records the final evaluation and the best periodic one (each seed's best evaluation during
training, then mean ± std over seeds: the "best" convention; the paper does not say which it reports), the per-seed
numbers, the wall time, the date, the hardware, the code, the config and the command. Everything goes to one JSON file
(``docs/paper_table_<preset>.json``); the markdown (``docs/paper_table_<preset>.md``) is generated from it, and with
``--readme FILE`` the final-evaluation table goes into FILE's ``<!-- paper-table:start/end -->`` block (the project's
README leads with ``experiments/compare.py``'s table instead and has no such block).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import sys
import traceback

import numpy as np
from ml_collections import ConfigDict

import dbc_jax
from dbc_jax import distributed
from dbc_jax import estimate as estimate_lib
from dbc_jax.checkpoint import atomic_write_text, read_json
from dbc_jax.estimate import counted, duration
from dbc_jax.errors import run_cli
from dbc_jax.metrics import MetricsLog
from dbc_jax.provenance import hardware
from dbc_jax.tasks import TASKS, get_task
from dbc_jax.workdir import config_differences, saved_results

METHODS = {"dbc": "DBC", "bc": "BC", "dp": "Diffusion Policy", "ibc": "Implicit BC"}
# The paper's main table (official_dbc_spec.md section 10): mean, std over 3 seeds; success rate (%) or return.
PAPER = {
    "maze": {"bc": (92.1, 3.6), "ibc": (78.3, 6.0), "dp": (95.5, 1.9), "dbc": (95.4, 1.7)},
    "fetchpick": {"bc": (91.6, 5.8), "ibc": (69.4, 7.3), "dp": (83.9, 3.4), "dbc": (97.5, 1.9)},
    "handrotate": {"bc": (57.5, 4.7), "ibc": (13.8, 3.7), "dp": (61.7, 4.1), "dbc": (60.1, 4.4)},
    "halfcheetah": {"bc": (4873.3, 69.7), "ibc": (1563.6, 486.8), "dp": (4650.3, 59.9), "dbc": (4909.5, 73.0)},
    "walker": {"bc": (6954.4, 73.5), "ibc": (839.8, 104.2), "dp": (6479.1, 238.6), "dbc": (7034.6, 33.7)},
    "antreach": {"bc": (56.2, 4.9), "ibc": (23.7, 4.9), "dp": (61.8, 4.0), "dbc": (70.1, 4.9)},
}
LABELS = {"maze": "Maze", "fetchpick": "FetchPick", "handrotate": "HandRotate", "halfcheetah": "HalfCheetah",
          "walker": "Walker2d", "antreach": "AntReach"}
RELEASED = {"maze": "maze.pt", "halfcheetah": "halfcheetah.pt", "walker": "walker.pt"}  # the authors' files
# The headline rows: the paper's file where it was released and our demos match it (Maze); else ours.
DEFAULT_ROWS = ("maze:ours", "maze:paper", "fetchpick:ours", "handrotate:ours", "halfcheetah:paper",
                "halfcheetah:ours", "walker:paper", "walker:ours", "antreach:ours")
# Config fields a row sets in the quick preset: Walker2d's quick preset trains 150 epochs, sized for the 20
# episodes of our demos; the paper's 5 episodes get the 300 measured in docs/results.md.
ROW_SETTINGS = {("walker", "paper"): ["policy.epochs=300"]}
# What differs from the paper's protocol, per row (the table's footnotes).
ROW_NOTES = {
    "ours": "our demos, from the {source}; the authors' {what}",
    "ours:unnamed": "our demos (their file is not here to name the expert that made them: `make demos ENV={task}`); "
                    "the authors' {what}",
    "walker:ours": "20 demo episodes with DART noise σ 0.2 (clean labels), not the paper's 5: from 5 episodes of our "
                   "expert the policies fall (docs/results.md, HalfCheetah and Walker2d)",
    "handrotate:ours": "demos counted in transitions (10,000, the size of the authors' hand.pt); episodes end on "
                       "success",
}
PROTOCOL_NOTE = ("Evaluation: {episodes} complete episodes per seed from fixed reset seeds, deterministic policy. "
                 "The official loop averages whichever episodes finish first in 10 parallel envs, which favours "
                 "short (successful) ones, and feeds the first observation of each evaluation un-normalized "
                 "(official_dbc_spec.md section 5); neither is reproduced.")
SHARED_MODEL_NOTE = ("DBC: a run's three seeds share one pretrained diffusion model, as in the paper, so a DBC cell's "
                     "± is the policies' spread around one draw of that model; the draw moves DBC by more than that "
                     "(docs/results.md, FetchPick: \"How much the diffusion model's draw matters\").")
PRESET_NOTE = {"quick": "`quick` preset: CPU-sized training (each config's docstring says what it shrinks), not the "
                        "paper's epochs and widths.",
               "smoke": "`smoke` preset: toy sizes that check the pipeline; the numbers mean nothing.",
               "paper": "`paper` preset: the official hyperparameters (each config's docstring)."}


def default_paper_data() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("DBC_JAX_PAPER_DATA", os.path.join(here, "..", "..", "shared", "datasets", "dbc_paper"))


def parse_rows(items: list[str]) -> list[tuple[str, str]]:
    rows = []
    for item in items:
        task, sep, data = item.partition(":")
        if not sep or task not in TASKS or data not in ("ours", "paper"):
            raise ValueError(f"--rows {item}: expected <task>:ours or <task>:paper with a task in "
                             f"{', '.join(TASKS)}")
        rows.append((task, data))
    return rows


def row_settings(task: str, data: str, preset: str, sets: list[str] = ()) -> list[str]:
    """A row's overrides: its own quick-preset settings, then the ``--set`` items for it (:func:`sets_for`)."""
    return (ROW_SETTINGS.get((task, data), []) if preset == "quick" else []) + sets_for(task, sets)


def sets_for(task: str, items: list[str], keep_scope: bool = False) -> list[str]:
    """The ``--set`` items that apply to ``task``: ``FIELD=VALUE`` to every task, ``TASK:FIELD=VALUE`` to that
    task's rows only (a field only some tasks' configs have, e.g. ``fetchpick:data.expert.end_at_success=True``);
    the scope is dropped unless ``keep_scope`` (for a command line that reproduces the cell)."""
    out = []
    for item in items:
        scope, sep, rest = item.partition(":")
        if sep and "=" not in scope:
            if scope not in TASKS:
                raise ValueError(f"--set {item}: expected [<task>:]<field>=<value> with a task in {', '.join(TASKS)}")
            if scope == task:
                out.append(item if keep_scope else rest)
        else:
            out.append(item)
    return out


def cell_config(task: str, data: str, method: str, preset: str, seed: int, paper_data: str, overrides: list[str]):
    """The cell's config; ``overrides``: the row's settings, then ``--set``."""
    config = dbc_jax.get_config(task, preset)
    config.algo, config.seed = method, seed
    if data == "paper":
        config.data.path = os.path.join(paper_data, RELEASED[task])
    dbc_jax.configs.set_fields(config, overrides)
    return dbc_jax.configs.resolve(config)


def portable(config: ConfigDict, data: str) -> dict:
    """The config as recorded in the JSON: the paper's file by name (its folder differs between checkouts)."""
    saved = json.loads(config.to_json())
    if data == "paper":
        saved["data"]["path"] = os.path.basename(saved["data"]["path"])
    saved.pop("workdir")
    return saved


def recorded_differences(config: ConfigDict, data: str, recorded: dict, with_seeds: bool = False) -> list[str]:
    """The fields that decide a cell's scores in which a recorded cell's config differs from ``config``: those of
    training and the evaluation's (num_seeds only ``with_seeds``: for compare, a cell with fewer runs than asked is
    partial, not another)."""
    current = portable(config, data)
    recorded = dbc_jax.configs.upgrade(recorded)
    seeds = current["num_seeds"] if with_seeds else recorded["num_seeds"]
    differ = config_differences(ConfigDict({**current, "num_seeds": seeds}), recorded)
    return differ + (["eval"] if current["eval"] != recorded.get("eval") else [])


def load_ledger(path: str, script: str = "paper_table.py") -> dict:
    """The cells a JSON written by ``script`` holds: those of the table and those kept aside as stale."""
    if not os.path.exists(path):
        return {"cells": [], "stale": [], "references": {}}
    table = read_json(path)
    if not isinstance(table.get("cells"), list) or not isinstance(table.get("stale", []), list):
        raise ValueError(f"{path}: expected a JSON object with a 'cells' list (a file written by {script})")
    for i, cell in enumerate(table["cells"] + table.get("stale", [])):
        if not isinstance(cell, dict) or not all(isinstance(cell.get(k), str) for k in ("task", "data", "method")):
            raise ValueError(f"{path}: cell {i} has no task, data and method; expected a file written by {script} "
                             "(restore it from git)")
    return table


def machines(code: list) -> str:
    """The hardware of a run's sittings (as it recorded them; runs from before it did: this process's)."""
    return " + ".join(dict.fromkeys(c["hardware"] for c in code if "hardware" in c)) or hardware()


def unavailable(task: str, data: str, paper_data: str) -> str:
    """Why a row cannot exist yet ("" if it can)."""
    if data == "paper":
        if task not in RELEASED:
            return "the authors did not release this task's data"
        if not os.path.exists(os.path.join(paper_data, RELEASED[task])):
            return f"{os.path.join(paper_data, RELEASED[task])} not found (--paper-data)"
    elif get_task(task).expert == "sac":
        from dbc_jax.experts import sac

        if not os.path.exists(sac.weights_path(task)):
            return f"no shipped expert yet ({sac.weights_path(task)}; `make expert ENV={task}`)"
    return ""


def command(task: str, data: str, method: str, preset: str, seed: int, overrides: list[str]) -> str:
    args = [f"--config.seed={seed}"] if seed != 1 else []
    args += [f"--config.data.path=.../dbc_paper/{RELEASED[task]}"] if data == "paper" else []
    args += [f"--config.{item}" for item in overrides]
    text = f"make train ENV={task} ALGO={method} PRESET={preset}"
    return text + (f" ARGS={shlex.quote(' '.join(args))}" if args else "")


def best_periodic(workdir: str, metric: str) -> dict:
    """Each seed's best evaluation during training (the final one included) and its epoch."""
    evals = [r for r in MetricsLog(os.path.join(workdir, "metrics.jsonl")).records() if r["phase"] == "eval"]
    scale = 100.0 if metric == "success" else 1.0
    values = np.asarray([r[metric] for r in evals]) * scale  # [evaluations, members]
    best = values.argmax(0)
    per_seed = values.max(0)
    return {"per_seed": per_seed.tolist(), "epochs": [evals[i]["epoch"] for i in best], "evaluations": len(evals),
            "mean": float(per_seed.mean()), "std": float(per_seed.std())}


def finished_on(workdir: str) -> str:
    """The date (UTC) a finished run wrote its results."""
    when = os.path.getmtime(os.path.join(workdir, "results.json"))
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).date().isoformat()


def collect(config, data: str, saved: dict) -> dict:
    """A finished run as its cell records it: its scores, time, date, code, hardware and config (so the JSON alone
    keeps the cell: a clean clone reuses it without the workdir)."""
    workdir = config.workdir
    metric = saved["metric"]
    data_meta = {}
    if not config.data.path:
        from dbc_jax.data import load_dataset
        from dbc_jax.demos import default_data_path

        path = default_data_path(config)
        if os.path.exists(path):  # a finished run no longer needs its demo file; a copy of runs/ may come without it
            data_meta = load_dataset(path).metadata
    from dbc_jax.checkpoint import Checkpoints

    ckpt = Checkpoints(workdir)
    # Runs trained before the timings were summed over resumed sittings hold only their last sitting's seconds.
    summed = "timings" in ckpt.read_meta(ckpt.latest_step())
    ckpt.close()
    return {"final": {"per_seed": saved["per_seed"], "mean": saved["mean"], "std": saved["std"]},
            "best": best_periodic(workdir, metric), "wall_s": saved.get("timings", {}), "wall_complete": summed,
            "date": finished_on(workdir), "workdir": workdir, "demos_source": data_meta.get("source", ""),
            "code": saved.get("code", []), "hardware": machines(saved.get("code", [])),
            "config": portable(config, data)}


def demo_items(config) -> tuple[int, bool]:
    """The transitions a cell trains on, and whether that is the file's count (else at most: episodes x horizon,
    for demos not made yet)."""
    from dbc_jax.data import load_dataset
    from dbc_jax.demos import default_data_path

    path = config.data.path or default_data_path(config)
    if path.startswith("minari:") or os.path.exists(path):
        return load_dataset(path).num_transitions, True
    transitions = config.data.expert.get("num_transitions", 0) if "expert" in config.data else 0
    return transitions or config.data.num_episodes * get_task(config.env_name).horizon, False


def plan(todo: list[tuple[dict, object]]) -> dict:
    """Measure each cell's speed here (one probe per task and method: rows that differ in their data only share
    it), print what is left to train and how long it should take, and return {(task, data, method): the cell's
    plan} for the JSON."""
    speeds, plans = {}, {}
    if not todo:
        return plans
    print(f"\nMeasuring the speed of {counted(len(todo), 'cell')} on this machine ({hardware()}) ...",
          flush=True)
    for record, config in todo:
        cell = (record["task"], record["data"], record["method"])
        try:  # a cell whose plan fails is trained (or listed) anyway: its own error comes then
            task = get_task(config.env_name)
            key = (record["task"], record["method"])
            if key not in speeds:
                speeds[key] = estimate_lib.measure_speed(config, task.obs_dim, task.act_dim)
            items, exact = demo_items(config)
            done = estimate_lib.progress(config)
            speed = estimate_lib.own_speed(config, items, speeds[key], done) if done else speeds[key]
            left = estimate_lib.estimate(config, items, speed, done)
        except Exception as error:  # noqa: BLE001 -- an estimate must never cost a cell its training
            print(f"  {row_label(*cell[:2])}, {METHODS[cell[2]]}: no estimate ({type(error).__name__}: {error})")
            continue
        plans[cell] = {
            "state": f"resumes at {done.describe()}" if done else "new",
            "work": left.describe() + ("" if exact else f" (on at most {items:,} transitions: demos not made yet)"),
            "estimate_s": left.seconds, "measured": hardware()}
    print("Plan, one cell after another (upper bounds: episodes that end early evaluate faster):")
    for (task, data, method), p in plans.items():
        print(f"  {row_label(task, data)}, {METHODS[method]} ({p['state']}): {p['work']}: "
              f"about {duration(p['estimate_s'])}")
    print(f"In all: about {duration(sum(p['estimate_s'] for p in plans.values()))}. A finished cell is reused and "
          "an interrupted one resumes where it stopped, whenever the cells are trained.", flush=True)
    return plans


def missing_reason(cell_plan: dict | None = None) -> str:
    """Why a cell is not in the table: not trained yet, or (with its plan) how far it got and how long the rest
    should take on this machine."""
    if cell_plan is None:
        return "not trained yet (run without --no-train)"
    if cell_plan["state"] == "new":
        return f"not trained yet: about {duration(cell_plan['estimate_s'])} on this machine (run without --no-train)"
    return ("in progress: " + cell_plan["state"].removeprefix("resumes at ") + ", about "
            + duration(cell_plan["estimate_s"]) + " left")


def cell_key(cell: dict) -> tuple[str, str, str]:
    return cell["task"], cell["data"], cell["method"]


def table_cells(args, rows: list[tuple[str, str]], methods: list[str]) -> list[tuple[dict, object]]:
    """The cells of ``rows`` x ``methods``, as (its record for the JSON, its resolved config); a row whose data
    were never released has none."""
    cells = []
    for task, data in rows:
        if data == "paper" and task not in RELEASED:
            continue
        overrides = row_settings(task, data, args.preset, args.set)
        for method in methods:
            config = cell_config(task, data, method, args.preset, args.seed, args.paper_data, overrides)
            record = {"task": task, "data": data, "method": method, "metric": get_task(task).metric,
                      "command": command(task, data, method, args.preset, args.seed, overrides),
                      "paper": dict(zip(("mean", "std"), PAPER[task][method]))}
            if method == "dbc":  # whether its seeds share one pretrained model (the footnote says what that means)
                record["shared_model"] = bool(config[config.model].shared)
            cells.append((record, config))
    return cells


def stale_reason(config, data: str, cell: dict) -> str:
    """Why a recorded cell is not the one ``config`` would train ("": it is)."""
    if not isinstance(cell.get("config"), dict):
        return "recorded without its config (trained before cells kept theirs), so it cannot be checked"
    differ = recorded_differences(config, data, cell["config"], with_seeds=True)
    return f"recorded with another config ({', '.join(differ)} differ)" if differ else ""


def build(args, argv: list[str], json_path: str, publish=lambda table: None) -> dict:
    """Every cell asked: recorded in the JSON with the config asked (reused as it is), finished in its workdir,
    trained, or missing with its reason. A recorded cell not asked stays while its config is the current one; any
    other recorded cell is kept aside as stale (with its reason), never dropped, until a cell of the current config
    (trained, or read from its workdir) replaces it. ``publish`` writes the table after every trained cell."""
    asked_rows = parse_rows(args.rows)
    ledger = load_ledger(json_path)
    recorded = {cell_key(c): {k: v for k, v in c.items() if k != "stale_reason"}
                for c in ledger.get("stale", []) + ledger["cells"]}
    defaults = parse_rows(list(DEFAULT_ROWS))
    wanted = set(asked_rows) | {k[:2] for k in recorded}
    rows = [r for r in defaults if r in wanted] + [r for r in dict.fromkeys(asked_rows) if r not in defaults]
    asked = {cell_key(record): (record, config) for record, config in table_cells(args, asked_rows, args.methods)}
    found, why, stale, todo = {}, {}, {}, []
    for key, (record, config) in asked.items():
        old = recorded.get(key)
        stale[key] = stale_reason(config, key[1], old) if old else ""
        if old and not stale[key]:
            found[key] = {**old, **record}
            continue
        cannot = unavailable(*key[:2], args.paper_data)
        saved = None if cannot else saved_results(config)
        if saved is not None:
            found[key] = {**record, **collect(config, key[1], saved)}
        elif cannot:
            why[key] = {**record, "workdir": config.workdir, "reason": cannot}
        else:
            todo.append((record, config))
            why[key] = {**record, "workdir": config.workdir, "reason": "; ".join(
                filter(None, (stale[key], missing_reason())))}
    for key, cell in recorded.items():  # recorded, not asked: kept while their config is the current one
        if key in asked:
            continue
        try:
            here = table_cells(args, [key[:2]], [key[2]]) if key[2] in METHODS and key[0] in TASKS else []
        except ValueError as error:  # e.g. a --set field this task's config does not have
            stale[key] = f"not checked against this command: {error}"
            continue
        if not here:
            stale[key] = "not a cell of this table"
            continue
        ((record, config),) = here
        stale[key] = stale_reason(config, key[1], cell)
        if not stale[key]:
            found[key] = {**cell, **record}
    order = [(t, d, m) for t, d in rows for m in METHODS]

    def save() -> None:
        cells = [found[k] for k in order if k in found]
        table.update(tabulate(args, argv, rows, cells, [why[k] for k in order if k in why and k not in found]))
        table["stale"] = [{**c, "stale_reason": stale.get(k) or "replaced"} for k, c in recorded.items()
                          if k not in found]
        publish(table)

    table = {"preset": args.preset, "seeds": f"config.seed={args.seed}, 3 seeds trained together"}
    # What is left: trained now, or (--no-train) listed with how far it got and how long the rest should take here.
    plans = plan(todo) if todo and not args.no_plan else {}
    if args.plan_only:
        raise SystemExit(0)
    for record, config in todo:
        key = cell_key(record)
        if key in plans:
            why[key] = {**why[key], "plan": plans[key],
                        "reason": "; ".join(filter(None, (stale[key], missing_reason(plans[key]))))}
    for record, config in [] if args.no_train else todo:
        key = cell_key(record)
        print(f"\n== {row_label(*key[:2])}, {METHODS[key[2]]}: {config.workdir}", flush=True)
        try:
            found[key] = {**record, **collect(config, key[1], dbc_jax.train(config, progress=not args.quiet)
                                              .to_dict())}
        except Exception as error:  # noqa: BLE001 -- one cell's fault must not cost the others' hours
            traceback.print_exc()
            why[key] = {**record, "workdir": config.workdir, "failed": True,
                        "reason": "; ".join(filter(None, (f"failed: {type(error).__name__}: {error}", stale[key])))}
        try:
            save()  # the JSON keeps each cell as soon as it is trained
        except Exception:  # noqa: BLE001 -- the page waits for the next cell; the final save raises
            traceback.print_exc()
    save()
    return table


def tabulate(args, argv: list[str], rows: list[tuple[str, str]], cells: list[dict], missing: list[dict]) -> dict:
    """The table's fields around its cells: the protocol, the rows shown, those that cannot exist yet."""
    have = {(c["task"], c["data"]) for c in cells}
    shown = [r for r in rows if r in have or not unavailable(*r, args.paper_data)]
    quick_path = os.path.join(args.out, "paper_table_quick.json")
    compared = {}
    if args.preset == "paper" and os.path.exists(quick_path):  # what the paper preset changes, row by row
        compared = {"preset": "quick", "cells": [{k: c[k] for k in ("task", "data", "method", "final")}
                                                 for c in read_json(quick_path)["cells"]]}
    episodes = dbc_jax.get_config(rows[0][0], args.preset).eval.num_episodes if rows else 0
    return {"episodes_per_seed": episodes,
            "hardware": " + ".join(dict.fromkeys(m for c in cells for m in c.get("hardware", "").split(" + ") if m))
            or hardware(),
            "written": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
            "command": " ".join(["python experiments/paper_table.py"] + [shlex.quote(a) for a in argv]),
            "notes": {"protocol": PROTOCOL_NOTE.format(episodes=episodes), "preset": PRESET_NOTE[args.preset],
                      "shared_model": SHARED_MODEL_NOTE},
            "rows": [list(r) for r in shown], "cells": cells,
            "missing": [m for m in missing if (m["task"], m["data"]) in shown],
            "unavailable": [{"task": t, "data": d, "reason": unavailable(t, d, args.paper_data)}
                            for t, d in parse_rows(args.rows) if (t, d) not in shown],
            **({"compared_to": compared} if compared else {})}


def fmt(task: str, value: dict) -> str:
    digits = 1
    return f"{value['mean']:.{digits}f} ± {value['std']:.{digits}f}".replace("-", "−")


def row_label(task: str, data: str) -> str:
    return f"{LABELS[task]} ({'our demos' if data == 'ours' else 'paper' + chr(39) + 's data'})"


def headline(table: dict, kind: str = "final") -> str:
    """The main table: one row per (task, data), each cell ours (the paper's)."""
    cells = {(c["task"], c["data"], c["method"]): c for c in table["cells"]}
    rows = [tuple(row) for row in table["rows"]]  # every available row, trained or not
    lines = ["| task (data) | " + " | ".join(METHODS.values()) + " |", "|---" * (1 + len(METHODS)) + "|"]
    for task, data in rows:
        out = []
        for method in METHODS:
            c = cells.get((task, data, method))
            paper = fmt(task, dict(zip(("mean", "std"), PAPER[task][method])))
            out.append(f"{fmt(task, c[kind])} ({paper})" if c else f"– ({paper})")
        lines.append(f"| {row_label(task, data)} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def footnotes(table: dict) -> list[str]:
    notes = [table["notes"]["protocol"], table["notes"]["preset"]]
    if any(c["method"] == "dbc" and c["shared_model"] for c in table["cells"]):
        notes.append(table["notes"]["shared_model"])
    for task, data in dict.fromkeys((c["task"], c["data"]) for c in table["cells"]):
        if data == "ours":
            source = next((c["demos_source"] for c in table["cells"]
                           if (c["task"], c["data"]) == (task, data) and c["demos_source"]), "")
            what = ("data for this task were not released" if task not in RELEASED
                    else "released file is the paper's-data row")
            note = (ROW_NOTES["ours"].format(source=source, what=what) if source
                    else ROW_NOTES["ours:unnamed"].format(task=task, what=what))
            notes.append(f"{row_label(task, data)}: " + note
                         + (f"; {ROW_NOTES[task + ':ours']}" if task + ":ours" in ROW_NOTES else "") + ".")
    return notes


def gap_text(task: str, paper: dict, quick: dict | None, this: dict, preset: str) -> str:
    """What ``preset`` does to the gap between our mean and the paper's, in numbers."""
    def gap(cell) -> str:
        return f"{paper['mean'] - cell['mean']:+.1f}".replace("-", "−")

    spread = paper["std"] + this["std"]
    beyond = abs(paper["mean"] - this["mean"]) > spread
    text = f"{fmt(task, this)} at `{preset}`" + (f", {fmt(task, quick)} at `quick`" if quick else "")
    text += f", paper {fmt(task, paper)}: "
    if not beyond:
        return text + f"within the spread of the paper's number (gap {gap(this)}, spread {spread:.1f})"
    if quick is None:
        return text + f"a gap of {gap(this)}, beyond the spread ({spread:.1f})"
    if abs(paper["mean"] - this["mean"]) < abs(paper["mean"] - quick["mean"]):
        return text + f"narrows the gap from {gap(quick)} to {gap(this)}, still beyond the spread ({spread:.1f})"
    return text + f"does not narrow the gap ({gap(quick)} at `quick`, {gap(this)} here; spread {spread:.1f})"


def gap_paragraphs(table: dict) -> list[str]:
    """One paragraph per row with a cell at this preset: each method's gap to the paper, against ``quick``'s."""
    quick = {(c["task"], c["data"], c["method"]): c["final"] for c in table["compared_to"]["cells"]}
    cells = {(c["task"], c["data"], c["method"]): c for c in table["cells"]}
    out = []
    for task, data in (tuple(r) for r in table["rows"]):
        parts = [f"{METHODS[m]} " + gap_text(task, cells[key]["paper"], quick.get(key), cells[key]["final"],
                                              table["preset"])
                 for m in METHODS if (key := (task, data, m)) in cells]
        if parts:
            out += [f"**{row_label(task, data)}.** " + "; ".join(parts) + ".", ""]
    return out or ["No cell of this preset is finished yet (below: what is in progress and its time left).", ""]


def code_text(code: list) -> str:
    """The commits that trained a cell (several when its sittings ran different code; * = uncommitted changes)."""
    if not code or not any(c["commit"] for c in code):
        return "not recorded"
    return " + ".join(f"{c['commit'][:7]}{'*' if c['dirty'] else ''}" if c["commit"] else "unknown" for c in code)


def cell_seconds(cell: dict) -> float:
    return sum(cell["wall_s"].values())


def markdown(table: dict) -> str:
    notes = footnotes(table)
    all_summed = all(c["wall_complete"] for c in table["cells"])
    metric_text = "success rate (%) for Maze, FetchPick, HandRotate and AntReach, return for HalfCheetah and Walker2d"
    out = [f"# The paper's main table, preset `{table['preset']}`", "",
           f"Generated by `{table['command']}` from `paper_table_{table['preset']}.json` (beside this file) on "
           f"{table['written']}; do not edit by hand.", "",
           f"{table['seeds']}; {table['episodes_per_seed']} evaluation episodes per seed; mean ± std over the seeds; "
           f"{metric_text}; the paper's number in parentheses. Hardware: {table['hardware']}.", "",
           f"The cells below took {duration(sum(map(cell_seconds, table['cells'])))} of training and evaluation in "
           "all" + ("" if all_summed else " (at least: the cells marked ≥ hold only their last sitting)") + ".", "",
           "## Final evaluation", "", headline(table, "final"), "",
           "## Best periodic evaluation", "",
           "Each seed's best evaluation during training (the final one included), then mean ± std over seeds.", "",
           headline(table, "best"), "", "## Notes", ""]
    out += [f"{i}. {note}" for i, note in enumerate(notes, 1)]
    if not all_summed:
        out.append(f"{len(notes) + 1}. A wall time marked ≥ is of the run's last sitting: it was trained "
                   "before the timings were summed over resumed sittings.")
    if table.get("compared_to"):
        out += ["", f"## Does the `{table['preset']}` preset close the gap to the paper?", "",
                f"Per row and method: this preset's final mean against the `{table['compared_to']['preset']}` "
                "preset's (the current code's, [paper_table_quick.md](paper_table_quick.md)) and the paper's; the "
                "gap is the paper's mean minus ours. \"Within the spread\" means the gap is at most the two "
                "standard deviations added (3 seeds each): no difference either way is shown.", ""]
        out += gap_paragraphs(table)
    out += ["", "## Every cell", "",
            "code: the commit of each sitting that trained the run (* = with uncommitted changes to the code; up to "
            "2026-12-07, also to the pages; \"not recorded\": trained before runs recorded it).", "",
            "| task (data) | method | final, per seed | best, per seed (epoch) | wall time | date | code | command |",
            "|---|---|---|---|---|---|---|---|"]
    for c in table["cells"]:
        best = ", ".join(f"{v:.1f} ({e})" for v, e in zip(c["best"]["per_seed"], c["best"]["epochs"]))
        out.append(f"| {row_label(c['task'], c['data'])} | {METHODS[c['method']]} | "
                   f"{', '.join(f'{v:.1f}' for v in c['final']['per_seed'])} | {best} | "
                   f"{'' if c['wall_complete'] else '≥ '}{duration(cell_seconds(c))} | {c['date']} | "
                   f"{code_text(c['code'])} | `{c['command']}` |")
    if table["missing"] or table["unavailable"]:
        out += ["", "## Not in the table yet", ""]
        out += [f"- {row_label(m['task'], m['data'])}, {METHODS[m['method']]}: {m['reason']} (`{m['command']}`)"
                for m in table["missing"]]
        out += [f"- {row_label(u['task'], u['data'])}: {u['reason']}" for u in table["unavailable"]]
    return "\n".join(out) + "\n"


README_START, README_END = "<!-- paper-table:start -->", "<!-- paper-table:end -->"


def read_readme(path: str, start: str = README_START, end: str = README_END) -> str:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if start not in text or end not in text:
        raise ValueError(f"{path}: no {start} ... {end} block to replace")
    return text


def write_readme_block(path: str, block: str, start: str = README_START, end: str = README_END) -> None:
    """Replace what lies between a README's ``start`` and ``end`` markers with ``block``."""
    head, rest = read_readme(path, start, end).split(start, 1)
    _, tail = rest.split(end, 1)
    atomic_write_text(path, f"{head}{start}\n{block}\n{end}{tail}")


def update_readme(path: str, table: dict) -> None:
    write_readme_block(path, headline(table, "final"))


def table_arguments(doc: str) -> argparse.ArgumentParser:
    """The options every table of task rows x methods takes (this script's and experiments/compare.py's)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--rows", nargs="+", default=list(DEFAULT_ROWS), metavar="TASK:DATA",
                        help="rows, each <task>:ours or <task>:paper, trained in this order (default: every one)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--paper-data", default=default_paper_data(),
                        help="folder of the released maze.pt, halfcheetah.pt, walker.pt (env DBC_JAX_PAPER_DATA)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a config field for every run, e.g. --set eval.num_episodes=50, or for one task's rows, "
                             "e.g. --set fetchpick:data.expert.end_at_success=True (repeatable)")
    parser.add_argument("--no-train", action="store_true",
                        help="only recorded cells and finished runs; list the others as missing, each with the time "
                             "it should take here "
                             "(its speed measured now; an interrupted one with its progress), unless --no-plan")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--plan-only", action="store_true",
                        help="measure the cells left to train, print the plan and its time estimate, and stop")
    parser.add_argument("--no-plan", action="store_true", help="train without measuring the cells' speed first")
    distributed.add_arguments(parser)
    return parser


def main(argv=None) -> None:
    parser = table_arguments(__doc__)
    parser.add_argument("--seed", type=int, default=1, help="config.seed of every run")
    parser.add_argument("--out", default="docs", help="folder of paper_table_<preset>.json and .md")
    parser.add_argument("--readme", default="", help="also write the final-evaluation table into this README's "
                                                     f"{README_START} block")
    parser.add_argument("--workers", type=int, default=1,
                        help="train the cells in this many processes side by side, the rows dealt out by task "
                             "(a GPU: each process gets an equal share of its memory), then write one table")
    args = parser.parse_args(argv)
    parse_rows(args.rows)  # bad input fails before any training
    sets_for("", args.set)  # a --set with an unknown task scope fails before any training
    if args.workers < 1:
        raise ValueError(f"--workers: expected at least 1, got {args.workers}")
    if distributed.initialize_from(args) and args.workers > 1:
        raise ValueError("--workers and several processes (--coordinator_address, --distributed): choose one")
    if args.readme:
        read_readme(args.readme)
    argv = list(sys.argv[1:] if argv is None else argv)
    json_path = os.path.join(args.out, f"paper_table_{args.preset}.json")
    md_path = os.path.join(args.out, f"paper_table_{args.preset}.md")
    load_ledger(json_path)  # a broken JSON stops here, before any training

    def publish(table: dict) -> None:
        """The JSON, the page and the README block from the same table (process 0 writes them)."""
        if not distributed.is_writer():
            return
        os.makedirs(args.out, exist_ok=True)
        atomic_write_text(json_path, json.dumps(table, indent=2) + "\n")
        atomic_write_text(md_path, markdown(table))
        if args.readme:
            update_readme(args.readme, table)

    if args.workers > 1 and not args.no_train and not args.plan_only:
        train_side_by_side(args, argv, json_path)
        args.no_train = True  # every cell is trained now (or failed, listed by its worker): collect them
    table = build(args, argv, json_path, publish)
    if not distributed.is_writer():
        return
    print(headline(table))
    print(f"\nwritten: {json_path}, {md_path}" + (f", {args.readme}" if args.readme else ""))
    if table["missing"] or table["unavailable"]:
        print(f"not in the table: {len(table['missing'])} cells missing, "
              f"{len(table['unavailable'])} rows unavailable ({md_path})")
    failed = [m for m in table["missing"] if m.get("failed")]
    if failed:
        raise RuntimeError(f"{len(failed)} cells failed, the others were trained and written: "
                           + "; ".join(f"{m['task']}:{m['data']} {m['method']} ({m['reason']})" for m in failed))


def worker_groups(rows: list[tuple[str, str]], workers: int) -> list[list[str]]:
    """The rows dealt out to ``workers`` processes, a task's rows together (they share its demo file)."""
    tasks = list(dict.fromkeys(task for task, _ in rows))
    groups = [[] for _ in range(min(workers, len(tasks)))]
    for i, task in enumerate(tasks):
        groups[i % len(groups)] += [f"{t}:{d}" for t, d in rows if t == task]
    return groups


def train_side_by_side(args, argv: list[str], json_path: str) -> None:
    """Run this script once per group of rows in its own process, at the same time; each trains its cells into the
    same default workdirs (a cell's workdir lock keeps two writers apart) and writes its own table in a scratch
    folder. A worker that fails is named; the cells it finished count."""
    import subprocess
    import tempfile

    groups = worker_groups(parse_rows(args.rows), args.workers)
    if not args.no_plan:
        ledger = load_ledger(json_path)
        recorded = {cell_key(c): c for c in ledger.get("stale", []) + ledger["cells"]}
        plan([(record, config) for record, config in table_cells(args, parse_rows(args.rows), args.methods)
              if not unavailable(record["task"], record["data"], args.paper_data) and saved_results(config) is None
              and (cell_key(record) not in recorded or stale_reason(config, record["data"],
                                                                     recorded[cell_key(record)]))])
    keep = _without(argv, ("--rows", "--workers", "--out", "--readme"))
    env = {**os.environ, "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{0.9 / len(groups):.2f}"}  # a GPU shared evenly
    print(f"\nTraining in {len(groups)} processes side by side: " + "; ".join(" ".join(g) for g in groups),
          flush=True)
    with tempfile.TemporaryDirectory(prefix="paper_table_workers_") as scratch:
        for i in range(len(groups)):  # each worker starts from the recorded cells, so none is trained again
            os.makedirs(os.path.join(scratch, str(i)))
            if os.path.exists(json_path):
                shutil.copyfile(json_path, os.path.join(scratch, str(i), os.path.basename(json_path)))
        procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), *keep, "--no-plan", "--rows", *group,
                                   "--out", os.path.join(scratch, str(i))], env=env)
                 for i, group in enumerate(groups)]
        codes = [p.wait() for p in procs]
    failed = [" ".join(g) for g, code in zip(groups, codes) if code]
    if failed:
        print(f"workers that did not finish cleanly (their cells are listed below): {'; '.join(failed)}",
              flush=True)


def _without(argv: list[str], options: tuple[str, ...]) -> list[str]:
    """``argv`` less ``options`` and their values (``--opt value ...`` up to the next option, or ``--opt=value``)."""
    out, skipping = [], False
    for arg in argv:
        if arg.startswith("--"):
            skipping = arg.split("=", 1)[0] in options
            if skipping:
                continue
        if not skipping:
            out.append(arg)
    return out


def render(json_path: str) -> str:
    """The markdown of a saved table (tests and docs regenerate from the JSON alone)."""
    return markdown(read_json(json_path))


if __name__ == "__main__":
    run_cli(lambda argv: main(argv[1:]))
