"""Multimodal demonstrations (the paper's future work): does DBC's term pull a policy off the average of two ways and
into one of them, as the KL argument predicts (BC's term ~ forward KL, mode covering; the diffusion term ~ reverse
KL, mode seeking)?

On PointFork (``dbc_jax/envs/fork.py``: the expert passes a block on the left or on the right with probability 1/2
from the same start), each method trains N independent runs (seeds 1..N, DBC with a diffusion model per run), and
every run's final policy plays the task's evaluation episodes. Each episode's path is classified by where it gets
past the block: "left", "right", or "stuck" (it never does: the averaged way runs into the block). Per method:
success rate and the share of stuck episodes, each a mean and IQM over runs with a 95% stratified-bootstrap
interval (rliable, ``dbc_jax/stats.py``), and the probability that DBC's runs beat BC's.

    python experiments/multimodal.py [--preset quick] [--runs 10] [--lambdas 1 10 30 100] [--methods bc dbc dp ibc]
                                     [--no-train]

DBC's λ values are one grid (one program; run i of every λ shares run i's diffusion model). A method's finished rows
are kept in the JSON itself, with the paths its figure draws beside it (``multimodal_<preset>_paths.json``): a
method recorded there whose config equals the one asked is reused without its workdir, so a clean clone regenerates
the page and the figure from the JSON alone. Methods not asked stay where their config is still the one this command
would ask for them; any other recorded method is kept aside as stale. A method not recorded is read from its
finished workdir, resumed if interrupted, or trained (``--no-train``: listed as not trained). Writes
``<out>/multimodal_<preset>.{json,md,png}`` and ``<out>/multimodal_<preset>_paths.json`` (``--out`` docs) after
every trained method and at the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os

import numpy as np

import dbc_jax
from dbc_jax import stats
from dbc_jax.checkpoint import atomic_save_figure, atomic_write_text, read_json
from dbc_jax.envs.fork import MODES, draw_paths, path_mode, touches_block
from dbc_jax.grid import Grid
from dbc_jax.metrics import MetricsLog
from dbc_jax.errors import run_cli
from dbc_jax.evaluate import make_evaluator, make_policy_fn
from dbc_jax.provenance import code_version, hardware
from dbc_jax.train import eval_key
from dbc_jax.workdir import restore_workdir, saved_results

from paper_table import portable, recorded_differences  # experiments/: the script's folder, first on sys.path

METHODS = {"bc": "BC", "dbc": "DBC", "dp": "Diffusion Policy", "ibc": "Implicit BC"}
BOOTSTRAP = stats.BOOTSTRAP  # the resamples of every results page (dbc_jax.stats)
FIGURE_EPISODES = 16  # the figure draws each row's first run's first episodes


def run_config(method: str, args) -> dbc_jax.configs.ConfigDict:
    config = dbc_jax.get_config("fork", args.preset)
    config.algo = method
    config.num_seeds = args.runs if method != "ibc" else min(args.runs, args.ibc_runs)
    config.diffusion.shared = False  # a run is the unit: each its own diffusion model
    if method == "dbc":
        config.grid.coeff = tuple(args.lambdas)
    config.workdir = os.path.join(args.workdir, f"fork_{method}_n{config.num_seeds}")
    return dbc_jax.configs.resolve(config)


def episode_modes(workdir: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The final policies of a workdir, every member playing the run's evaluation episodes again with every path
    recorded: (success [members, episodes], modes [members, episodes] as indices into MODES, hit [members,
    episodes]: ran into the block, paths)."""
    config, state, normalizer, bounds, fns = restore_workdir(workdir)
    policy_fn = make_policy_fn(lambda params, obs, key: fns.act(params, obs, key, bounds), normalizer)
    episodes = config.eval.num_episodes
    evaluator = make_evaluator(config.env_name, dict(config.env), config.num_seeds, episodes, policy_fn,
                               config.eval.backend, member_seeds=np.asarray(fns.grid.hparams().seed),
                               record=episodes)
    result = evaluator(state.policy_params, eval_key(config.seed, int(state.policy_epoch)))
    evaluator.close()
    modes = np.array([[MODES.index(path_mode(path[:, :2])) for path in member] for member in result.paths])
    hit = np.array([[touches_block(path[:, :2]) for path in member] for member in result.paths])
    return result.episodes["success"], modes, hit, result.paths


def summarize(label: str, success: np.ndarray, modes: np.ndarray, hit: np.ndarray) -> dict:
    """One row: per-run success and mode shares, with their intervals over runs."""
    reps, seed = BOOTSTRAP["reps"], BOOTSTRAP["seed"]
    shares = {mode: (modes == i).mean(1) for i, mode in enumerate(MODES)}
    committed = shares["left"] + shares["right"]
    balance = np.where(committed > 0, np.minimum(shares["left"], shares["right"]) / np.maximum(committed, 1e-12), 0)
    row = {"method": label, "runs": len(success), "episodes_per_run": success.shape[1],
           "success_per_run": (100 * success.mean(1)).tolist(),
           "success": stats.mean_and_iqm(100 * success.mean(1), reps, seed),
           "success_se_per_run": (100 * success.std(1, ddof=1) / np.sqrt(success.shape[1])).tolist()}
    for mode in MODES:
        row[f"{mode}_per_run"] = (100 * shares[mode]).tolist()
        row[mode] = stats.mean_and_iqm(100 * shares[mode], reps, seed)
    row["hit_per_run"] = (100 * hit.mean(1)).tolist()
    row["hit"] = stats.mean_and_iqm(100 * hit.mean(1), reps, seed)
    row["balance_per_run"] = balance.tolist()  # 0.5: both ways equally often; 0: one way only (or none)
    return row


def trained_rows(method: str, config) -> tuple[list[dict], dict]:
    """A finished workdir's rows (one per λ for DBC's grid) and each row's figure paths: the first run's first
    episodes, (x, y) to the episode's end, rounded to a millimetre."""
    success, modes, hit, paths = episode_modes(config.workdir)
    evaluations = [r for r in MetricsLog(os.path.join(config.workdir, "metrics.jsonl")).records()
                   if r["phase"] == "eval"]
    points = Grid.from_config(config).points()  # [{}] for a plain run; members are point-major
    per_point = len(success) // len(points)
    rows, figures = [], {}
    for k, point in enumerate(points):
        label = METHODS[method] + (f" λ={point['coeff']:g}" if point else "")
        part = slice(k * per_point, (k + 1) * per_point)
        rows.append({"algo": method, **summarize(label, success[part], modes[part], hit[part])})
        rows[-1]["curve"] = [{"epoch": r["epoch"], "success": 100 * float(np.mean(r["success"][part]))}
                             for r in evaluations]
        first = paths[part][0][:FIGURE_EPISODES]
        figures[label] = {"success": success[part][0][:FIGURE_EPISODES].astype(int).tolist(),
                          "paths": [np.round(p[~np.isnan(p[:, 0]), :2], 3).tolist() for p in first]}
    return rows, figures


def load_ledger(path: str) -> tuple[dict, dict]:
    """The rows, runs and stale methods a JSON written by this script holds, and its figure paths (empty if there
    are none); each entry checked here, before any training."""
    if not os.path.exists(path):
        return {"rows": [], "runs_info": {}, "stale": {}}, {}
    table = read_json(path)
    if (not isinstance(table, dict) or not isinstance(table.get("rows"), list)
            or not isinstance(table.get("runs_info"), dict) or not isinstance(table.get("stale", {}), dict)):
        raise ValueError(f"{path}: expected a JSON object with a 'rows' list and 'runs_info' and 'stale' objects (a "
                         "file written by multimodal.py)")
    entries = [("rows", table["rows"])] + [(f"stale.{m}.rows", e.get("rows") if isinstance(e, dict) else None)
                                          for m, e in table.get("stale", {}).items()]
    for where, rows in entries:
        if not isinstance(rows, list) or not all(isinstance(r, dict) and _algo(r) for r in rows):
            raise ValueError(f"{path}: {where}: expected rows each naming a method of {list(METHODS.values())}")
    infos = list(table["runs_info"].items()) + [(m, e.get("runs_info")) for m, e in table.get("stale", {}).items()]
    for method, info in infos:
        if method not in METHODS or not isinstance(info, dict) or not isinstance(info.get("config", {}), dict):
            raise ValueError(f"{path}: runs_info '{method}': expected a method of {list(METHODS)} with a config object")
    paths_file = path[:-len(".json")] + "_paths.json"
    figures = read_json(paths_file) if os.path.exists(paths_file) else {}
    if not isinstance(figures, dict) or not all(
            isinstance(f, dict) and isinstance(f.get("paths"), list) and isinstance(f.get("success"), list)
            and len(f["paths"]) == len(f["success"]) for f in figures.values()):
        raise ValueError(f"{paths_file}: expected a JSON object of each row's figure (paths and success, as many of "
                         "each) written by multimodal.py")
    return {"rows": table["rows"], "runs_info": table["runs_info"], "stale": table.get("stale", {})}, figures


def _algo(row: dict) -> str:
    """The method key of a row ("dbc" for "DBC λ=10"); '' if it names none."""
    label = row.get("method")
    if row.get("algo") in METHODS:
        return row["algo"]
    return next((m for m, name in METHODS.items() if isinstance(label, str)
                 and (label == name or label.startswith(name + " "))), "")


def matches(info: dict | None, config) -> bool:
    """Whether a method's recorded rows are the ones asked: the same config, its number of runs included."""
    return (info is not None and "config" in info
            and not recorded_differences(config, "ours", info["config"], with_seeds=True))


def measure(args, ledger: dict, figure_ledger: dict, publish=lambda table, figures: None) -> tuple[dict, dict]:
    """Every method: recorded in the ledger (where its config is the one asked), finished in its workdir, trained,
    or not trained (printed). A recorded method not asked stays in the table where its config is the one this
    command would ask for it; any other recorded method is kept aside as stale until one trained with the current
    config replaces it. ``publish`` writes the table after every trained method. Returns the table and the figure
    paths of its rows and of the stale rows."""
    recorded = {m: (entry["rows"], entry["runs_info"]) for m, entry in ledger["stale"].items()}
    recorded.update({m: ([r for r in ledger["rows"] if _algo(r) == m], info)
                     for m, info in ledger["runs_info"].items()})
    done, figures, runs_info = {}, {}, {}

    def assemble() -> tuple[dict, dict]:
        rows = [r for m in METHODS for r in done.get(m, [])]
        stale = {m: {"rows": rows_, "runs_info": info} for m, (rows_, info) in recorded.items()
                 if m not in done and rows_}  # kept aside, never dropped
        shown = dict(figures)
        for r in rows + [r for entry in stale.values() for r in entry["rows"]]:
            if r["method"] not in shown and r["method"] in figure_ledger:
                shown[r["method"]] = figure_ledger[r["method"]]
        improvement = {}
        bc = next((r for r in rows if r["method"] == "BC"), None)
        for row in rows:
            if bc is not None and row is not bc:
                improvement[f"{row['method']} > BC"] = stats.probability_of_improvement(
                    row["success_per_run"], bc["success_per_run"], BOOTSTRAP["pairs_reps"], BOOTSTRAP["seed"])
        missing = [METHODS[m] for m in METHODS if m in args.methods and m not in done]  # asked, not (yet) trained
        return {"preset": args.preset, "runs": args.runs, "lambdas": args.lambdas, "rows": rows, "missing": missing,
                "improvement": improvement, "runs_info": dict(runs_info), "stale": stale, "bootstrap": BOOTSTRAP,
                "hardware": hardware(), "code": code_version(), "date": str(datetime.date.today())}, shown

    for method in METHODS:
        config = run_config(method, args)
        rows, info = recorded.get(method, ([], None))
        if rows and matches(info, config):  # no replay of its evaluations
            done[method], runs_info[method] = rows, info
            continue
        if method not in args.methods:
            continue
        saved = saved_results(config)
        trained = saved is None
        if trained:
            if args.no_train:
                print(f"not trained: {METHODS[method]} ({config.workdir}); run without --no-train")
                continue
            print(f"\n== {METHODS[method]}: {config.num_seeds} runs -> {config.workdir}")
            dbc_jax.train(config, progress=not args.quiet)
            saved = saved_results(config)
        done[method], new_figures = trained_rows(method, config)
        figures.update(new_figures)
        runs_info[method] = {"workdir": config.workdir, "timings": saved.get("timings", {}),
                             "code": saved.get("code", []), "config": portable(config, "ours")}
        if trained:
            publish(*assemble())  # the JSON keeps each method as soon as it is trained
    return assemble()


def markdown(table: dict) -> str:
    rows = table["rows"]
    lines = [f"# Multimodal demonstrations: PointFork, preset `{table['preset']}`", "",
             "Generated by `experiments/multimodal.py` from `multimodal_" + table["preset"] + ".json`; "
             f"{table['date']}, {table['hardware']}. Each row: independent runs (its own seed and, for DBC, its own "
             "diffusion model), each run's final policy over its evaluation episodes; mean over runs [95% "
             "stratified-bootstrap interval] (rliable). `hit`: episodes that run into the block (the average of "
             "the two ways heads straight for it); `stuck`: episodes that never get past it; `balance`: "
             "min(left, right) / (left + right) per run (0.5: both ways equally often).", "",
             "| method | runs x episodes | success (%) | hit the block (%) | stuck (%) | left (%) | right (%) "
             "| balance |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['runs']} x {r['episodes_per_run']} | {stats.mean_text(r['success'])} | "
                     f"{stats.mean_text(r['hit'])} | {stats.mean_text(r['stuck'])} | {stats.mean_text(r['left'])} | "
                     f"{stats.mean_text(r['right'])} | {np.mean(r['balance_per_run']):.2f} |")
    lines += ["", "Success rate (%) at each periodic evaluation during training (epoch: mean over runs); the table "
                  "above is the final one, played again with every path recorded (the run's own final episodes):", ""]
    lines += [f"- {r['method']}: " + ", ".join(f"{c['epoch']}: {c['success']:.1f}" for c in r["curve"]) for r in rows]
    if table["improvement"]:
        lines += ["", "Probability that a run of the method scores a higher success rate than a run of BC "
                      "[95% interval]:", ""]
        lines += [f"- {stats.improvement_text(pair, value)}" for pair, value in table["improvement"].items()]
    lines += ["", "Per-run evaluation noise: the standard error of a run's success rate over its episodes, "
                  "mean over runs: " + ", ".join(f"{r['method']} {np.mean(r['success_se_per_run']):.1f}"
                                                  for r in rows) + " (points).", ""]
    if table.get("missing"):
        lines += ["Not trained yet: " + ", ".join(table["missing"]) + ". The same command trains them and writes "
                  "this page again after each.", ""]
    return "\n".join(lines) + "\n"


def figure(figures: dict, table: dict, path: str) -> None:
    """Each row's first run: its first evaluation paths over the block."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["method"] for r in table["rows"] if r["method"] in figures]
    if len(names) < len(table["rows"]):
        print("figure: no recorded paths for " + ", ".join(r["method"] for r in table["rows"] if r["method"] not in
                                                           figures) + " (drawn without them)")
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 4.2), squeeze=False)
    rows = {r["method"]: r for r in table["rows"]}
    for ax, name in zip(axes[0], names):
        draw_paths(ax, [np.asarray(p, np.float64) for p in figures[name]["paths"]], figures[name]["success"])
        r = rows[name]
        ax.set_title(f"{name}\nmean of {r['runs']} runs: success {r['success']['mean']:.0f}%, "
                     f"hit {r['hit']['mean']:.0f}%", fontsize=8)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8)
    fig.suptitle(f"PointFork ({table['preset']}): the first run of each method, {FIGURE_EPISODES} evaluation "
                 "episodes", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    atomic_save_figure(fig, path, dpi=90)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="quick", choices=("smoke", "quick", "paper"))
    parser.add_argument("--runs", type=int, default=10, help="independent runs per method")
    parser.add_argument("--ibc-runs", type=int, default=5, help="at most this many for Implicit BC (its slowest)")
    parser.add_argument("--lambdas", type=float, nargs="+", default=[1.0, 10.0, 30.0, 100.0], help="DBC's λ grid")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--workdir", default="", help="folder of the runs (default runs/multimodal_<preset>)")
    parser.add_argument("--out", default="docs", help="folder of multimodal_<preset>.json, .md, .png")
    parser.add_argument("--no-train", action="store_true", help="only the finished runs")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    args.workdir = args.workdir or os.path.join("runs", f"multimodal_{args.preset}")
    stem = os.path.join(args.out, f"multimodal_{args.preset}")

    def publish(table: dict, figures: dict) -> bool:
        """The JSON, its figure paths, the page and the figure; whether the figure was drawn."""
        os.makedirs(args.out, exist_ok=True)
        atomic_write_text(stem + "_paths.json", json.dumps(figures, separators=(",", ":")) + "\n")
        atomic_write_text(stem + ".json", json.dumps(table, indent=2) + "\n")
        atomic_write_text(stem + ".md", markdown(table))
        drawn = any(r["method"] in figures for r in table["rows"])
        if drawn:
            figure(figures, table, stem + ".png")
        return drawn

    # a broken JSON stops here, before any training
    table, figures = measure(args, *load_ledger(stem + ".json"), publish)
    drawn = publish(table, figures)
    print(markdown(table))
    print(f"written: {stem}.json, {stem}_paths.json, {stem}.md" + (f", {stem}.png" if drawn else ""))


if __name__ == "__main__":
    run_cli(lambda argv: main(argv[1:]))
