"""Does DBC beat BC, Diffusion Policy and Implicit BC? Every cell from N independent runs, with intervals.

    make compare [PRESET=quick] [ARGS="--rows maze:ours --no-train --readme README.md"]
    python experiments/compare.py --preset quick --runs 10 ibc=5

The rows are the paper table's (``experiments/paper_table.py``: each task on our demos and, where the authors
released theirs, on their data). A cell is one method on one row, trained as ONE program of N members
(``config.num_seeds = N`` from ``config.seed = 1``): each member is an independent run with its own seed and, for
DBC, its own pretrained diffusion model (``diffusion.shared=False``). That is the computation of N separate
pretrainings: the members of a vmapped program never mix, and member ``s`` draws every key from its own index
(tests/test_compare.py checks that a member's losses do not depend on how many members train beside it).

Finished cells are kept in the JSON itself (``docs/compare_<preset>.json``): a cell whose recorded config equals the
one asked is reused without its workdir, so a clean clone regenerates every page from the JSON alone and a campaign
spread over machines and sessions adds cells to it. A cell not in the JSON is read from its finished workdir
(``runs/compare_<preset>/<task>-<data>_<method>_n<N>``), resumed from its checkpoints if interrupted, or trained
(``--no-train``: listed as missing; a cell asked by ``--rows`` and ``--methods`` also with how far it got and the
time the rest should take on this machine, measured now, unless ``--no-plan``). A
recorded cell whose config no longer matches (another ``--set``, a changed preset) is kept aside in the JSON as
stale, never dropped, until a cell trained with the current config replaces it. The JSON and the pages are
rewritten after every cell.

From the JSON come the statistics (``dbc_jax.stats``, i.e. rliable: mean and IQM per cell with 95%
stratified-bootstrap intervals; per row the probability that DBC beats each baseline; an aggregate over rows on a
normalized score and performance profiles), the page ``docs/compare_<preset>.md``, the figure
``docs/compare_<preset>.png`` and, with ``--readme``, the README's headline table.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import traceback

import numpy as np
from ml_collections import ConfigDict

import dbc_jax
from dbc_jax import distributed, stats
from dbc_jax.checkpoint import atomic_save_figure, atomic_write_text, read_json
from dbc_jax.errors import run_cli
from dbc_jax.estimate import counted
from dbc_jax.tasks import TASKS, get_task
from dbc_jax.workdir import saved_results

import paper_table  # experiments/: the script's folder, first on sys.path
from paper_table import (DEFAULT_ROWS, LABELS, METHODS, cell_seconds, code_text, duration, finished_on, machines,
                         parse_rows, plan, portable, read_readme, recorded_differences, row_label, row_settings,
                         unavailable, write_readme_block)

DEFAULT_RUNS = {"dbc": 10, "bc": 10, "dp": 10, "ibc": 5}  # Implicit BC's cells are the slowest
BASELINES = ("bc", "dp", "ibc")  # each compared with DBC
RANDOM_EPISODES = 100  # episodes of the uniform random policy that anchor a return task's normalized score
REFERENCE_SEED = 1_000_000  # its reset seeds start here (the evaluation's own reset seeds start at 0)
BOOTSTRAP = stats.BOOTSTRAP  # the resamples of every results page (dbc_jax.stats)
PROFILE_TAUS = np.linspace(0.0, 1.2, 61)  # normalized-score thresholds of the performance profiles


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
    """The cell's resolved config: N runs from config.seed 1, each with its own joint model (DBC's diffusion model,
    or the EBM or VAE of ``--set model=...``), in a workdir named for N."""
    independent = [f"num_seeds={runs}", "workdir=" + os.path.join(args.workdir, f"{task}-{data}_{method}_n{runs}")]
    independent += [f"{model}.shared=False" for model in ("diffusion", "ebm", "vae")]
    return paper_table.cell_config(task, data, method, args.preset, 1, args.paper_data,
                                   row_settings(task, data, args.preset, args.set) + independent)


def command(task: str, data: str, method: str, args, runs: int) -> str:
    overrides = row_settings(task, data, args.preset) + paper_table.sets_for(task, args.set, keep_scope=True)
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
    """A finished cell as recorded: its runs, time, code, date and hardware (each sitting's, as the run recorded
    it; runs from before it did: this process's)."""
    code = saved.get("code", [])
    return {**record, "runs": run_records(saved), "wall_s": saved.get("timings", {}), "code": code,
            "date": finished_on(config.workdir), "hardware": machines(code), "config": portable(config, data)}


def reference_returns(task: str) -> dict:
    """A return task's normalization (as D4RL's): a uniform random policy's mean return over RANDOM_EPISODES
    episodes of the task's env, measured here, and our expert's return (the shipped SAC expert's card). The
    paper's-data row uses the same two: the return of the authors' expert is not known here."""
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


def build(args, argv: list[str], json_path: str, publish) -> dict:
    """Every row x method: a recorded cell (from the JSON), a finished workdir, a trained cell (those asked by
    ``--rows`` and ``--methods``, in that order) or a missing one with its reason. A recorded cell whose config no
    longer matches is kept aside as stale, never dropped, until a cell trained with the current config replaces it."""
    asked = parse_rows(args.rows)
    every_row = list(dict.fromkeys(parse_rows(list(DEFAULT_ROWS)) + asked))
    ledger = paper_table.load_ledger(json_path, "compare.py")
    recorded = {(c["task"], c["data"], c["method"]): c for c in ledger.get("stale", []) + ledger["cells"]}
    table = {"preset": args.preset, "runs_asked": args.runs,
             "command": " ".join(["python experiments/compare.py"] + [shlex.quote(a) for a in argv]),
             "rows": [list(r) for r in every_row], "references": dict(ledger.get("references", {}))}
    keys = [(t, d, m) for t, d in every_row for m in METHODS]
    found, why, configs, records = {}, {}, {}, {}
    detail = {}  # what is known of a missing cell besides "not trained yet": unavailable, another config, partial

    def save() -> None:
        table["cells"] = [found[k] for k in keys if k in found]
        table["missing"] = [why[k] for k in keys if k in why]  # partial cells too, with how many runs they lack
        table["stale"] = [c for k, c in recorded.items() if k not in found]
        if distributed.is_writer():
            atomic_write_text(json_path, json.dumps(table, indent=2) + "\n")

    for key in keys:  # first what needs no training
        task, data, method = key
        runs = args.runs[method]
        configs[key] = config = cell_config(task, data, method, args, runs)
        records[key] = record = {"task": task, "data": data, "method": method, "metric": get_task(task).metric,
                                 "runs_asked": runs, "command": command(task, data, method, args, runs)}
        trains = ((task, data) in asked and method in args.methods and not args.no_train
                  and not unavailable(task, data, args.paper_data))
        old = recorded.get(key)
        differ = recorded_differences(config, data, old["config"]) if old else []
        matches = old is not None and not differ
        saved = None if matches and len(old["runs"]) == runs else saved_results(config)
        if saved is not None:
            found[key] = collect(config, data, saved, record)
        elif matches and (len(old["runs"]) == runs or (len(old["runs"]) < runs and not trains)):
            found[key] = {**old, **record}
            if len(old["runs"]) < runs:
                detail[key] = (f"{len(old['runs'])} of {runs} runs recorded (run without --no-train to train the "
                               "cell with all of them)")
                why[key] = {**record, "reason": detail[key]}
        else:
            detail[key] = (unavailable(task, data, args.paper_data)
                           or (f"recorded with another config ({', '.join(differ)} differ)" if differ else ""))
            why[key] = {**record, "reason": detail[key] or paper_table.missing_reason()}
    left = [key for key in ((t, d, m) for t, d in asked for m in args.methods)  # asked, not finished, trainable
            if not ((key in found and key not in why) or unavailable(*key[:2], args.paper_data))]
    plans = plan([(records[key], configs[key]) for key in left]) if left and not args.no_plan else {}
    to_train = [] if args.no_train else left
    for key in left:  # --no-train: listed with how far it got and how long the rest should take here
        if key in plans:  # the plan's progress and time replace "not trained yet", after what else is known
            told = paper_table.missing_reason(plans[key])
            why[key] = {**why[key], "plan": plans[key], "reason": f"{detail[key]}; {told}" if detail.get(key) else told}
    if args.plan_only:
        raise SystemExit(0)
    for key in to_train:
        task, data, method = key
        config = configs[key]
        print(f"\n== {LABELS[task]} ({data}), {METHODS[method]}, {args.runs[method]} runs: {config.workdir}",
              flush=True)
        try:
            found[key] = collect(config, data, dbc_jax.train(config, progress=not args.quiet).to_dict(),
                                 records[key])
            why.pop(key, None)
        except Exception as error:  # noqa: BLE001 -- one cell's fault must not cost the others' hours
            traceback.print_exc()
            why[key] = {**records[key], "reason": f"failed: {type(error).__name__}: {error}", "failed": True}
        save()  # the cells first: a fault in the statistics below must not lose them
        try:
            publish(table)
        except Exception:  # noqa: BLE001 -- the pages wait for the next cell; the final publish raises
            traceback.print_exc()
    save()
    return table


def ordered_rows(table: dict) -> list[tuple[str, str]]:
    return [tuple(r) for r in table["rows"]]


def scores(cell: dict) -> np.ndarray:
    return np.asarray([r["score"] for r in cell["runs"]], np.float64)


def complete(cell: dict) -> bool:
    return len(cell["runs"]) >= cell["runs_asked"]


def analyze(table: dict) -> None:
    """Add the statistics to the table: per cell, per row and pair, and over the rows whose cells are complete."""
    for task in dict.fromkeys(c["task"] for c in table["cells"]):
        if get_task(task).metric == "return" and task not in table["references"]:
            table["references"][task] = reference_returns(task)
    reps, pairs_reps, seed = BOOTSTRAP["reps"], BOOTSTRAP["pairs_reps"], BOOTSTRAP["seed"]
    table["bootstrap"] = {**BOOTSTRAP, "confidence": stats.CONFIDENCE, "method": stats.METHOD,
                          "library": f"rliable {_version('rliable')}"}
    cells = {(c["task"], c["data"], c["method"]): c for c in table["cells"]}
    for cell in table["cells"]:
        x = scores(cell)
        stderr = np.asarray([r["stderr"] for r in cell["runs"]])
        cell["stats"] = {"n": len(x), "std": float(x.std(ddof=1)), "episodes": cell["runs"][0]["episodes"],
                         "eval_stderr": float(np.sqrt(np.mean(stderr ** 2))),  # a typical run's own noise
                         **stats.mean_and_iqm(x, reps, seed)}
    table["comparisons"] = []
    for task, data in ordered_rows(table):
        dbc = cells.get((task, data, "dbc"))
        for base in BASELINES:
            other = cells.get((task, data, base))
            if dbc and other and complete(dbc) and complete(other):
                table["comparisons"].append({"task": task, "data": data, "baseline": base,
                                             **stats.probability_of_improvement(scores(dbc), scores(other),
                                                                                pairs_reps, seed)})
    full = [r for r in ordered_rows(table) if all((*r, m) in cells and complete(cells[(*r, m)]) for m in METHODS)]
    table["aggregate"] = {"rows": [list(r) for r in full], "methods": {}, "improvement": {}, "profiles": {}}
    if len(full) < 2:
        return
    runs = {m: min(len(cells[(*r, m)]["runs"]) for r in full) for m in METHODS}
    normed = {m: np.stack([normalized(r[0], scores(cells[(*r, m)])[:runs[m]], table["references"]) for r in full],
                          axis=1) for m in METHODS}  # [runs, rows]
    aggregate = table["aggregate"]
    aggregate["methods"] = {m: {"runs": runs[m], **stats.mean_and_iqm(normed[m], reps, seed)} for m in METHODS}
    aggregate["improvement"] = {b: stats.probability_of_improvement(normed["dbc"], normed[b], pairs_reps, seed)
                                for b in BASELINES}
    profiles, bands = stats.performance_profiles({METHODS[m]: normed[m] for m in METHODS}, PROFILE_TAUS,
                                                 pairs_reps, seed)
    aggregate["profiles"] = {"taus": PROFILE_TAUS.tolist(),
                             **{name: {"fraction": profiles[name].tolist(), "band": bands[name].tolist()}
                                for name in profiles}}


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def percentile_coverage(n: int) -> float:
    """The real coverage of a 95% percentile-bootstrap interval of a mean of n normal draws: it is about the
    plug-in interval mean +- 1.96 sd_ddof0 / sqrt(n), which covers with P(|t_(n-1)| <= 1.96 sqrt((n-1)/n))."""
    from scipy import stats as scipy_stats

    z = scipy_stats.norm.ppf(0.5 + stats.CONFIDENCE / 2)
    return float(2 * scipy_stats.t.cdf(z * np.sqrt((n - 1) / n), n - 1) - 1)


def digits(task: str) -> int:
    return 1 if get_task(task).metric == "success" else 0


def cell_text(cell: dict | None, kind: str = "mean") -> str:
    if cell is None:
        return "–"
    text = stats.interval_text(cell["stats"][kind], cell["stats"][f"{kind}_ci"], digits(cell["task"]))
    return text + ("" if complete(cell) else f" ({len(cell['runs'])} of {cell['runs_asked']} runs)")


def poi_text(comparison: dict | None) -> str:
    return "–" if comparison is None else stats.interval_text(comparison["p"], comparison["ci"], 2)


def headline(table: dict) -> str:
    """Each cell's mean [95% CI] over its runs, and the probability that DBC beats BC and DP per row."""
    cells = {(c["task"], c["data"], c["method"]): c for c in table["cells"]}
    pairs = {(c["task"], c["data"], c["baseline"]): c for c in table["comparisons"]}
    lines = ["| task (data) | " + " | ".join(METHODS.values()) + " | P(DBC > BC) | P(DBC > DP) |",
             "|---" * (3 + len(METHODS)) + "|"]
    for task, data in ordered_rows(table):
        lines.append(f"| {row_label(task, data)} | "
                     + " | ".join(cell_text(cells.get((task, data, m))) for m in METHODS) + " | "
                     + " | ".join(poi_text(pairs.get((task, data, b))) for b in ("bc", "dp")) + " |")
    return "\n".join(lines)


def findings(table: dict) -> list[str]:
    """One sentence per baseline saying, row by row, only what the intervals of P(DBC > baseline) support."""
    out = []
    for base in BASELINES:
        groups = {"better": [], "worse": [], "none": []}
        for c in table["comparisons"]:
            if c["baseline"] == base:
                side = "none" if not stats.shows_difference(c["ci"]) else "better" if c["ci"][0] > 0.5 else "worse"
                groups[side].append(f"{row_label(c['task'], c['data'])}, P = {poi_text(c)}")
        if not any(groups.values()):
            continue
        name = METHODS[base]
        parts = [f"DBC > {name} on " + "; ".join(groups["better"]) if groups["better"] else "",
                 f"{name} > DBC on " + "; ".join(groups["worse"]) if groups["worse"] else "",
                 "No difference shown on " + "; ".join(groups["none"]) if groups["none"] else ""]
        out.append(f"**DBC vs {name}** (P(DBC > {name}) [95% CI] per row): " + ". ".join(p for p in parts if p)
                   + ".")
    return out


def aggregate_lines(table: dict) -> list[str]:
    agg = table["aggregate"]
    if not agg["methods"]:
        return [f"Not yet: it needs at least two rows whose four cells are complete ({len(agg['rows'])} so far)."]
    rows = ", ".join(row_label(*r) for r in agg["rows"])
    lines = [f"Over the {len(agg['rows'])} rows whose four cells are complete ({rows}), each run's score normalized "
             "(success rate as a fraction; a return as (R − random) / (expert − random), references below), runs "
             "resampled within each row:", "",
             "| method | runs per row | IQM [95% CI] | mean [95% CI] |", "|---|---|---|---|"]
    for m, a in agg["methods"].items():
        lines.append(f"| {METHODS[m]} | {a['runs']} | {stats.interval_text(a['iqm'], a['iqm_ci'], 2)} | "
                     f"{stats.interval_text(a['mean'], a['mean_ci'], 2)} |")
    lines += ["", "Probability that a DBC run beats a baseline's run on a row, averaged over these rows: "
              + "; ".join(f"P(DBC > {METHODS[b]}) = {poi_text(v)}" for b, v in agg["improvement"].items()) + "."]
    return lines


def reference_lines(table: dict) -> list[str]:
    return [f"- {LABELS[t]}: random {r['random']:.1f} ({r['random_how']}); expert {r['expert']:.1f} "
            f"({r['expert_how']}); the same two for the paper's-data row, whose demos came from the authors' expert "
            "(its return is not known here)." for t, r in table["references"].items()]


def metric_text(table: dict) -> str:
    tasks = list(dict.fromkeys(t for t, _ in ordered_rows(table)))
    by_metric = {m: [LABELS[t] for t in tasks if get_task(t).metric == m] for m in ("success", "return")}
    text = "; ".join(f"{'success rate (%)' if m == 'success' else 'return'} for {', '.join(names)}"
                     for m, names in by_metric.items() if names)
    return text[:1].upper() + text[1:]


def protocol_lines(table: dict, cells: list[dict]) -> list[str]:
    boot, runs = table["bootstrap"], table["runs_asked"]
    episodes = ", ".join(map(str, sorted({c["stats"]["episodes"] for c in cells}))) or "–"
    total = sum(map(cell_seconds, cells))
    level = f"{boot['confidence']:.0%}"
    coverage = " and ".join(f"{percentile_coverage(n):.1%} at {n} runs" for n in sorted(set(runs.values()),
                                                                                         reverse=True))
    return [
        "**Protocol.** A cell is one method on one row. Its runs are independent: each has its own seed and, for "
        "DBC, its own pretrained diffusion model (`diffusion.shared=False`); they train as one program "
        "(`config.num_seeds` runs), which computes what separate runs would (tests/test_compare.py). Runs asked per "
        f"cell: {', '.join(f'{METHODS[m]} {n}' for m, n in runs.items())}. A run's score is its final evaluation "
        f"({episodes} episodes per run, deterministic policy), never its best checkpoint. {metric_text(table)}.", "",
        f"**Statistics** ({boot['library']}). Per cell: the mean and the IQM (interquartile mean: the mean left "
        "after trimming a quarter of the runs, rounded down, from each end; the middle 6 of 10) over its runs, "
        f"each with a {level} {boot['method']} stratified-bootstrap interval ({boot['reps']:,} resamples). Per "
        "row: P(DBC > baseline), the probability that a DBC run scores above a baseline run (ties count half), "
        f"with its {level} interval ({boot['pairs_reps']:,} resamples, each method's runs resampled on their own). "
        f"Bootstrap seed {boot['seed']}. A difference is claimed only where P's interval excludes 0.5. With few "
        f"runs a percentile interval is narrower than its nominal {level}: for normal scores it covers the true "
        f"mean with probability {coverage}.", "",
        f"**Cost.** The cells below took {duration(total)} of training and evaluation in all, on: "
        f"{'; '.join(sorted({c['hardware'] for c in cells})) or '–'}. Code: "
        f"{', '.join(sorted({code_text(c['code']) for c in cells})) or '–'} (each cell's own is listed below)."]


def markdown(table: dict) -> str:
    keys = [(t, d, m) for t, d in ordered_rows(table) for m in METHODS]
    by_key = {(c["task"], c["data"], c["method"]): c for c in table["cells"]}
    cells = [by_key[k] for k in keys if k in by_key]
    out = [f"# Does DBC beat the baselines? Independent runs, preset `{table['preset']}`", "",
           f"Generated by `{table['command']}` from `compare_{table['preset']}.json` (beside this file); do not edit "
           f"by hand. The figure: `compare_{table['preset']}.png`.", ""]
    out += protocol_lines(table, cells)
    out += ["", "## Mean over runs [95% CI], and P(DBC > baseline) per row", "", headline(table), "",
            "## What the intervals support", ""]
    out += [f"- {line}" for line in findings(table)] or ["Nothing yet: no row has both DBC and a baseline complete."]
    out += ["", "## IQM over runs [95% CI]", "",
            "| task (data) | " + " | ".join(METHODS.values()) + " |", "|---" * (1 + len(METHODS)) + "|"]
    for task, data in ordered_rows(table):
        out.append(f"| {row_label(task, data)} | "
                   + " | ".join(cell_text(by_key.get((task, data, m)), "iqm") for m in METHODS) + " |")
    out += ["", "## Every comparison", "",
            "| task (data) | baseline | P(DBC > baseline) [95% CI] | difference shown |", "|---|---|---|---|"]
    for c in table["comparisons"]:
        shown = "no" if not stats.shows_difference(c["ci"]) else "DBC better" if c["ci"][0] > 0.5 else \
            "baseline better"
        out.append(f"| {row_label(c['task'], c['data'])} | {METHODS[c['baseline']]} | {poi_text(c)} | {shown} |")
    out += ["", "## Over rows: normalized score", ""] + aggregate_lines(table)
    out += ["", "Normalization references (return tasks):", ""] + (reference_lines(table) or ["- none yet"])
    out += ["", "## Every cell: its runs, and each run's own evaluation noise", "",
            "Between runs: the sample standard deviation of the runs' scores. Within a run: the standard error of "
            "a run's score over its own episodes (root mean square over the runs). Code: the commit of each sitting "
            "that trained the cell (* = with uncommitted changes to the code; up to 2026-12-07, also to the pages).",
            "",
            "| task (data) | method | runs | per-run scores | std between runs | s.e. within a run (episodes) "
            "| wall time | date | code | hardware | command |", "|---" * 11 + "|"]
    for c in cells:
        d, st = digits(c["task"]), c["stats"]
        out.append(f"| {row_label(c['task'], c['data'])} | {METHODS[c['method']]} | {st['n']} of {c['runs_asked']} "
                   f"| {', '.join(stats.number(v, d) for v in scores(c))} | {stats.number(st['std'], d)} | "
                   f"{stats.number(st['eval_stderr'], d)} ({st['episodes']}) | {duration(cell_seconds(c))} | "
                   f"{c['date']} | {code_text(c['code'])} | {c['hardware'].replace(' | ', '; ')} | `{c['command']}` |")
    if table["missing"]:
        out += ["", "## Not in the table yet", ""]
        out += [f"- {row_label(m['task'], m['data'])}, {METHODS[m['method']]} ({m['runs_asked']} runs): "
                f"{m['reason']} (`{m['command']}`)" for m in table["missing"]]
        left = time_left(table)
        if left:
            out += ["", f"In all, {left}: one cell after another, speeds measured when the JSON was written (upper "
                        "bounds: episodes that end early evaluate faster)."]
    return "\n".join(out) + "\n"


def time_left(table: dict) -> str:
    """The time the missing cells with a plan should take ("" if none has one)."""
    plans = [m["plan"] for m in table["missing"] if "plan" in m]
    if not plans:
        return ""
    n = len(plans)
    which = "" if n == len(table["missing"]) else f" for the {counted(n, 'cell')} measured"
    return f"about {duration(sum(p['estimate_s'] for p in plans))} on {machine(plans[0]['measured'])}{which}"


def figure(table: dict, path: str) -> None:
    """P(DBC > baseline) per row, the aggregate normalized IQM per method, and the performance profiles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 5), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    colors = {"bc": "tab:blue", "dp": "tab:green", "ibc": "tab:red", "dbc": "tab:purple"}
    rows = [r for r in ordered_rows(table) if any((c["task"], c["data"]) == r for c in table["comparisons"])]
    ax = axes[0]
    for i, base in enumerate(BASELINES):
        pts = [(rows.index((c["task"], c["data"])), c) for c in table["comparisons"] if c["baseline"] == base]
        if pts:
            y = np.asarray([k for k, _ in pts]) + (i - 1) * 0.22
            p = np.asarray([c["p"] for _, c in pts])
            ci = np.asarray([c["ci"] for _, c in pts]).T
            ax.errorbar(p, y, xerr=[p - ci[0], ci[1] - p], fmt="o", color=colors[base], capsize=3,
                        label=f"P(DBC > {METHODS[base]})")
    ax.axvline(0.5, color="k", lw=1, ls="--")
    ax.set_yticks(range(len(rows)), [row_label(*r) for r in rows])
    ax.invert_yaxis()
    ax.set(xlim=(-0.03, 1.03), xlabel="probability of improvement (95% CI)", title="DBC against each baseline, per row")
    if table["comparisons"]:
        ax.legend(fontsize="small", loc="lower left")
    agg = table["aggregate"]
    if agg["methods"]:
        ax = axes[1]
        for k, (m, a) in enumerate(agg["methods"].items()):
            for j, (kind, label) in enumerate((("iqm", "IQM"), ("mean", "mean"))):
                lo, hi = a[f"{kind}_ci"]
                ax.plot([lo, hi], [k + 0.15 * j] * 2, color=colors[m], lw=6 if kind == "iqm" else 2,
                        alpha=0.8, label=f"{label} (95% CI), | = estimate" if k == 0 else None)
                ax.plot([a[kind]], [k + 0.15 * j], "k|", ms=12)
        ax.set_yticks(range(len(agg["methods"])), [METHODS[m] for m in agg["methods"]])
        ax.invert_yaxis()
        ax.set(xlabel="normalized score (95% CI)", title=f"over {len(agg['rows'])} complete rows")
        ax.legend(fontsize="small")
        ax = axes[2]
        taus = np.asarray(agg["profiles"]["taus"])
        for m in METHODS:
            prof = agg["profiles"][METHODS[m]]
            band = np.asarray(prof["band"])
            ax.plot(taus, prof["fraction"], color=colors[m], label=METHODS[m])
            ax.fill_between(taus, band[0], band[1], color=colors[m], alpha=0.2)
        ax.set(xlabel="normalized score τ", ylabel="fraction of runs with score > τ", ylim=(0, 1.02),
               title="performance profiles (95% bands)")
        ax.legend(fontsize="small")
    else:
        for ax in axes[1:]:
            ax.text(0.5, 0.5, "needs two rows with\nevery cell complete", ha="center", va="center")
            ax.set_axis_off()
    fig.suptitle(f"dbc_jax, preset {table['preset']}: independent runs per cell "
                 f"({', '.join(f'{METHODS[m]} {n}' for m, n in table['runs_asked'].items())})")
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=90)


README_START, README_END = "<!-- compare:start -->", "<!-- compare:end -->"


def machine(hardware_text: str) -> str:
    """The device and host of a cell's ``hardware()`` lines (" + " between sittings' machines), without versions."""
    return "; ".join(", ".join(line.split(" | ")[:2]) for line in hardware_text.split(" + "))


def readme_block(table: dict) -> str:
    """What the table is, the headline table, then what its intervals support."""
    cells = table["cells"]
    episodes = ", ".join(map(str, sorted({c["stats"]["episodes"] for c in cells}))) or "–"
    runs = ", ".join(f"{METHODS[m]} {n}" for m, n in table["runs_asked"].items())
    hours = sum(map(cell_seconds, cells)) / 3600
    about = (f"Preset `{table['preset']}`; runs per cell: {runs}; {episodes} evaluation episodes per run; "
             f"{len(cells)} of {len(table['rows']) * len(METHODS)} cells so far, {hours:.1f} h of training and "
             f"evaluation on {'; '.join(sorted({machine(c['hardware']) for c in cells})) or '–'}. "
             f"{metric_text(table)}.")
    done = {(c["task"], c["data"], c["method"]) for c in cells}
    absent = sum((m["task"], m["data"], m["method"]) not in done for m in table["missing"])
    if absent:
        left = time_left(table)
        about += (f" Not in it yet: {counted(absent, 'cell')}, listed with their commands"
                  + (f" and times (in all {left})" if left else "") + f" in docs/compare_{table['preset']}.md.")
    supported = "\n".join(f"- {line}" for line in findings(table))
    return f"{about}\n\n{headline(table)}" + (f"\n\n{supported}" if supported else "")


def update_readme(path: str, table: dict) -> None:
    write_readme_block(path, readme_block(table), README_START, README_END)


def render(json_path: str) -> str:
    """The markdown of a saved comparison (tests and docs regenerate it from the JSON alone)."""
    return markdown(read_json(json_path))


def main(argv=None) -> None:
    parser = paper_table.table_arguments(__doc__)
    parser.add_argument("--runs", nargs="+", default=[], metavar="N|METHOD=N",
                        help="independent runs per cell: N for every method, METHOD=N for one (default: 10, ibc=5)")
    parser.add_argument("--out", default="docs", help="folder of compare_<preset>.json, .md and .png")
    parser.add_argument("--workdir", default="", help="folder of the cells' runs (default runs/compare_<preset>)")
    parser.add_argument("--readme", default="", help="also write the headline table and what it supports into this "
                                                     f"README's {README_START} block")
    args = parser.parse_args(argv)
    distributed.initialize_from(args)
    args.runs = parse_runs(args.runs)
    parse_rows(args.rows)  # bad input fails before any training
    paper_table.sets_for("", args.set)  # a --set with an unknown task scope fails before any training
    if args.readme:
        read_readme(args.readme, README_START, README_END)
    args.workdir = args.workdir or os.path.join("runs", f"compare_{args.preset}")
    os.makedirs(args.out, exist_ok=True)
    json_path = os.path.join(args.out, f"compare_{args.preset}.json")
    md_path, png_path = (os.path.join(args.out, f"compare_{args.preset}.{ext}") for ext in ("md", "png"))

    def publish(table: dict) -> None:
        """The statistics, then the JSON, the page, the figure and the README block, all from the same table
        (process 0 writes them)."""
        analyze(table)
        if not distributed.is_writer():
            return
        atomic_write_text(json_path, json.dumps(table, indent=2) + "\n")
        atomic_write_text(md_path, markdown(table))
        figure(table, png_path)
        if args.readme:
            update_readme(args.readme, table)

    table = build(args, list(sys.argv[1:] if argv is None else argv), json_path, publish)
    publish(table)
    if not distributed.is_writer():
        return
    print(headline(table))
    print(f"\nwritten: {json_path}, {md_path}, {png_path}" + (f", {args.readme}" if args.readme else ""))
    if table["missing"]:
        print(f"not in the table: {len(table['missing'])} cells ({md_path})")
    failed = [m for m in table["missing"] if m.get("failed")]
    if failed:
        raise RuntimeError(f"{len(failed)} cells failed, the others were trained and written: "
                           + "; ".join(f"{m['task']}:{m['data']} {m['method']} ({m['reason']})" for m in failed))


if __name__ == "__main__":
    run_cli(lambda argv: main(argv[1:]))
