"""TensorBoard event files (and optionally Weights & Biases) from the records of ``metrics.jsonl``.

``metrics.jsonl`` stays the source of truth that the project's own plots read; :class:`RunLoggers` mirrors each
record into ``<workdir>/tensorboard/`` so that ``tensorboard --logdir runs`` shows several runs side by side. The
writer is tensorboardX: it writes TensorBoard's event format with protobuf alone, without TensorFlow or PyTorch.

Tags: ``pretrain/<name>`` (the joint model's losses), ``policy/<name>`` (the mean over members of each policy
loss), ``eval/<metric>/mean`` and ``eval/<metric>/<member>`` (each seed, or each grid point's seed). The x axis is
one update count through both phases: pretraining updates, then the pretraining total plus the policy updates. On
resume, events past the checkpoint are purged, as ``metrics.jsonl`` is truncated.
"""

from __future__ import annotations

import json
import os

import numpy as np
from ml_collections import ConfigDict

from dbc_jax.grid import Grid

EVAL_METRICS = ("success", "return", "length")


def check_available(config: ConfigDict) -> None:
    """Refuse ``config.log.wandb = True`` without the wandb package, before any compute."""
    import importlib.util

    if config.log.wandb and importlib.util.find_spec("wandb") is None:
        raise ValueError("config.log.wandb: True needs the wandb package (pip install wandb), which is not installed")


def member_labels(grid: Grid) -> list[str]:
    """A tag-safe name per member: ``seed_0`` for a plain run, ``coeff_0.1-seed_0`` for a grid."""
    return ["-".join(f"{k}_{v:g}" for k, v in member.items()) for member in grid.members()]


class RunLoggers:
    """Writes metric records to TensorBoard (``config.log.tensorboard``) and W&B (``config.log.wandb``)."""

    def __init__(self, workdir: str, config: ConfigDict, grid: Grid, pretrain_updates: int,
                 resume_update: int | None = None, writer: bool = True):
        self.pretrain_updates = pretrain_updates
        self.labels = member_labels(grid)
        self.tb = self.wandb = None
        if config.log.tensorboard and writer:  # writer: process 0 of a multi-process run writes, the others not
            from tensorboardX import SummaryWriter

            self.tb = SummaryWriter(os.path.join(workdir, "tensorboard"),
                                    purge_step=None if resume_update is None else resume_update + 1)
            if resume_update is None:
                self.tb.add_text("config", "```\n" + config.to_json(indent=2) + "\n```", 0)
        if config.log.wandb and writer:
            import wandb

            run_id = "".join(c if c.isalnum() else "-" for c in os.path.abspath(workdir))[-64:]
            self.wandb = wandb.init(project="dbc_jax", name=os.path.basename(workdir), id=run_id, resume="allow",
                                    dir=workdir, config=json.loads(config.to_json()))

    def step(self, record: dict) -> int:
        """The record's x value: one update count through both phases."""
        return record["update"] + (0 if record["phase"] == "model" else self.pretrain_updates)

    def scalars(self, record: dict) -> dict:
        phase = record["phase"]
        if phase == "eval":
            out = {}
            for metric in EVAL_METRICS:
                values = np.asarray(record[metric], np.float64)
                out[f"eval/{metric}/mean"] = float(values.mean())
                out.update({f"eval/{metric}/{label}": float(v) for label, v in zip(self.labels, values)})
            return out
        prefix = "pretrain" if phase == "model" else "policy"
        return {f"{prefix}/{name}": float(value) for name, value in record.items()
                if name not in ("phase", "epoch", "update") and not name.endswith(("/per_model", "/per_member"))}

    def write(self, records: list[dict]) -> None:
        for record in records:
            if record["phase"] not in ("model", "policy", "eval"):
                continue
            step, values = self.step(record), self.scalars(record)
            if self.tb is not None:
                for tag, value in values.items():
                    self.tb.add_scalar(tag, value, step)
            if self.wandb is not None:
                self.wandb.log(values, step=step)
        if self.tb is not None:
            self.tb.flush()

    def finish(self, config: ConfigDict, metric: str, per_member: np.ndarray) -> None:
        """The run's hyperparameters beside its final metric (TensorBoard's HParams tab), then close."""
        if self.tb is not None:
            flat = {}
            for section in ("policy", config.model, "grid"):
                for name, value in config[section].items():
                    if isinstance(value, (bool, int, float, str)):
                        flat[f"{section}.{name}"] = value
                    elif isinstance(value, (tuple, list)):
                        flat[f"{section}.{name}"] = str(tuple(value))
            flat.update(algo=config.algo, model=config.model, env=config.env_name, seed=config.seed,
                        num_seeds=config.num_seeds)
            self.tb.add_hparams(flat, {f"final/{metric}/mean": float(np.mean(per_member))}, name="hparams")
            self.tb.close()
        if self.wandb is not None:
            self.wandb.summary[f"final/{metric}/mean"] = float(np.mean(per_member))
            self.wandb.finish()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
