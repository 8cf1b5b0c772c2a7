"""The run: ``train(config)`` prepares the demos (``demos.py``), locks and reads the workdir (``workdir.py``), lays the
members over the devices (``sharding.py``), feeds the pure functions of :mod:`dbc_jax.trainer` chunk by chunk through
both phases, checkpoints after every chunk with orbax, evaluates every member in one evaluator call, and logs
(``metrics.py``, ``tensorboard.py``) and draws (``plots.py``) what it did. An existing workdir is resumed from its
latest checkpoint. ``evaluate_workdir`` evaluates a saved run again.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import Callable, NamedTuple

import jax
import numpy as np
from ml_collections import ConfigDict
from tqdm.auto import tqdm

from dbc_jax import configs as config_lib
from dbc_jax import distributed, tensorboard, trainer
from dbc_jax.checkpoint import Checkpoints, atomic_write_text, read_json, workdir_lock
from dbc_jax.demos import default_data_path, prepare_dataset
from dbc_jax.errors import WorkdirBusyError, stop_requested
from dbc_jax.estimate import evaluation_epochs
from dbc_jax.evaluate import EvalResult, make_evaluator, make_policy_fn
from dbc_jax.metrics import MetricsLog, check_finite, chunk_records, member_names, model_names
from dbc_jax.normalization import Normalizer
from dbc_jax.plots import plot_evaluation, plot_learning_curve
from dbc_jax.provenance import code_version
from dbc_jax.results import Results
from dbc_jax.sharding import member_mesh, shard_members
from dbc_jax.tasks import Task, get_task
from dbc_jax.trainer import TrainData, TrainFns, TrainState, eval_key
from dbc_jax.workdir import (check_checkpoint_layout, check_same_run, checkpoint_meta, restore_workdir,
                             workdir_paths)

__all__ = ["Results", "evaluate_workdir", "make_train", "run_evaluator", "train"]

PATH_EPISODES = 8  # episodes per member whose paths trajectories.png draws (tasks with a draw_paths)


def run_evaluator(config: ConfigDict, fns: TrainFns, normalizer: Normalizer, action_bounds,
                  members: range | None = None):
    """The evaluator of a run: one for every member (or for ``members``, this process's part of a multi-process
    run); a member plays the episodes of its seed (its grid point does not matter)."""
    policy_fn = make_policy_fn(lambda params, obs, key: fns.act(params, obs, key, action_bounds), normalizer)
    record = PATH_EPISODES if get_task(config.env_name).draw_paths else 0
    seeds = np.asarray(fns.grid.hparams().seed)
    members = members or range(len(seeds))
    return make_evaluator(config.env_name, dict(config.env), config.num_seeds, config.eval.num_episodes, policy_fn,
                          config.eval.backend, member_seeds=seeds[members.start:members.stop], record=record,
                          first_member=members.start, total_members=len(seeds))


def make_train(config: ConfigDict, obs_dim: int, act_dim: int, squeeze_one: bool = True) -> TrainFns:
    """The pure training functions of :func:`dbc_jax.trainer.make_train_fns` for a config of the user's, resolved
    (checked, its derived fields filled) here, once."""
    return trainer.make_train_fns(config_lib.resolve(config), obs_dim, act_dim, squeeze_one)


def train(config: ConfigDict, progress: bool = True) -> Results:
    """Train every member of the config's grid (``config.num_seeds`` seeds per point; DBC's joint model too),
    evaluate, and return :class:`Results`. An existing ``config.workdir`` with checkpoints is resumed.

    After ``jax.distributed`` is initialized (:mod:`dbc_jax.distributed`), every process calls this with the same
    config: the members are laid over all processes' devices and process 0 writes the workdir's files. A failure on
    any process then ends every process (``distributed.stop_all_on_error``)."""
    with distributed.stop_all_on_error():
        return _train(config, progress)


def _train(config: ConfigDict, progress: bool) -> Results:
    config = config_lib.resolve(config)
    task = get_task(config.env_name)
    tensorboard.check_available(config)
    if distributed.is_writer():  # process 0 makes the demos if they are missing; the others then read them
        dataset = prepare_dataset(config, task, progress)
    distributed.barrier("demos ready")
    if not distributed.is_writer():
        dataset = prepare_dataset(config, task, progress=False)
    raw = None if config.data.normalize else Normalizer.identity(task.obs_dim, task.act_dim)
    data = TrainData.from_demos(dataset.obs, dataset.actions, normalizer=raw)

    workdir = os.path.abspath(config.workdir)
    with _writer_lock(workdir):
        return _train_in(workdir, config, task, data, progress and distributed.is_writer())


@contextlib.contextmanager
def _writer_lock(workdir: str):
    """The workdir's lock, held by process 0 (the writer); every process learns whether it got it."""
    with contextlib.ExitStack() as stack:
        error = None
        if distributed.is_writer():
            try:
                stack.enter_context(workdir_lock(workdir))
            except WorkdirBusyError as busy:
                error = busy
        if not distributed.all_agree(error is None):
            raise error or WorkdirBusyError(f"{workdir}: process 0 could not lock this workdir (another run is "
                                            "writing to it)")
        yield


class Phase(NamedTuple):
    """One of a run's two phases, with its numbers computed once: the joint model's pretraining, then the
    policies (which alone are evaluated)."""

    name: str  # "model" or "policy": its records' phase, its epoch counter in the TrainState and its timing
    label: str  # its name in a non-finite error
    desc: str  # its progress bar's name
    epochs: int  # its total epochs (0: the run has no such phase)
    chunk: int  # epochs per compiled call: the log, progress and checkpoint interval
    updates_per_epoch: int
    run: Callable  # (state, data, n) -> (state, info [rows, n])
    who: list  # a name per row of its info: the joint models, or the members
    loss: str  # the record field its progress bar shows
    evaluates: bool  # whether the members are evaluated in it

    def epoch(self, state: TrainState) -> int:
        return int(getattr(state, f"{self.name}_epoch"))


def plan_phases(config: ConfigDict, fns: TrainFns, num_items: int) -> tuple[Phase, Phase]:
    """The run's two phases (phase 1 has 0 epochs for BC, DP, IBC and the online GAN)."""
    updates, grid, model = fns.updates_per_epoch(num_items), fns.grid, config[config.model]
    policy = f"{config.algo} policy"
    return (Phase("model", config.model, config.model, fns.pretrain_epochs, model.get("log_every_epochs", 1),
                  updates["model"], fns.model_epochs, model_names(config, fns.model_count), "model/loss", False),
            Phase("policy", policy, policy + (f" x {grid.num_members} members" if grid.axes else ""),
                  config.policy.epochs, config.policy.log_every_epochs, updates["policy"], fns.policy_epochs,
                  member_names(grid), "loss/total", True))


def _train_in(workdir: str, config: ConfigDict, task: Task, data: TrainData, progress: bool) -> Results:
    """``train`` once the demos are ready and the workdir is locked."""
    normalizer, writer = data.normalizer, distributed.is_writer()
    paths = workdir_paths(workdir)
    ckpt = Checkpoints(workdir, config.checkpoint.max_to_keep, writer=True)
    log = MetricsLog(paths["metrics"])

    fns = trainer.make_train_fns(config, task.obs_dim, task.act_dim)
    phases = plan_phases(config, fns, data.num_items)
    mesh = member_mesh(fns.grid.num_members)
    # Laid over the devices before a restore, which then reads each process's shards straight onto its devices.
    state = shard_members(fns.init(jax.random.PRNGKey(config.seed), data, fns.grid.hparams()), mesh,
                          fns.grid.num_members)
    spent = {}  # seconds per phase in earlier sittings (checkpoints written before this field: not counted)
    code = [code_version()]  # the code of every sitting (checkpoints written before this field: this one only)
    if ckpt.latest_step() is not None:
        check_same_run(config, read_json(paths["config"]), workdir)
        _, tree, meta = ckpt.restore_intact({"state": state, "normalizer": shard_members(normalizer, mesh, None)},
                                            check_meta=lambda m: check_checkpoint_layout(m, workdir))
        state, saved_normalizer = tree["state"], distributed.to_host(tree["normalizer"])
        if not all(np.allclose(a, b) for a, b in zip(jax.tree.leaves(saved_normalizer), jax.tree.leaves(normalizer))):
            raise ValueError(f"{workdir}: the dataset's normalization differs from the checkpoint's "
                             f"({config.data.path or default_data_path(config)} changed since training)")
        if writer:
            log.truncate(meta["model_epoch"], meta["policy_epoch"])
        spent = meta.get("timings", {})
        code = meta.get("code", []) + [c for c in code if c not in meta.get("code", [])]
        if writer:
            print(f"Resuming {workdir} at {config.model} epoch {meta['model_epoch']}, "
                  f"policy epoch {meta['policy_epoch']}.")
    elif writer:
        atomic_write_text(paths["config"], config.to_json(indent=2))
        log.truncate(0, 0)
        log.append([{"phase": "grid", **fns.grid.to_dict()}])
    model, policy = phases
    pretrain_updates = model.epochs * model.updates_per_epoch
    done = (model.epoch(state) * model.updates_per_epoch if policy.epoch(state) == 0
            else pretrain_updates + policy.epoch(state) * policy.updates_per_epoch)
    loggers = tensorboard.RunLoggers(workdir, config, fns.grid, pretrain_updates,
                                     resume_update=done if ckpt.latest_step() is not None else None, writer=writer)
    try:
        results = _run_phases(workdir, config, task, data, fns, phases, mesh, state, ckpt, log, loggers, paths,
                              progress, spent, code)
    finally:
        loggers.close()
    return results


def _run_phases(workdir: str, config: ConfigDict, task: Task, data: TrainData, fns: TrainFns, phases: tuple, mesh,
                state: TrainState, ckpt: Checkpoints, log: MetricsLog, loggers: tensorboard.RunLoggers, paths: dict,
                progress: bool, spent: dict, code: list) -> Results:
    """Both phases from ``state`` (laid over ``mesh``) on, one chunk loop for both, then the results. ``spent``:
    seconds per phase of earlier sittings, which the timings add to; ``code``: every sitting's code. Process 0 alone
    writes the metrics, plots and results of a multi-process run."""
    normalizer, grid, writer = data.normalizer, fns.grid, distributed.is_writer()
    bounds = data.action_bounds  # this process's copy, for its evaluator
    data = shard_members(data, mesh, None)  # replicated on every device
    saved_normalizer = shard_members(normalizer, mesh, None)  # orbax saves global arrays only
    timings = {key: float(spent.get(key, 0.0)) for key in ("model_s", "policy_s", "evaluation_s")}
    pol_total = phases[1].epochs
    final_update = pol_total * phases[1].updates_per_epoch  # where the reported final evaluation is drawn
    evaluated = set(evaluation_epochs(config))
    evaluator, evaluation = None, None
    try:
        for phase in phases:
            if phase.evaluates:  # made when needed: up to 512 C envs, which pretraining does not use
                evaluator = _Evaluation(config, fns, normalizer, bounds, state)
            t0, eval_time = time.perf_counter(), 0.0
            with tqdm(total=phase.epochs, initial=phase.epoch(state), desc=phase.desc, unit="ep",
                      disable=not progress or phase.epochs == 0) as bar:
                while phase.epoch(state) < phase.epochs:
                    first = phase.epoch(state)
                    n = min(phase.chunk, phase.epochs - first)
                    state, info = phase.run(state, data, n)
                    info = distributed.to_host(info)
                    check_finite(phase.label, info, first, phase.who, ckpt.latest_step())
                    epoch = first + n
                    records = chunk_records(phase.name, info, first, phase.updates_per_epoch)
                    postfix = {"loss": f"{records[-1][phase.loss]:.4f}"}
                    evaluate_now = phase.evaluates and epoch in evaluated
                    if evaluate_now:
                        te = time.perf_counter()
                        evaluation = evaluator(state, eval_key(config.seed, epoch))
                        eval_time += time.perf_counter() - te
                        records.append({"phase": "eval", "epoch": epoch, "update": epoch * phase.updates_per_epoch,
                                        **evaluation.to_dict()})
                        postfix[task.metric] = f"{evaluation.metric(task.metric).mean():.3g}"
                    sitting = dict(timings)  # the earlier sittings' seconds, plus this one's so far
                    sitting[f"{phase.name}_s"] += time.perf_counter() - t0 - eval_time
                    sitting["evaluation_s"] += eval_time
                    ckpt.save(int(state.model_epoch) + int(state.policy_epoch), state, saved_normalizer,
                              {**checkpoint_meta(state, config, data), "timings": sitting, "code": code})
                    if writer:
                        log.append(records)
                        loggers.write(records)
                    bar.update(n)
                    bar.set_postfix(postfix)
                    if evaluate_now and writer:
                        plot_learning_curve(log.records(), task.metric, paths["learning_curve"], grid, final_update)
                    # an interrupt that landed where Python swallows it; on any process, all stop together
                    if distributed.any_process(stop_requested()):
                        raise KeyboardInterrupt
            timings[f"{phase.name}_s"] += time.perf_counter() - t0 - eval_time
            timings["evaluation_s"] += eval_time
        if evaluation is None:  # already trained (a finished workdir): evaluate the final policies again
            evaluation = evaluator(state, eval_key(config.seed, pol_total))
            if writer:
                plot_learning_curve(log.records(), task.metric, paths["learning_curve"], grid, final_update)
    finally:
        if evaluator is not None:
            evaluator.close()
    ckpt.close()
    if not task.draw_paths:
        paths = {k: v for k, v in paths.items() if k != "trajectories"}  # only tasks that draw paths write it
    results = Results(config=config, metric=task.metric, evaluation=evaluation, grid=grid, workdir=workdir,
                      paths=paths, timings=timings, code=code, reference=task.ref_scores)
    if writer:
        atomic_write_text(paths["results"], json.dumps(results.to_dict(), indent=2))
        plot_evaluation(evaluation, task, paths, grid,
                        f"{config.env_name} / {config.algo} / preset {config.preset}: final evaluation")
        loggers.finish(config, task.metric, evaluation.metric(task.metric))  # a rate, as the eval/ tags
    distributed.barrier("results written")
    return results


class _Evaluation:
    """A run's evaluator over its members: in a multi-process run each process plays the members it holds, and the
    episodes are gathered once per evaluation."""

    def __init__(self, config: ConfigDict, fns: TrainFns, normalizer: Normalizer, action_bounds, state: TrainState):
        self.num_members = fns.grid.num_members
        self.members, _ = distributed.local_members(state.hparams.seed, self.num_members)
        self.evaluator = run_evaluator(config, fns, normalizer, action_bounds, self.members)

    def __call__(self, state: TrainState, key) -> EvalResult:
        _, params = distributed.local_members(state.policy_params, self.num_members)
        local = self.evaluator(params, key)
        if not distributed.is_multiprocess():
            return local
        episodes = {k: distributed.gather_members(v, self.members) for k, v in local.episodes.items()}
        return EvalResult.from_episodes(episodes["success"], episodes["return"], episodes["length"],
                                        distributed.gather_members(local.paths, self.members, pad_axis=2))

    def close(self) -> None:
        self.evaluator.close()


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
    if int(state.policy_epoch) < config.policy.epochs:
        print(f"warning: {workdir}: evaluating the newest intact checkpoint, at policy epoch "
              f"{int(state.policy_epoch)} of {config.policy.epochs} (the run is unfinished, or its later "
              "checkpoints are gone or damaged)", file=sys.stderr)
    evaluator = run_evaluator(config, fns, normalizer, bounds)
    evaluation = evaluator(state.policy_params, eval_key(config.seed, int(state.policy_epoch)))
    evaluator.close()
    return Results(config=config, metric=task.metric, evaluation=evaluation, grid=fns.grid,
                   workdir=os.path.abspath(workdir), reference=task.ref_scores,
                   paths={"checkpoints": os.path.join(os.path.abspath(workdir), "checkpoints")})
