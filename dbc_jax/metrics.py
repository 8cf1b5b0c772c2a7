"""What a run logs and checks per chunk: ``metrics.jsonl`` (one record per epoch), and the non-finite check that
stops a run before a bad chunk is saved."""

from __future__ import annotations

import json
import os
import sys

import jax
import numpy as np
from ml_collections import ConfigDict

from dbc_jax.checkpoint import atomic_write_text
from dbc_jax.errors import NonFiniteError, WorkdirError
from dbc_jax.files import open_no_follow
from dbc_jax.grid import Grid


class MetricsLog:
    """Append-only JSONL of metric records; on resume, records past the checkpoint are dropped."""

    def __init__(self, path: str):
        self.path = path

    def records(self) -> list[dict]:
        """Every record. A torn last line (a process killed mid-write) is dropped with a warning: the records after
        the last checkpoint are dropped on resume anyway. A damaged line before it is an error naming the line."""
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            lines = [(i, line) for i, line in enumerate(f, 1) if line.strip()]
        records = []
        for i, line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                if i != lines[-1][0]:
                    raise WorkdirError(f"{self.path}, line {i}: not a JSON record ({error.msg}); the file was "
                                       "edited or damaged: restore it, or train in another workdir") from None
                print(f"warning: {self.path}, line {i}: a torn last record (the writer was stopped mid-line) is "
                      "dropped", file=sys.stderr)
        return records

    def truncate(self, model_epoch: int, policy_epoch: int) -> None:
        keep = [r for r in self.records() if r["phase"] == "grid"
                or r["epoch"] <= (model_epoch if r["phase"] == "model" else policy_epoch)]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))

    def append(self, records: list[dict]) -> None:
        fd = open_no_follow(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)


def check_finite(phase: str, info: dict, first_epoch: int, who: list[str], last_good: int | None) -> None:
    """Raise :class:`NonFiniteError` if a chunk's losses ([models or members, n] each) or parameter counts
    (``*/nonfinite_params``) show a NaN or an infinity: the phase, the epochs, the first bad epoch, its terms and
    members (``who``: a name per row)."""
    bad = {name: ~np.isfinite(v) | ((v > 0) if name.endswith("nonfinite_params") else False)
           for name, v in info.items()}
    hit = np.any(np.stack(list(bad.values())), axis=0)  # [rows, n]
    if not hit.any():
        return
    n = hit.shape[1]
    j = int(np.flatnonzero(hit.any(0))[0])
    terms = ", ".join(sorted(name for name, b in bad.items() if b[:, j].any()))
    rows = ", ".join(who[i] for i in np.flatnonzero(hit[:, j]))
    kept = f"checkpoint {last_good} stays the latest" if last_good is not None else "no checkpoint was written"
    raise NonFiniteError(
        f"{phase} epochs {first_epoch + 1}-{first_epoch + n}: non-finite values from epoch {first_epoch + j + 1} on, "
        f"in {terms}, for {rows}. The chunk was not saved ({kept}) and no results.json is written; lower the "
        f"learning rate or raise the grad clip, in a new workdir (a resumed run keeps its config).")


def model_names(config: ConfigDict, count: int) -> list[str]:
    """A name for each row of a pretraining chunk's info: the shared joint model, or each seed's."""
    if config[config.model].get("shared", True):
        return ["the shared joint model"]
    return [f"the joint model of seed {i}" for i in range(count)]


def member_names(grid: Grid) -> list[str]:
    """A name for each row of a policy chunk's info: each member (grid point and seed)."""
    return [f"member {i} ({grid.label(point)})" if grid.axes else f"seed {point['seed']}"
            for i, point in enumerate(grid.members())]


def chunk_records(phase: str, info: dict, first_epoch: int, updates_per_epoch: int) -> list[dict]:
    """One record per epoch from chunk infos [models or members, n]: the mean, and each model's or member's value
    (``<name>/per_model``, ``<name>/per_member``; the members in the order of the log's "grid" record)."""
    info = jax.tree.map(np.asarray, info)
    n = next(iter(info.values())).shape[1]
    suffix = "/per_model" if phase == "model" else "/per_member"
    records = []
    for j in range(n):
        epoch = first_epoch + j + 1
        rec = {"phase": phase, "epoch": epoch, "update": epoch * updates_per_epoch}
        for name, v in info.items():
            rec[name] = float(v[:, j].mean())
            rec[name + suffix] = v[:, j].tolist()
        records.append(rec)
    return records
