"""What a run returns: :class:`Results`, the final evaluation of every member, with its table and JSON form."""

from __future__ import annotations

import dataclasses

import numpy as np
from ml_collections import ConfigDict

from dbc_jax.evaluate import EvalResult
from dbc_jax.grid import Grid


@dataclasses.dataclass
class Results:
    """What ``train`` and ``evaluate_workdir`` return: the final evaluation of every member (grid point x seed)."""

    config: ConfigDict
    metric: str  # "success" or "return"
    evaluation: EvalResult  # final evaluation, per member
    grid: Grid
    workdir: str
    paths: dict  # config, checkpoints, metrics, learning_curve, results
    timings: dict = dataclasses.field(default_factory=dict)  # seconds per phase, summed over resumed sittings
    code: list = dataclasses.field(default_factory=list)  # code_version() of each sitting of the run, deduped
    reference: tuple = ()  # (random, expert) returns of the task's dataset, which normalize a return; () if none

    @property
    def normalized(self) -> np.ndarray | None:
        """[members] 100 (R - random) / (expert - random) with the dataset's reference scores (D4RL's normalized
        score); None without them."""
        if not self.reference or self.metric != "return" or self.reference[0] == self.reference[1]:
            return None
        low, high = self.reference
        return 100.0 * (self.per_member - low) / (high - low)

    @property
    def per_member(self) -> np.ndarray:
        """[members] the metric (success in %, or return); a plain run's members are its seeds."""
        scale = 100.0 if self.metric == "success" else 1.0
        return self.evaluation.metric(self.metric) * scale

    @property
    def by_point(self) -> np.ndarray:
        """[points, seeds] the metric of each grid point's seeds."""
        return self.grid.by_point(self.per_member)

    @property
    def means(self) -> np.ndarray:
        """[points] mean over seeds."""
        return self.by_point.mean(1)

    @property
    def stds(self) -> np.ndarray:
        """[points] population std over seeds (ddof 0)."""
        return self.by_point.std(1)

    def _only_point(self, values: np.ndarray) -> float:
        if self.grid.num_points != 1:
            raise ValueError(f"a grid of {self.grid.num_points} points has one value per point: use .means, .stds")
        return float(values[0])

    @property
    def mean(self) -> float:
        """Mean over seeds (a run of one grid point)."""
        return self._only_point(self.means)

    @property
    def std(self) -> float:
        """Population std over seeds (ddof 0; a run of one grid point)."""
        return self._only_point(self.stds)

    @property
    def per_seed(self) -> np.ndarray:
        """[seeds] the metric of each seed (a run of one grid point, whose members are its seeds)."""
        self._only_point(self.means)
        return self.per_member

    def table(self) -> str:
        name = "success rate (%)" if self.metric == "success" else "return"
        c = self.config
        title = (f"{c.env_name} / {c.algo} / preset {c.preset} / config.seed {c.seed}: {name} over "
                 f"{c.eval.num_episodes} episodes per seed")
        if not self.grid.axes:
            rows = [title, f"| seed | {name} | mean episode length |", "|---|---|---|"]
            for i, (v, length) in enumerate(zip(self.per_member, self.evaluation.episode_length)):
                rows.append(f"| {i} | {v:.1f} | {length:.1f} |")
            rows.append(f"| **mean ± std** | **{self.mean:.1f} ± {self.std:.1f}** | |")
            if self.normalized is not None:
                low, high = self.reference
                rows.append(f"normalized score 100 (R − {low:.1f}) / ({high:.1f} − {low:.1f}) with the dataset's "
                            f"reference returns: {self.normalized.mean():.1f} ± {self.normalized.std():.1f}")
            return "\n".join(rows)
        names = self.grid.names
        rows = [title, "| " + " | ".join(names) + f" | {name}, mean ± std | per seed |",
                "|" + "---|" * (len(names) + 2)]
        for point, mean, std, seeds in zip(self.grid.points(), self.means, self.stds, self.by_point):
            rows.append("| " + " | ".join(f"{point[n]:g}" for n in names) + f" | {mean:.1f} ± {std:.1f} | "
                        + ", ".join(f"{v:.1f}" for v in seeds) + " |")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        points = [{"point": p, "per_seed": seeds.tolist(), "mean": float(m), "std": float(sd)}
                  for p, seeds, m, sd in zip(self.grid.points(), self.by_point, self.means, self.stds)]
        plain = {"per_seed": self.per_seed.tolist(), "mean": self.mean, "std": self.std} if len(points) == 1 else {}
        return {"metric": self.metric, **plain, "grid": self.grid.to_dict(), "per_member": self.per_member.tolist(),
                "points": points, "evaluation": self.evaluation.to_dict(), "timings": self.timings,
                "code": self.code, "workdir": self.workdir,
                **({"reference": list(self.reference), "normalized": self.normalized.tolist()}
                   if self.normalized is not None else {}),
                **({"episodes": {k: v.tolist() for k, v in self.evaluation.episodes.items()}}
                   if self.evaluation.episodes is not None else {})}
