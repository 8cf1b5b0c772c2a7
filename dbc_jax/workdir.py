"""A run's workdir: its files, its checkpoints' metadata and layout, its identity (whether a config is the run it
holds), reading a saved run back without its demos, and the migration of earlier checkpoint layouts."""

from __future__ import annotations

import json
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from dbc_jax import configs as config_lib
from dbc_jax.checkpoint import Checkpoints, read_json
from dbc_jax.grid import Grid
from dbc_jax.normalization import Normalizer
from dbc_jax.tasks import get_task
from dbc_jax.trainer import TrainData, TrainFns, TrainState, make_train_fns


CHECKPOINT_LAYOUT = 2  # 0: before the joint-model component (dm_params, ...); 1: before grids (coeff_model)


def workdir_paths(workdir: str) -> dict:
    return {name: os.path.join(workdir, f) for name, f in (
        ("config", "config.json"), ("metrics", "metrics.jsonl"), ("learning_curve", "learning_curve.png"),
        ("results", "results.json"), ("episodes", "episodes.png"), ("trajectories", "trajectories.png"),
        ("checkpoints", "checkpoints"))}


def checkpoint_meta(state: TrainState, config: ConfigDict, data: TrainData) -> dict:
    return {"layout": CHECKPOINT_LAYOUT, "model_epoch": int(state.model_epoch),
            "policy_epoch": int(state.policy_epoch), "config": config.to_dict(), "processes": jax.process_count(),
            "grid": Grid.from_config(config).to_dict(), "action_bounds": [np.asarray(b).tolist()
                                                                          for b in data.action_bounds]}


def _checkpoint_layout(meta: dict) -> int:
    return meta.get("layout", 0 if "dm_epoch" in meta else 1)


def check_checkpoint_layout(meta: dict, workdir: str) -> None:
    """Refuse to resume a checkpoint written in an earlier layout (it can still be evaluated)."""
    layout = _checkpoint_layout(meta)
    if layout != CHECKPOINT_LAYOUT:
        before = "the joint-model component" if layout == 0 else "grids"
        raise ValueError(f"{workdir} was written by an earlier dbc_jax (checkpoints from before {before}): it can "
                         "still be evaluated (make eval), not resumed; pass another --config.workdir to train again")


def config_differences(config: ConfigDict, saved: dict) -> list[str]:
    """The fields that decide training in which a resolved ``config`` and a saved ``config.json`` differ: the
    joint model's name and section only for a run that uses one, ``dp`` and ``ibc`` only for their algorithm (so a
    finished BC run stays valid when the task's diffusion model settings change)."""
    current = json.loads(config.to_json())
    saved_path = saved.get("data", {}).get("path", "")
    if saved_path != current["data"]["path"] and _same_file(saved_path, current["data"]["path"]):
        saved = {**saved, "data": {**saved["data"], "path": current["data"]["path"]}}
    fields = ["env_name", "algo", "seed", "num_seeds", "env", "data", "policy", "grid"]
    fields += ["model", config.model] if config_lib.uses_joint_model(config) else []
    fields += [config.algo] if config.algo in ("dp", "ibc") else []
    return [f for f in fields if current.get(f) != saved.get(f)]


def _same_file(a: str, b: str) -> bool:
    """Two spellings of one existing data file (a symlink, ``..``, another checkout whose path leads to the same file):
    a run stays the same run. A moved checkout whose old path is gone does not match (that file cannot be checked)."""
    return bool(a) and bool(b) and not a.startswith("minari:") and os.path.realpath(a) == os.path.realpath(b)


def check_same_run(config: ConfigDict, saved: dict, workdir: str) -> None:
    diff = config_differences(config, config_lib.upgrade(saved))
    if diff:
        raise ValueError(f"{workdir} holds a run with a different config ({', '.join(diff)} differ); "
                         "pass another --config.workdir to start a new run")


def saved_results(config: ConfigDict) -> dict | None:
    """The ``results.json`` of the finished run in ``config.workdir`` if it was trained with this config, else None
    (experiment scripts reuse finished runs and resume the others)."""
    path = os.path.join(config.workdir, "results.json")
    if not os.path.exists(path):
        return None
    saved = config_lib.upgrade(read_json(os.path.join(config.workdir, "config.json")))
    return None if config_differences(config_lib.resolve(config), saved) else read_json(path)


SAMPLER_SECTIONS = ("dp", "ibc")  # inference-only settings: a saved run can be re-evaluated with other values


def apply_sampler_overrides(config: ConfigDict, overrides: dict | None) -> None:
    """Set ``{"ibc.num_samples": 1024, ...}`` on ``config``, cast to each field's type; only the samplers' sections
    (``SAMPLER_SECTIONS``), since the trained parameters fix everything else."""
    for key, value in (overrides or {}).items():
        section, _, field = key.partition(".")
        if section not in SAMPLER_SECTIONS or field not in config.get(section, {}):
            known = ", ".join(f"{s}.{f}" for s in SAMPLER_SECTIONS if s in config for f in config[s])
            raise ValueError(f"sampler override '{key}': not a sampler setting (known: {known})")
        kind = type(config[section][field])
        try:
            config[section][field] = kind(value)
        except ValueError:
            raise ValueError(f"sampler override '{key}': expected {kind.__name__}, got {value!r}") from None


class Restored(NamedTuple):
    """A saved run, as ``restore_workdir`` gives it back."""

    config: ConfigDict
    state: TrainState
    normalizer: Normalizer
    action_bounds: tuple  # (low, high) of the normalized actions, from the checkpoint
    fns: TrainFns


def _data_spec(obs_dim: int, act_dim: int) -> TrainData:
    """The shapes of a TrainData (one item), enough for ``jax.eval_shape`` to lay out a TrainState."""
    f32 = lambda *shape: jax.ShapeDtypeStruct(shape, jnp.float32)  # noqa: E731
    return TrainData(obs=f32(1, obs_dim), actions=f32(1, act_dim), action_bounds=(f32(act_dim), f32(act_dim)),
                     normalizer=Normalizer(f32(obs_dim), f32(obs_dim), f32(act_dim), f32(act_dim)))


def restore_workdir(workdir: str, sampler: dict | None = None) -> Restored:
    """The latest checkpoint of ``workdir``, read without its demos; ``sampler`` overrides inference settings
    (``apply_sampler_overrides``)."""
    workdir = os.path.abspath(workdir)
    config_path = os.path.join(workdir, "config.json")
    if not os.path.exists(config_path):
        raise ValueError(f"{workdir}: no config.json (not a dbc_jax workdir)")
    config = ConfigDict(config_lib.upgrade(read_json(config_path)))
    ckpt = Checkpoints(workdir, config.checkpoint.max_to_keep)
    step = ckpt.latest_step()
    if step is None:
        raise ValueError(f"{workdir}: no checkpoint to evaluate")
    try:
        meta = ckpt.read_meta(step)
    except Exception:  # noqa: BLE001 -- a damaged newest checkpoint: restore_intact names it and falls back
        meta = {"layout": CHECKPOINT_LAYOUT}
    if "config" in meta:  # the checkpoint's own config decides the task and networks, not an edited config.json
        differ = config_differences(config, config_lib.upgrade(meta["config"]))
        if differ:
            raise ValueError(f"{config_path} disagrees with checkpoint {step}'s own config ({', '.join(differ)} "
                             "differ): it was edited after training; restore it, or train again in another workdir")
    apply_sampler_overrides(config, sampler)
    config = config_lib.resolve(config)  # a config read from a file enters here, checked once
    task = get_task(config.env_name)
    fns = make_train_fns(config, task.obs_dim, task.act_dim)
    template = jax.eval_shape(fns.init, jax.random.PRNGKey(0), _data_spec(task.obs_dim, task.act_dim),
                              fns.grid.hparams())
    if _checkpoint_layout(meta) == CHECKPOINT_LAYOUT:
        norm_template = Normalizer(*(jax.ShapeDtypeStruct((d,), jnp.float32)
                                     for d in (task.obs_dim, task.obs_dim, task.act_dim, task.act_dim)),
                                   enabled=config.data.normalize)
        _, tree, meta = ckpt.restore_intact({"state": template, "normalizer": norm_template}, quarantine=False)
        state, normalizer = tree["state"], tree["normalizer"]
    else:
        state, normalizer = _restore_earlier_layout(ckpt, step, template, fns)
    # Checkpoints older than DP/IBC saved no bounds: DBC, all they could hold, needs none.
    bounds = tuple(np.asarray(b, np.float32) for b in meta.get("action_bounds")
                   or (np.zeros(task.act_dim), np.ones(task.act_dim)))
    ckpt.close()
    return Restored(config, state, normalizer, bounds, fns)


def _restore_earlier_layout(ckpt: Checkpoints, step: int, template: TrainState, fns: TrainFns):
    """A checkpoint of an earlier layout, read by name: policies, joint-model parameters, epochs and normalizer;
    the rest (optimizer states, keys) left at zero, since such a run is evaluated, never resumed
    (:func:`check_checkpoint_layout`)."""
    tree, meta = ckpt.restore_tree(step, None)
    saved = tree["state"]
    state = jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), template).replace(hparams=fns.grid.hparams())
    if _checkpoint_layout(meta) == 0:
        model_params, model_epoch = saved["dm_params"], saved["dm_epoch"]
    else:
        model_params, model_epoch = saved["model"]["params"] if fns.model_count else None, saved["model_epoch"]
    if fns.model_count:
        state = state.replace(model=state.model.replace(params=model_params))
    state = state.replace(policy_params=saved["policy_params"], model_epoch=jnp.asarray(model_epoch),
                          policy_epoch=jnp.asarray(saved["policy_epoch"]))
    return state, Normalizer(**tree["normalizer"])
