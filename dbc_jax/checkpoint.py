"""Orbax checkpoints and the workdir layout.

    <workdir>/config.json       the resolved config of the run
    <workdir>/checkpoints/<n>/  orbax: TrainState (joint model, policies, optimizer states, epochs, keys),
                                normalizer, meta
    <workdir>/metrics.jsonl     one record per epoch and per evaluation
    <workdir>/learning_curve.png
    <workdir>/results.json      final evaluation, per seed, with timings

A checkpoint's number is the count of epochs done, joint model plus policy, so it grows through both phases.
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


def atomic_save_figure(fig, path: str, dpi: int = 100) -> None:
    """Write a matplotlib figure as PNG atomically (a reader never sees half a file), then close it."""
    import matplotlib.pyplot as plt

    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)


def _on_this_host(leaf):
    spec = ocp.utils.to_shape_dtype_struct(leaf)
    if getattr(spec, "sharding", None) is None:
        spec = jax.ShapeDtypeStruct(spec.shape, spec.dtype,
                                    sharding=jax.sharding.SingleDeviceSharding(jax.devices()[0]))
    return spec


class Checkpoints:
    """A thin wrapper over ``ocp.CheckpointManager``: a pytree of arrays plus JSON meta per step."""

    def __init__(self, workdir: str, max_to_keep: int = 2):
        self.directory = os.path.join(os.path.abspath(workdir), "checkpoints")
        self.manager = ocp.CheckpointManager(
            self.directory, options=ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def read_meta(self, step: int) -> dict:
        """The JSON meta of checkpoint ``step`` alone (no arrays read)."""
        return self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta

    def save_tree(self, step: int, tree, meta: dict) -> None:
        """Save any pytree of arrays plus JSON ``meta`` as checkpoint ``step`` (blocks until written)."""
        self.manager.save(step, args=ocp.args.Composite(tree=ocp.args.StandardSave(tree),
                                                        meta=ocp.args.JsonSave(meta)))
        self.manager.wait_until_finished()

    def restore_tree(self, step: int, template):
        """Restore checkpoint ``step`` into the structure of ``template`` (concrete or abstract; None: as saved,
        nested dicts); (tree, meta). Leaves without a sharding of their own land on the default device, whatever
        devices the checkpoint was written from (a grid sharded over 4 devices restores on 1)."""
        abstract = None if template is None else jax.tree.map(_on_this_host, template)
        restored = self.manager.restore(step, args=ocp.args.Composite(tree=ocp.args.StandardRestore(abstract),
                                                                      meta=ocp.args.JsonRestore()))
        return restored.tree, restored.meta

    def save(self, step: int, state, normalizer, meta: dict) -> None:
        """A training run's checkpoint: ``{"state", "normalizer"}`` plus meta."""
        self.save_tree(step, {"state": state, "normalizer": normalizer}, meta)

    def restore(self, step: int, state_template, normalizer_template):
        """Restore a training run's checkpoint; returns (state, normalizer, meta)."""
        tree, meta = self.restore_tree(step, {"state": state_template, "normalizer": normalizer_template})
        return tree["state"], tree["normalizer"], meta

    def close(self) -> None:
        self.manager.close()


def read_json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)
