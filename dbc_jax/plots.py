"""A run's pictures: the learning curve, the final evaluation's episodes and, for tasks that draw them, paths."""

from __future__ import annotations

import numpy as np

from dbc_jax.checkpoint import atomic_save_figure
from dbc_jax.evaluate import EvalResult
from dbc_jax.grid import Grid
from dbc_jax.tasks import Task


def plot_evaluation(evaluation: EvalResult, task: Task, paths: dict, grid: Grid, title: str) -> list[str]:
    """``paths["episodes"]`` and, for a task that draws its paths, ``paths["trajectories"]`` (a workdir's
    :func:`dbc_jax.workdir.workdir_paths`); the files written."""
    plot_episodes(evaluation, task.metric, paths["episodes"], grid, title)
    if evaluation.paths is None:
        return [paths["episodes"]]
    plot_paths(evaluation, task, paths["trajectories"], grid, title)
    return [paths["episodes"], paths["trajectories"]]


def plot_episodes(evaluation: EvalResult, metric: str, path: str, grid: Grid, title: str = "") -> None:
    """Each episode of an evaluation, per grid point (or per seed in a plain run), written atomically as PNG.
    Success tasks: the success rate with each seed's as dots, and the lengths of successful and failed episodes.
    Return tasks: every episode's return with the mean, and their histogram."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    episodes = evaluation.episodes
    if grid.axes:
        groups = [(grid.label(p), slice(i * grid.num_seeds, (i + 1) * grid.num_seeds))
                  for i, p in enumerate(grid.points())]
    else:
        groups = [(f"seed {i}", slice(i, i + 1)) for i in range(grid.num_members)]
    rng = np.random.default_rng(0)  # jitter of the dots only
    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    x = np.arange(len(groups))
    if metric == "success":
        rates = [episodes["success"][rows].mean() * 100 for _, rows in groups]
        axes[0].bar(x, rates, color="tab:blue", alpha=0.6)
        for i, (_, rows) in enumerate(groups):
            per_seed = episodes["success"][rows].mean(1) * 100
            axes[0].plot(np.full(len(per_seed), i) + rng.uniform(-0.15, 0.15, len(per_seed)), per_seed, "k.")
        axes[0].set(ylabel="success rate (%)", ylim=(0, 105))
        lengths, success = episodes["length"].ravel(), episodes["success"].ravel()
        bins = np.linspace(0, lengths.max() + 1, 30)
        axes[1].hist([lengths[success], lengths[~success]], bins=bins, stacked=True, color=["tab:green", "tab:red"],
                     label=[f"success ({success.sum()})", f"failure ({(~success).sum()})"])
        axes[1].set(xlabel="episode length (steps)", ylabel="episodes", title="all members")
        axes[1].legend()
    else:
        for i, (_, rows) in enumerate(groups):
            values = episodes["return"][rows].ravel()
            axes[0].plot(i + rng.uniform(-0.2, 0.2, len(values)), values, ".", alpha=0.4)
            axes[0].plot([i - 0.3, i + 0.3], [values.mean()] * 2, "k-", lw=2)
            axes[1].hist(values, bins=30, alpha=0.5, label=groups[i][0])
        axes[0].set(ylabel="episode return")
        axes[1].set(xlabel="episode return", ylabel="episodes")
        axes[1].legend(fontsize="small")
    axes[0].set_xticks(x, [g for g, _ in groups], rotation=30 if len(groups) > 4 else 0, fontsize="small")
    axes[0].set_title(f"{episodes['length'].shape[1]} episodes per seed")
    fig.suptitle(title)
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=90)


def plot_paths(evaluation: EvalResult, task: Task, path: str, grid: Grid, title: str = "") -> None:
    """The recorded evaluation episodes drawn by the task (``Task.draw_paths``), a panel per member (its grid point
    and seed), written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dbc_jax.tasks import load

    draw = load(task.draw_paths)
    members = grid.members()
    cols = min(len(members), 3)
    rows = -(-len(members) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), squeeze=False)
    record = evaluation.paths.shape[1]
    for m, ax in enumerate(axes.ravel()):
        if m >= len(members):
            ax.axis("off")
            continue
        success = evaluation.episodes["success"][m, :record]
        draw(ax, evaluation.paths[m], success)
        ax.set_title(f"{Grid.label(members[m])}: {success.sum()} of {record} reached", fontsize="small")
    fig.suptitle(title)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:  # the task's drawing labelled its marks
        fig.legend(handles, labels, loc="lower center", ncol=len(handles), fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, 0.06 if rows == 1 else 0.03, 1, 1))
    atomic_save_figure(fig, path, dpi=90)


def plot_learning_curve(records: list[dict], metric: str, path: str, grid: Grid, final_update: int) -> list[float]:
    """Joint-model loss, policy losses and evaluation metric against updates, written atomically as PNG; the
    evaluation panel has a line per seed (a plain run) or per grid point (mean over seeds). The evaluation at
    ``final_update`` (the end of policy training), the one results.json and the tables report, is marked once
    it exists; returns the marked values (the mean, or each grid point's), [] before then."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pretrain = [r for r in records if r["phase"] == "model"]
    pol = [r for r in records if r["phase"] == "policy"]
    ev = [r for r in records if r["phase"] == "eval"]
    reported = []
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    if pretrain:
        axes[0].plot([r["update"] for r in pretrain], [r["model/loss"] for r in pretrain])
    axes[0].set(title="joint-model pretraining", xlabel="update", ylabel="loss",
                yscale="log" if all(r["model/loss"] > 0 for r in pretrain) else "linear")
    if pol:
        x = [r["update"] for r in pol]
        # The algorithm's own terms (DBC: bc/mse, model/term; DP: dp/loss; IBC: ibc/infonce).
        for name in ("bc/mse", "model/term", "dp/loss", "ibc/infonce"):
            if name in pol[0]:
                axes[1].plot(x, [max(r[name], 1e-12) for r in pol], label=name)
        axes[1].legend()
    axes[1].set(title="policy (mean over members)", xlabel="update", yscale="log")
    if ev:
        x = [r["update"] for r in ev]
        values = np.array([r[metric] for r in ev]) * (100 if metric == "success" else 1)  # [evals, members]
        if grid.axes:
            by_point = values.reshape(len(ev), grid.num_points, grid.num_seeds).mean(2)
            for p, point in enumerate(grid.points()):
                axes[2].plot(x, by_point[:, p], lw=1.5, label=grid.label(point))
            axes[2].legend(fontsize="small", title=f"mean over {grid.num_seeds} seeds")
        else:
            for s in range(values.shape[1]):
                axes[2].plot(x, values[:, s], alpha=0.4, lw=1, label=f"seed {s}")
            axes[2].plot(x, values.mean(1), color="k", lw=2, label="mean")
            axes[2].legend()
        final = [i for i, r in enumerate(ev) if r["update"] == final_update]
        if final:  # the mean the results table reports (per grid point: the point's mean over its seeds)
            reported = list(by_point[final[-1]] if grid.axes else values[final[-1]].mean(keepdims=True))
            unit = "%" if metric == "success" else ""
            axes[2].plot([final_update] * len(reported), reported, "*", color="k", ms=13, mfc="gold", zorder=5,
                         label="final evaluation (reported): " + ", ".join(f"{v:.1f}{unit}" for v in reported))
            axes[2].legend(fontsize="small", title=f"mean over {grid.num_seeds} seeds" if grid.axes else None)
    axes[2].set(title="evaluation", xlabel="update", ylabel="success rate (%)" if metric == "success" else "return")
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=90)
    return [float(v) for v in reported]
