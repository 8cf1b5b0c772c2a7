"""Grids of hyperparameters trained as one program: the run's *members* are grid points x seeds.

``config.grid`` names the values of the policy phase's numeric hyperparameters to sweep (``coeff``: λ,
``coeff_bc``, ``lr``); every non-empty field is an axis, and the run trains every combination for each of
``config.num_seeds`` seeds in one vmapped program. Member ``m`` is grid point ``m // num_seeds`` with seed
``m % num_seeds``; points are in row-major order over the axes, in ``AXES`` order. A plain run is a grid of one
point, whose members are its seeds. Each member draws its keys (init, batches, noise, evaluation episodes) from
its seed alone, so member (point, seed s) is seed s of the run configured with that point's values.
"""

from __future__ import annotations

import dataclasses
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from ml_collections import ConfigDict

# The sweepable hyperparameters, in axis order, and the config field each one replaces.
AXES = ("coeff", "coeff_bc", "lr")


def config_field(config: ConfigDict, axis: str) -> str:
    """The config field whose value a grid axis replaces, e.g. ``coeff`` -> ``diffusion.coeff``."""
    return {"coeff": f"{config.model}.coeff", "coeff_bc": "policy.coeff_bc", "lr": "policy.lr"}[axis]


def axis_for_field(config: ConfigDict, field: str) -> str | None:
    """The grid axis that sweeps config ``field`` in one program (None: the field needs a program of its own)."""
    return next((a for a in AXES if config_field(config, a) == field), None)


def _get(config: ConfigDict, field: str):
    value = config
    for part in field.split("."):
        value = value[part]
    return value


@struct.dataclass
class Hparams:
    """Each member's value of the swept hyperparameters, each [members]; part of the TrainState."""

    seed: jax.Array  # int32: which of the config's seeds the member's random streams come from
    coeff: jax.Array  # λ, the weight of the joint model's term (DBC)
    coeff_bc: jax.Array  # weight of the BC term (DBC)
    lr: jax.Array  # the policy's peak learning rate (decayed linearly to 0)


@dataclasses.dataclass(frozen=True)
class Grid:
    axes: tuple  # ((axis, (value, ...)), ...): the swept hyperparameters, in AXES order; () for a plain run
    num_seeds: int
    base: dict  # {axis: value} of the config, used for the axes not swept

    @classmethod
    def from_config(cls, config: ConfigDict) -> "Grid":
        grid = config.get("grid", {})
        axes = tuple((a, tuple(float(v) for v in grid.get(a, ()))) for a in AXES if len(grid.get(a, ())))
        base = {a: float(_get(config, config_field(config, a))) for a in AXES}
        return cls(axes=axes, num_seeds=int(config.num_seeds), base=base)

    @property
    def names(self) -> tuple:
        return tuple(name for name, _ in self.axes)

    @property
    def shape(self) -> tuple:
        """(points along each axis ..., seeds)."""
        return tuple(len(values) for _, values in self.axes) + (self.num_seeds,)

    @property
    def num_points(self) -> int:
        return int(np.prod(self.shape[:-1]))

    @property
    def num_members(self) -> int:
        return self.num_points * self.num_seeds

    def points(self) -> list[dict]:
        """``{axis: value}`` of every grid point, in member order ([{}] for a plain run)."""
        return [dict(zip(self.names, combo)) for combo in itertools.product(*(v for _, v in self.axes))]

    def members(self) -> list[dict]:
        """``{axis: value, ..., "seed": s}`` of every member."""
        return [{**p, "seed": s} for p in self.points() for s in range(self.num_seeds)]

    def hparams(self) -> Hparams:
        values = {a: [] for a in AXES}
        for member in self.members():
            for a in AXES:
                values[a].append(member.get(a, self.base[a]))
        seeds = np.tile(np.arange(self.num_seeds), self.num_points)
        return Hparams(seed=jnp.asarray(seeds, jnp.int32),
                       **{a: jnp.asarray(v, jnp.float32) for a, v in values.items()})

    def by_point(self, per_member) -> np.ndarray:
        """[members, ...] -> [points, seeds, ...]."""
        per_member = np.asarray(per_member)
        return per_member.reshape(self.num_points, self.num_seeds, *per_member.shape[1:])

    @staticmethod
    def label(point: dict) -> str:
        return ", ".join(f"{k}={v:g}" for k, v in point.items()) or "config"

    def to_dict(self) -> dict:
        return {"axes": {name: list(values) for name, values in self.axes}, "num_seeds": self.num_seeds,
                "members": self.members()}


def check_grid(config: ConfigDict) -> None:
    """Raise ValueError naming the ``config.grid`` field that cannot be swept for this run (the values' own ranges
    are checked with every other field's, ``configs/checks.py``)."""
    for axis in config.get("grid", {}):
        values = config.grid[axis]
        if axis not in AXES:
            raise ValueError(f"config.grid.{axis}: not a sweepable hyperparameter (known: {', '.join(AXES)})")
        if len(set(values)) != len(values):
            raise ValueError(f"config.grid.{axis}: repeated values in {tuple(values)}")
        if not values:
            continue
        if axis in ("coeff", "coeff_bc") and config.algo not in ("dbc",):
            hint = " (BC is DBC with λ = 0: sweep λ with algo dbc)" if config.algo == "bc" else ""
            raise ValueError(f"config.grid.{axis}: only algo 'dbc' has this hyperparameter, not "
                             f"'{config.algo}'{hint}")
