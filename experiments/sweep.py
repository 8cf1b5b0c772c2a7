"""A sweep over config fields: a table (mean ± std over seeds per grid point, last and best evaluation) and a plot.

    python experiments/sweep.py --env maze --grid diffusion.coeff=0,0.01,0.1,1,10,30 [--grid diffusion.term=hinge,agent]
                                [--preset quick] [--algo dbc] [--seed 1] [--set eval.every_epochs=50]
                                [--workdir runs/sweeps/<name>] [--no-train]
    make sweep ENV=maze ARGS="--grid diffusion.coeff=0,0.01,0.1,1,10,30"

A ``--grid`` over λ (``<model>.coeff``), ``policy.coeff_bc`` or ``policy.lr`` is an axis of ``config.grid``: all its
values x ``config.num_seeds`` seeds train as one compiled program (``dbc_jax/grid.py``), spread over the devices
there are. A grid over any other field (e.g. ``diffusion.term``) needs a program per value: one run each, every
run holding the whole vmapped grid. Each run is a ``dbc_jax.train`` workdir under ``<workdir>/<run>``: a finished
run (its ``results.json`` written for the same config) is reused, an interrupted one resumed, so rerunning the
command continues a sweep. Writes ``<workdir>/table.md``, ``sweep.png`` and ``results.json``.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os

import numpy as np

import dbc_jax
from dbc_jax import distributed
from dbc_jax.checkpoint import atomic_save_figure, atomic_write_text
from dbc_jax.configs import PRESETS
from dbc_jax.errors import run_cli
from dbc_jax.grid import Grid, axis_for_field, config_field
from dbc_jax.tasks import TASKS
from dbc_jax.metrics import MetricsLog
from dbc_jax.workdir import saved_results


def parse_grids(config, items: list[str]) -> tuple[dict, dict]:
    """``field=v1,v2,...`` items -> ({grid axis: values}, {other field: [value texts]}); errors name the item."""
    vmapped, programs = {}, {}
    for item in items:
        field, sep, text = item.partition("=")
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not sep or not values:
            raise ValueError(f"--grid {item}: expected <field>=<value>,<value>,...")
        if field in ("coeff", "coeff_bc", "lr"):  # the grid axes' own names
            field = config_field(config, field)
        axis = axis_for_field(config, field)
        probe = config.copy_and_resolve_references()
        for value in values:  # every value must fit the field's type (and the field must exist)
            dbc_jax.configs.set_field(probe, field, value, f"--grid {item}")
        if field in vmapped or field in programs or (axis and axis in vmapped):
            raise ValueError(f"--grid {item}: {field} is swept twice")
        if axis:
            vmapped[axis] = tuple(float(v) for v in values)
        else:
            programs[field] = values
    return vmapped, programs


def run_configs(args) -> list[tuple[dict, object]]:
    """[(the run's {field: value text} for the per-program fields, config)] of every run of the sweep."""
    base = dbc_jax.get_config(args.env, args.preset)
    base.algo, base.seed = args.algo, args.seed
    dbc_jax.configs.set_fields(base, args.set)
    vmapped, programs = parse_grids(base, args.grid)
    runs = []
    for combo in itertools.product(*programs.values()):
        point = dict(zip(programs, combo))
        config = base.copy_and_resolve_references()
        for field, value in point.items():
            dbc_jax.configs.set_field(config, field, value, f"--grid {field}")
        for axis, values in vmapped.items():
            config.grid[axis] = values
        name = "_".join(f"{f.split('.')[-1]}-{v}" for f, v in point.items()) or "run"
        config.workdir = os.path.join(args.workdir, name)
        dbc_jax.configs.resolve(config)  # every run's config is checked before any training
        runs.append((point, config))
    return runs


def summarize(point: dict, config, results: dict) -> list[dict]:
    """One row per grid point of a run: the last evaluation and the best (by mean over seeds) periodic one."""
    grid = Grid.from_config(dbc_jax.configs.resolve(config))
    metric = results["metric"]
    scale = 100.0 if metric == "success" else 1.0
    evals = [r for r in MetricsLog(os.path.join(config.workdir, "metrics.jsonl")).records() if r["phase"] == "eval"]
    per_eval = np.array([grid.by_point(np.asarray(r[metric]) * scale) for r in evals])  # [evals, points, seeds]
    rows = []
    for p, grid_point in enumerate(grid.points()):
        last = np.asarray(results["points"][p]["per_seed"])
        best = int(np.argmax(per_eval[:, p].mean(1))) if len(evals) else None
        rows.append({"run": point, "point": grid_point, "per_seed": last.tolist(), "mean": float(last.mean()),
                     "std": float(last.std()),
                     "best": None if best is None else {"epoch": evals[best]["epoch"],
                                                        "per_seed": per_eval[best, p].tolist(),
                                                        "mean": float(per_eval[best, p].mean()),
                                                        "std": float(per_eval[best, p].std())}})
    return rows


def table(rows: list[dict], args, metric: str, config) -> str:
    name = "success rate (%)" if metric == "success" else "return"
    run_fields = list(rows[0]["run"])
    axes = list(rows[0]["point"])
    header = run_fields + [{"coeff": "λ"}.get(a, a) for a in axes]
    out = [f"{args.env}, {config.algo} ({config.model} joint model), preset `{args.preset}`: {name} over "
           f"{config.eval.num_episodes} episodes per seed, mean ± std over {config.num_seeds} seeds (config.seed "
           f"{args.seed}); last = after the final epoch, best = the best periodic evaluation (mean over seeds) and "
           f"its epoch. Written {datetime.date.today()}.", "",
           "| " + " | ".join(header + ["last", "best (epoch)"]) + " |", "|" + "---|" * (len(header) + 2)]
    for r in rows:
        cells = [str(r["run"][f]) for f in run_fields] + [f"{r['point'][a]:g}" for a in axes]
        best = r["best"]
        best_text = f"{best['mean']:.1f} ± {best['std']:.1f} ({best['epoch']})" if best else "–"
        out.append("| " + " | ".join(cells + [f"{r['mean']:.1f} ± {r['std']:.1f}", best_text]) + " |")
    return "\n".join(out) + "\n"


def plot(rows: list[dict], metric: str, path: str, title: str) -> None:
    """The metric (mean ± std over seeds) against the first swept axis, one line per value of the others."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axes, run_fields = list(rows[0]["point"]), list(rows[0]["run"])
    if axes:
        x_name, x_of = axes[0], (lambda r: r["point"][axes[0]])
        line_of = lambda r: ", ".join([f"{f.split('.')[-1]}={r['run'][f]}" for f in run_fields]  # noqa: E731
                                      + [f"{a}={r['point'][a]:g}" for a in axes[1:]])
    else:
        x_name, x_of = run_fields[0], (lambda r: r["run"][run_fields[0]])
        line_of = lambda r: ", ".join(f"{f.split('.')[-1]}={r['run'][f]}" for f in run_fields[1:])  # noqa: E731
    lines = {}
    for r in rows:
        lines.setdefault(line_of(r), []).append(r)
    fig, ax = plt.subplots(figsize=(7, 4))
    numeric = bool(axes)
    for label, group in lines.items():
        xs = [x_of(r) for r in group] if numeric else list(range(len(group)))
        ax.errorbar(xs, [r["mean"] for r in group], yerr=[r["std"] for r in group], marker="o", capsize=3,
                    label=label or None)
    if numeric:
        values = np.array([x_of(r) for r in rows])
        if np.all(values >= 0) and values[values > 0].size and values.max() / values[values > 0].min() >= 100:
            ax.set_xscale("symlog", linthresh=values[values > 0].min())
    else:
        ax.set_xticks(range(len(group)), [str(x_of(r)) for r in group])
    ax.set(xlabel={"coeff": "λ"}.get(x_name, x_name), title=title,
           ylabel="success rate (%)" if metric == "success" else "return")
    if any(lines):
        ax.legend(fontsize="small")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="maze", choices=list(TASKS), help="task (default maze)")
    parser.add_argument("--preset", default="quick", choices=PRESETS)
    parser.add_argument("--algo", default="dbc", choices=dbc_jax.configs.checks.ALGOS)
    parser.add_argument("--grid", action="append", default=[], required=True,
                        help="<field>=<v1>,<v2>,... (repeatable); λ, policy.coeff_bc and policy.lr share one program")
    parser.add_argument("--set", action="append", default=[], help="a config field for every run (repeatable)")
    parser.add_argument("--seed", type=int, default=1, help="config.seed of every run")
    parser.add_argument("--workdir", default=None, help="default: runs/sweeps/<env>_<preset>_<swept fields>")
    parser.add_argument("--no-train", action="store_true", help="only collect the finished runs")
    distributed.add_arguments(parser)
    args = parser.parse_args()
    distributed.initialize_from(args)
    if args.workdir is None:
        swept = "_".join(item.partition("=")[0].split(".")[-1] for item in args.grid)
        args.workdir = os.path.join("runs", "sweeps", f"{args.env}_{args.preset}_{swept}_seed{args.seed}")
    try:
        runs = run_configs(args)
    except ValueError as e:
        parser.error(str(e))
    members = Grid.from_config(dbc_jax.configs.resolve(runs[0][1])).num_members
    print(f"{len(runs)} program(s) of {members} members each -> {args.workdir}")
    rows, metric = [], None
    for point, config in runs:
        results = saved_results(config)
        if results is None and not args.no_train:
            print(f"training {config.workdir}")
            results = dbc_jax.train(config).to_dict()
        if results is None:
            print(f"not finished: {config.workdir}")
            continue
        metric = results["metric"]
        rows += summarize(point, config, results)
    if not rows or not distributed.is_writer():  # process 0 writes the sweep's table
        return
    config = runs[0][1]
    text = table(rows, args, metric, config)
    os.makedirs(args.workdir, exist_ok=True)
    atomic_write_text(os.path.join(args.workdir, "table.md"), text)
    title = f"{args.env} ({args.preset}): {config.algo}, {config.num_seeds} seeds per point"
    plot(rows, metric, os.path.join(args.workdir, "sweep.png"), title)
    atomic_write_text(os.path.join(args.workdir, "results.json"), json.dumps(
        {"env": args.env, "preset": args.preset, "grid": args.grid, "set": args.set, "seed": args.seed,
         "date": str(datetime.date.today()), "metric": metric, "rows": rows}, indent=2))
    print(text)
    print(f"wrote {args.workdir}/table.md, sweep.png, results.json")


if __name__ == "__main__":
    run_cli(lambda argv: main())
