"""Orbax checkpoints and the workdir layout.

    <workdir>/config.json       the resolved config of the run
    <workdir>/checkpoints/<n>/  orbax: TrainState (both models, optimizer states, epochs, keys), normalizer, meta
    <workdir>/metrics.jsonl     one record per epoch and per evaluation
    <workdir>/learning_curve.png
    <workdir>/results.json      final evaluation, per seed, with timings

A checkpoint's number is the count of epochs done, diffusion plus policy, so it grows through both phases.
"""

from __future__ import annotations

import json
import os
import tempfile

import jax
import orbax.checkpoint as ocp


def atomic_write_text(path: str, text: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class Checkpoints:
    """A thin wrapper over ``ocp.CheckpointManager`` saving ``{"state", "normalizer"}`` plus JSON meta."""

    def __init__(self, workdir: str, max_to_keep: int = 2):
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def save(self, step: int, state, normalizer, meta: dict) -> None:
        tree = {"state": state, "normalizer": normalizer}
        self.manager.save(step, args=ocp.args.Composite(tree=ocp.args.StandardSave(tree),
                                                        meta=ocp.args.JsonSave(meta)))
        self.manager.wait_until_finished()

    def restore(self, step: int, state_template, normalizer_template):
        """Restore into the structure of the templates (concrete or abstract); returns (state, normalizer, meta)."""
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct,
                                {"state": state_template, "normalizer": normalizer_template})
        restored = self.manager.restore(step, args=ocp.args.Composite(tree=ocp.args.StandardRestore(abstract),
                                                                      meta=ocp.args.JsonRestore()))
        return restored.tree["state"], restored.tree["normalizer"], restored.meta

    def close(self) -> None:
        self.manager.close()


def read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)
