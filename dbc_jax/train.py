"""The training driver: demos, workdir, chunks, sharding, evaluation, checkpoints, logs.

``train(config)`` feeds the pure functions of :mod:`dbc_jax.trainer` chunk by chunk: it prepares the demos, lays
the run's members (grid points x seeds, ``dbc_jax/grid.py``) over the available devices with ``jax.sharding``,
checkpoints after every chunk with orbax, evaluates every member in one evaluator call, and logs
``metrics.jsonl`` and a learning-curve plot. An existing workdir is resumed from its latest checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from ml_collections import ConfigDict
from tqdm.auto import tqdm

from dbc_jax import configs as config_lib
from dbc_jax import tensorboard
from dbc_jax.checkpoint import Checkpoints, atomic_save_figure, atomic_write_text, read_json, workdir_lock
from dbc_jax.data import Dataset, check_compatible, load_dataset
from dbc_jax.tasks import Task, get_task
from dbc_jax.errors import NonFiniteError
from dbc_jax.evaluate import EvalResult, make_evaluator, make_policy_fn
from dbc_jax.grid import Grid
from dbc_jax.normalization import Normalizer
from dbc_jax.provenance import code_version
from dbc_jax.trainer import TrainData, TrainFns, TrainState, eval_key, make_train

__all__ = ["Results", "TrainData", "TrainState", "evaluate_workdir", "make_train", "restore_workdir", "train"]

CHECKPOINT_LAYOUT = 2  # 0: before the joint-model component (dm_params, ...); 1: before grids (coeff_model)


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
                **({"episodes": {k: v.tolist() for k, v in self.evaluation.episodes.items()}}
                   if self.evaluation.episodes is not None else {})}


def default_data_path(config: ConfigDict) -> str:
    """The project's own demo file for a config: ``data/<env>_expert_<num_episodes>ep.npz``, or
    ``<num_transitions>tr.npz`` for demos counted in transitions (``data.expert.num_transitions``)."""
    transitions = config.data.expert.get("num_transitions", 0) if "expert" in config.data else 0
    size = f"{transitions}tr" if transitions else f"{config.data.num_episodes}ep"
    return os.path.join("data", f"{config.env_name}_expert_{size}.npz")


def _demo_settings(config: ConfigDict) -> dict:
    """What, besides the episode count, decides the demos; recorded in the file's metadata."""
    from dbc_jax.experts import expert_identity

    expert = config.data.expert.to_dict() if "expert" in config.data else {}
    return {"seed": config.data.seed, **config.env, **expert, **expert_identity(config.env_name, expert)}


def make_demos(config: ConfigDict, path: str | None = None, progress: bool = True) -> str:
    """Generate the task's expert demos into the project's dataset file; returns its path."""
    from dbc_jax.experts import generate_demos

    path = path or config.data.path or default_data_path(config)
    dataset = generate_demos(config.env_name, num_episodes=config.data.num_episodes, progress=progress,
                             **_demo_settings(config))
    dataset.save(path)
    return path


def prepare_dataset(config: ConfigDict, task: Task, progress: bool = True) -> Dataset:
    """Load the demos and check them. With no ``data.path``, the project's own file is used, and (re)made by the
    expert when it is missing or was made with other settings."""
    path = config.data.path or default_data_path(config)
    dataset = load_dataset(path) if config.data.path or os.path.exists(path) else None
    if not config.data.path:
        settings = _demo_settings(config)
        made_with = dataset.metadata if dataset is not None else {}
        stale = {k: made_with.get(k) for k, v in settings.items() if dataset is not None and made_with.get(k) != v}
        if stale:
            print(f"{path} was made with {stale}, this config asks for "
                  f"{ {k: settings[k] for k in stale} }: regenerating.")
        if dataset is None or stale:
            print(f"Generating {config.data.num_episodes} {config.env_name} demos with the expert into {path}.")
            dataset = load_dataset(make_demos(config, path, progress))
    batch_sizes = {"policy.batch_size": config.policy.batch_size}
    if config_lib.pretrains_model(config):
        batch_sizes[f"{config.model}.batch_size"] = config[config.model].batch_size
    check_compatible(dataset, task.obs_dim, task.act_dim, batch_sizes, config.env_name)
    return dataset


class MetricsLog:
    """Append-only JSONL of metric records; on resume, records past the checkpoint are dropped."""

    def __init__(self, path: str):
        self.path = path

    def records(self) -> list[dict]:
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def truncate(self, model_epoch: int, policy_epoch: int) -> None:
        keep = [r for r in self.records() if r["phase"] == "grid"
                or r["epoch"] <= (model_epoch if r["phase"] == "model" else policy_epoch)]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))

    def append(self, records: list[dict]) -> None:
        with open(self.path, "a") as f:
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


def _who(phase: str, config: ConfigDict, grid: Grid, rows: int) -> list[str]:
    """A name for each row of a chunk's info: the joint model(s), or the members (grid point and seed)."""
    if phase == "model":
        shared = config[config.model].get("shared", True)
        return ["the shared joint model"] if shared else [f"the joint model of seed {i}" for i in range(rows)]
    return [f"member {i} ({grid.label(point)})" if grid.axes else f"seed {point['seed']}"
            for i, point in enumerate(grid.members())]


def _chunk_records(phase: str, info: dict, first_epoch: int, updates_per_epoch: int) -> list[dict]:
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


PATH_EPISODES = 8  # episodes per member whose paths trajectories.png draws (tasks with a draw_paths)


def run_evaluator(config: ConfigDict, fns: TrainFns, normalizer: Normalizer, action_bounds):
    """The evaluator of a run: one for every member; a member plays the episodes of its seed (its grid point does
    not matter)."""
    policy_fn = make_policy_fn(lambda params, obs, key: fns.act(params, obs, key, action_bounds), normalizer)
    record = PATH_EPISODES if get_task(config.env_name).draw_paths else 0
    return make_evaluator(config.env_name, dict(config.env), config.num_seeds, config.eval.num_episodes, policy_fn,
                          config.eval.get("backend", "auto"), member_seeds=np.asarray(fns.grid.hparams().seed),
                          record=record)


def _state_meta(state: TrainState, config: ConfigDict, data: TrainData) -> dict:
    return {"layout": CHECKPOINT_LAYOUT, "model_epoch": int(state.model_epoch),
            "policy_epoch": int(state.policy_epoch), "config": config.to_dict(),
            "grid": Grid.from_config(config).to_dict(), "action_bounds": [np.asarray(b).tolist()
                                                                          for b in data.action_bounds]}


def _checkpoint_layout(meta: dict) -> int:
    return meta.get("layout", 0 if "dm_epoch" in meta else 1)


def _check_checkpoint_layout(meta: dict, workdir: str) -> None:
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


def _check_same_run(config: ConfigDict, saved: dict, workdir: str) -> None:
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


def member_mesh(num_members: int) -> Mesh | None:
    """A 1-D mesh ("members") over as many local devices as divide the member count; None on one device.

    Multi-host: after ``jax.distributed.initialize()`` on every host, ``jax.devices()`` lists every host's devices
    and the same mesh spans them; the driver's host-side parts (checkpoints, logs, the C MuJoCo evaluator) would then
    have to run on process 0 only, which this driver does not do.
    """
    devices = jax.devices()
    usable = max(d for d in range(1, len(devices) + 1) if num_members % d == 0)
    if usable < len(devices):
        print(f"{num_members} members over {usable} of the {len(devices)} devices (the member count must divide "
              "evenly; a grid size that is a multiple of the device count uses them all).")
    return Mesh(np.array(devices[:usable]), ("members",)) if usable > 1 else None


def shard_members(tree, mesh: Mesh | None, num_members: int):
    """Lay every leaf with a leading member axis over the mesh and replicate the rest (identity without a mesh)."""
    if mesh is None:
        return tree

    def place(x):
        spec = PartitionSpec("members") if np.ndim(x) and np.shape(x)[0] == num_members else PartitionSpec()
        return jax.device_put(x, NamedSharding(mesh, spec))

    return jax.tree.map(place, tree)


def _workdir_paths(workdir: str) -> dict:
    return {name: os.path.join(workdir, f) for name, f in (
        ("config", "config.json"), ("metrics", "metrics.jsonl"), ("learning_curve", "learning_curve.png"),
        ("results", "results.json"), ("episodes", "episodes.png"), ("trajectories", "trajectories.png"),
        ("checkpoints", "checkpoints"))}


def train(config: ConfigDict, progress: bool = True) -> Results:
    """Train every member of the config's grid (``config.num_seeds`` seeds per point; DBC's joint model too),
    evaluate, and return :class:`Results`. An existing ``config.workdir`` with checkpoints is resumed."""
    config = config_lib.resolve(config)
    task = get_task(config.env_name)
    tensorboard.check_available(config)
    dataset = prepare_dataset(config, task, progress)
    raw = None if config.data.normalize else Normalizer.identity(task.obs_dim, task.act_dim)
    data = TrainData.from_demos(dataset.obs, dataset.actions, normalizer=raw)

    workdir = os.path.abspath(config.workdir)
    with workdir_lock(workdir):
        return _train_in(workdir, config, task, data, progress)


def _train_in(workdir: str, config: ConfigDict, task: Task, data: TrainData, progress: bool) -> Results:
    """``train`` once the demos are ready and the workdir is locked."""
    normalizer = data.normalizer
    paths = _workdir_paths(workdir)
    ckpt = Checkpoints(workdir, config.checkpoint.max_to_keep, writer=True)
    log = MetricsLog(paths["metrics"])

    fns = make_train(config, task.obs_dim, task.act_dim)
    grid = fns.grid
    updates = fns.updates_per_epoch(data.num_items)
    state = fns.init(jax.random.PRNGKey(config.seed), data, grid.hparams())
    spent = {}  # seconds per phase in earlier sittings (checkpoints written before this field: not counted)
    code = [code_version()]  # the code of every sitting (checkpoints written before this field: this one only)
    if ckpt.latest_step() is not None:
        _check_same_run(config, read_json(paths["config"]), workdir)
        _, tree, meta = ckpt.restore_intact({"state": state, "normalizer": normalizer},
                                            check_meta=lambda m: _check_checkpoint_layout(m, workdir))
        state, saved_normalizer = tree["state"], tree["normalizer"]
        if not all(np.allclose(a, b) for a, b in zip(jax.tree.leaves(saved_normalizer), jax.tree.leaves(normalizer))):
            raise ValueError(f"{workdir}: the dataset's normalization differs from the checkpoint's "
                             f"({config.data.path or default_data_path(config)} changed since training)")
        log.truncate(meta["model_epoch"], meta["policy_epoch"])
        spent = meta.get("timings", {})
        code = meta.get("code", []) + [c for c in code if c not in meta.get("code", [])]
        print(f"Resuming {workdir} at {config.model} epoch {meta['model_epoch']}, "
              f"policy epoch {meta['policy_epoch']}.")
    else:
        atomic_write_text(paths["config"], config.to_json(indent=2))
        log.truncate(0, 0)
        log.append([{"phase": "grid", **grid.to_dict()}])
    model_total = config_lib.pretrain_epochs(config)
    pretrain_updates = model_total * updates["model"]
    done = (int(state.model_epoch) * updates["model"] if int(state.policy_epoch) == 0
            else pretrain_updates + int(state.policy_epoch) * updates["policy"])
    loggers = tensorboard.RunLoggers(workdir, config, grid, pretrain_updates,
                                     resume_update=done if ckpt.latest_step() is not None else None)
    try:
        results = _run_phases(workdir, config, task, data, fns, state, ckpt, log, loggers, paths, progress, spent,
                              code)
    finally:
        loggers.close()
    return results


def _run_phases(workdir: str, config: ConfigDict, task: Task, data: TrainData, fns: TrainFns, state: TrainState,
                ckpt: Checkpoints, log: MetricsLog, loggers: tensorboard.RunLoggers, paths: dict,
                progress: bool, spent: dict, code: list) -> Results:
    """Phase 1 (the joint model) and phase 2 (the policies, with evaluations) from ``state`` on, then results.
    ``spent``: seconds per phase of earlier sittings, which the timings add to; ``code``: every sitting's code."""
    normalizer, grid = data.normalizer, fns.grid
    updates = fns.updates_per_epoch(data.num_items)
    mesh = member_mesh(grid.num_members)
    state, data = shard_members(state, mesh, grid.num_members), shard_members(data, mesh, grid.num_members)

    timings = {key: float(spent.get(key, 0.0)) for key in ("model_s", "policy_s", "evaluation_s")}

    def meta_now(model_s=0.0, policy_s=0.0, evaluation_s=0.0) -> dict:  # this sitting's seconds so far, added
        now = {"model_s": model_s, "policy_s": policy_s, "evaluation_s": evaluation_s}
        return {**_state_meta(state, config, data), "timings": {k: timings[k] + v for k, v in now.items()},
                "code": code}

    # Phase 1: joint-model pretraining (none for BC, DP, IBC or the online GAN).
    model_total = config_lib.pretrain_epochs(config)
    t0 = time.perf_counter()
    with tqdm(total=model_total, initial=int(state.model_epoch), desc=config.model, unit="ep",
              disable=not progress or model_total == 0) as bar:
        while int(state.model_epoch) < model_total:
            first = int(state.model_epoch)
            n = min(config[config.model].log_every_epochs, model_total - first)
            state, info = fns.model_epochs(state, data, n)
            info = jax.tree.map(np.asarray, info)
            check_finite(config.model, info, first, _who("model", config, grid, len(info["model/loss"])),
                         ckpt.latest_step())
            records = _chunk_records("model", info, first, updates["model"])
            ckpt.save(first + n + int(state.policy_epoch), state, normalizer,
                      meta_now(model_s=time.perf_counter() - t0))
            log.append(records)
            loggers.write(records)
            bar.update(n)
            bar.set_postfix(loss=f"{records[-1]['model/loss']:.4f}")
    timings["model_s"] += time.perf_counter() - t0

    # Phase 2: the policies, with periodic evaluation of every member in one evaluator call.
    evaluator = run_evaluator(config, fns, normalizer, data.action_bounds)
    pol_total = config.policy.epochs
    evaluation = None
    t0, eval_time = time.perf_counter(), 0.0
    members = f" x {grid.num_members} members" if grid.axes else ""
    with tqdm(total=pol_total, initial=int(state.policy_epoch), desc=f"{config.algo} policy{members}", unit="ep",
              disable=not progress) as bar:
        while int(state.policy_epoch) < pol_total:
            first = int(state.policy_epoch)
            n = min(config.policy.log_every_epochs, pol_total - first)
            state, info = fns.policy_epochs(state, data, n)
            info = jax.tree.map(np.asarray, info)
            check_finite(f"{config.algo} policy", info, first, _who("policy", config, grid, grid.num_members),
                         ckpt.latest_step())
            epoch = first + n
            records = _chunk_records("policy", info, first, updates["policy"])
            postfix = {"loss": f"{records[-1]['loss/total']:.4f}"}
            evaluate_now = (config.eval.every_epochs and epoch % config.eval.every_epochs == 0) or epoch == pol_total
            if evaluate_now:
                te = time.perf_counter()
                evaluation = evaluator(state.policy_params, eval_key(config.seed, epoch))
                eval_time += time.perf_counter() - te
                records.append({"phase": "eval", "epoch": epoch, "update": epoch * updates["policy"],
                                **evaluation.to_dict()})
                postfix[task.metric] = f"{evaluation.metric(task.metric).mean():.3g}"
            ckpt.save(int(state.model_epoch) + epoch, state, normalizer,
                      meta_now(policy_s=time.perf_counter() - t0 - eval_time, evaluation_s=eval_time))
            log.append(records)
            loggers.write(records)
            bar.update(n)
            bar.set_postfix(postfix)
            if evaluate_now:
                plot_learning_curve(log.records(), task.metric, paths["learning_curve"], grid)
    timings["policy_s"] += time.perf_counter() - t0 - eval_time
    timings["evaluation_s"] += eval_time
    if evaluation is None:  # already trained (a finished workdir): evaluate the final policies again
        evaluation = evaluator(state.policy_params, eval_key(config.seed, pol_total))
        plot_learning_curve(log.records(), task.metric, paths["learning_curve"], grid)
    evaluator.close()
    ckpt.close()
    if not task.draw_paths:
        paths = {k: v for k, v in paths.items() if k != "trajectories"}  # only tasks that draw paths write it
    results = Results(config=config, metric=task.metric, evaluation=evaluation, grid=grid, workdir=workdir,
                      paths=paths, timings=timings, code=code)
    atomic_write_text(paths["results"], json.dumps(results.to_dict(), indent=2))
    plot_evaluation(evaluation, task, workdir, grid,
                    f"{config.env_name} / {config.algo} / preset {config.preset}: final evaluation")
    loggers.finish(config, task.metric, evaluation.metric(task.metric))  # a rate, as the eval/ tags
    return results


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
    apply_sampler_overrides(config, sampler)
    ckpt = Checkpoints(workdir, config.checkpoint.max_to_keep)
    step = ckpt.latest_step()
    if step is None:
        raise ValueError(f"{workdir}: no checkpoint to evaluate")
    task = get_task(config.env_name)
    fns = make_train(config, task.obs_dim, task.act_dim)
    template = jax.eval_shape(fns.init, jax.random.PRNGKey(0), _data_spec(task.obs_dim, task.act_dim),
                              fns.grid.hparams())
    try:
        meta = ckpt.read_meta(step)
    except Exception:  # noqa: BLE001 -- a damaged newest checkpoint: restore_intact names it and falls back
        meta = {"layout": CHECKPOINT_LAYOUT}
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
    (:func:`_check_checkpoint_layout`)."""
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


def evaluate_workdir(workdir: str, num_episodes: int | None = None, sampler: dict | None = None,
                     backend: str | None = None, env: dict | None = None) -> Results:
    """Evaluate the policies of a saved run (its latest checkpoint) with the run's own evaluation protocol;
    ``sampler`` changes DP's/IBC's inference settings, e.g. ``{"ibc.num_samples": 1024}``; ``backend`` the
    evaluation backend ("auto", "c", "mjx"); ``env`` the env's settings, e.g. ``{"noise_ratio": 1.5}`` to test
    generalization beyond the training distribution."""
    config, state, normalizer, bounds, fns = restore_workdir(workdir, sampler)
    if num_episodes:
        config.eval.num_episodes = num_episodes
    if backend:
        config.eval.backend = backend
    for name, value in (env or {}).items():
        if name not in config.env:
            known = ", ".join(config.env) or "none"
            raise ValueError(f"env override '{name}': not a field of config.env (known: {known})")
        config.env[name] = type(config.env[name])(value)
    task = get_task(config.env_name)
    evaluator = run_evaluator(config, fns, normalizer, bounds)
    evaluation = evaluator(state.policy_params, eval_key(config.seed, int(state.policy_epoch)))
    evaluator.close()
    return Results(config=config, metric=task.metric, evaluation=evaluation, grid=fns.grid,
                   workdir=os.path.abspath(workdir),
                   paths={"checkpoints": os.path.join(os.path.abspath(workdir), "checkpoints")})


def plot_evaluation(evaluation: EvalResult, task: Task, workdir: str, grid: Grid, title: str) -> list[str]:
    """``episodes.png`` and, for a task that draws its paths, ``trajectories.png`` in ``workdir``; their paths."""
    paths = _workdir_paths(workdir)
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
    fig.suptitle(title + " (green: success, red: failure; dot: start, star: goal)")
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=90)


def plot_learning_curve(records: list[dict], metric: str, path: str, grid: Grid) -> None:
    """Joint-model loss, policy losses and evaluation metric against updates, written atomically as PNG; the
    evaluation panel has a line per seed (a plain run) or per grid point (mean over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pretrain = [r for r in records if r["phase"] == "model"]
    pol = [r for r in records if r["phase"] == "policy"]
    ev = [r for r in records if r["phase"] == "eval"]
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
    axes[2].set(title="evaluation", xlabel="update", ylabel="success rate (%)" if metric == "success" else "return")
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=90)
