"""How long a run will take on this machine, before it trains: its work counted from the config, its speed measured.

:func:`measure_speed` compiles the run's own update steps and its evaluator and times them here, on random arrays of
the demos' shapes (an update's time does not depend on the values): updates per second of the joint model's
pretraining and of the policies (every member at once, as the run trains them), and the seconds of one evaluation.
An evaluation is timed on the run's own episodes cut to a few steps, then extended to the task's horizon, so it is
an upper bound: episodes that end early (a success, a fall) cost less. :func:`estimate` multiplies by the work left,
which :func:`progress` reads from a run's checkpoint when it was interrupted. Compilation is counted once per phase.
"""

from __future__ import annotations

import dataclasses
import os
import time

import jax
import numpy as np
from ml_collections import ConfigDict

from dbc_jax import configs as config_lib
from dbc_jax.checkpoint import Checkpoints
from dbc_jax.evaluate import CMujocoEvaluator, choose_backend, make_evaluator, make_policy_fn
from dbc_jax.normalization import Normalizer
from dbc_jax.tasks import get_task
from dbc_jax.trainer import TrainData, make_train_fns, updates_per_epoch

PROBE_SECONDS = 2.0  # how long each update rate is timed for (after its compilation); short ones are noisy
PROBE_STEPS = 3  # evaluation steps timed beyond the first


@dataclasses.dataclass(frozen=True)
class Speed:
    """A run's speed on this machine."""

    model_updates_per_s: float  # 0 without joint-model pretraining
    policy_updates_per_s: float  # updates of every member at once
    evaluation_s: float  # one evaluation of every member, at most (full-length episodes)
    compile_s: float  # compiling both phases and the evaluator, paid once per sitting
    setup_s: float  # making the evaluation envs, once per sitting


@dataclasses.dataclass(frozen=True)
class Progress:
    """Epochs done of each phase and the seconds spent on each (its newest checkpoint's record)."""

    model_epoch: int
    model_epochs: int
    policy_epoch: int
    policy_epochs: int
    timings: dict  # seconds: model_s, policy_s, evaluation_s (summed over the run's sittings)

    def describe(self) -> str:
        parts = [f"joint model {self.model_epoch} of {self.model_epochs} epochs"] if self.model_epochs else []
        return ", ".join(parts + [f"policies {self.policy_epoch} of {self.policy_epochs} epochs"])


@dataclasses.dataclass(frozen=True)
class Estimate:
    """The work a run has left and the seconds it should take at a measured speed."""

    model_updates: int
    policy_updates: int
    evaluations: int
    speed: Speed

    @property
    def seconds(self) -> float:
        s = self.speed
        return ((self.model_updates / s.model_updates_per_s if self.model_updates else 0.0)
                + self.policy_updates / s.policy_updates_per_s + self.evaluations * s.evaluation_s
                + s.compile_s + s.setup_s)

    def describe(self) -> str:
        s, parts = self.speed, []
        if self.model_updates:
            parts.append(f"joint model {self.model_updates:,} updates at {s.model_updates_per_s:,.0f}/s")
        parts.append(f"policies {self.policy_updates:,} updates at {s.policy_updates_per_s:,.0f}/s")
        parts.append(f"{counted(self.evaluations, 'evaluation')} of at most {duration(s.evaluation_s)}")
        return "; ".join(parts)


def counted(n: int, noun: str) -> str:
    """``1 cell``, ``3 cells``: a count and its noun (a plural in -s)."""
    return f"{n} {noun}{'s' * (n != 1)}"


def duration(seconds: float) -> str:
    """``1 h 5 min`` or ``12 min 30 s`` (the results pages' format)."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min {secs} s"


def evaluation_epochs(config: ConfigDict) -> list[int]:
    """The policy epochs after which the run evaluates: the ends of its compiled chunks that are multiples of
    ``eval.every_epochs``, and the last."""
    total, chunk, every = config.policy.epochs, config.policy.log_every_epochs, config.eval.every_epochs
    ends = sorted(set(range(chunk, total, chunk)) | {total})
    return [e for e in ends if (every and e % every == 0) or e == total]


def measure_speed(config: ConfigDict, obs_dim: int, act_dim: int) -> Speed:
    """Compile the run's update steps and evaluator and time them here (module docstring); ``config`` resolved."""
    fns = make_train_fns(config, obs_dim, act_dim)
    batches = 3
    items = batches * max(config[config.model].batch_size, config.policy.batch_size)
    obs, actions = jax.random.normal(jax.random.PRNGKey(0), (2, items, max(obs_dim, act_dim)))
    data = TrainData.from_normalized(obs[:, :obs_dim], np.tanh(actions[:, :act_dim]))
    state = fns.init(jax.random.PRNGKey(0), data, fns.grid.hparams())
    per_epoch = fns.updates_per_epoch(items)
    compile_s, rates = 0.0, {}
    for phase, run in (("model", fns.model_epochs), ("policy", fns.policy_epochs)):
        if not per_epoch[phase] or (phase == "model" and not fns.pretrain_epochs):
            rates[phase] = 0.0
            continue
        t0 = time.perf_counter()
        state, info = run(state, data, 1)
        jax.block_until_ready(info)
        first = time.perf_counter() - t0
        calls, t0 = 0, time.perf_counter()
        while calls == 0 or time.perf_counter() - t0 < PROBE_SECONDS:
            state, info = run(state, data, 1)
            jax.block_until_ready(info)
            calls += 1
        elapsed = time.perf_counter() - t0
        rates[phase] = calls * per_epoch[phase] / elapsed
        compile_s += max(0.0, first - elapsed / calls)

    task = get_task(config.env_name)
    normalizer = Normalizer.identity(obs_dim, act_dim)
    policy_fn = make_policy_fn(lambda p, o, k: fns.act(p, o, k, data.action_bounds), normalizer)
    seeds = np.asarray(fns.grid.hparams().seed)
    t0 = time.perf_counter()
    if choose_backend(config.eval.backend, config.env_name) == "c":
        evaluator = CMujocoEvaluator(task.env_id, dict(config.env), config.num_seeds, config.eval.num_episodes,
                                     policy_fn, max_steps=1, member_seeds=seeds)
    else:
        evaluator = make_evaluator(config.env_name, dict(config.env), config.num_seeds, config.eval.num_episodes,
                                   policy_fn, config.eval.backend, member_seeds=seeds)
    setup_s = time.perf_counter() - t0
    try:
        key = jax.random.PRNGKey(0)
        t0 = time.perf_counter()
        evaluator(state.policy_params, key)  # compiles the policy (and, on MJX, the whole evaluation)
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluator(state.policy_params, key)
        one_step = time.perf_counter() - t0
        if isinstance(evaluator, CMujocoEvaluator):
            evaluator.max_steps = 1 + PROBE_STEPS
            t0 = time.perf_counter()
            evaluator(state.policy_params, key)
            per_step = max(0.0, time.perf_counter() - t0 - one_step) / PROBE_STEPS
            evaluation_s = one_step + per_step * (task.horizon - 1)
        else:
            evaluation_s = one_step  # MJX plays the whole episodes in one compiled call
        compile_s += max(0.0, first - one_step)
    finally:
        evaluator.close()
    return Speed(rates["model"], rates["policy"], evaluation_s, compile_s, setup_s)


def progress(config: ConfigDict) -> Progress | None:
    """Where an interrupted run in ``config.workdir`` stands (its newest checkpoint's meta); None if it has none."""
    if not os.path.isdir(os.path.join(config.workdir, "checkpoints")):
        return None
    ckpt = Checkpoints(config.workdir, config.checkpoint.max_to_keep)
    meta = None
    try:
        for step in sorted(ckpt.all_steps(), reverse=True):  # the newest readable one, as a resume would take
            try:
                meta = ckpt.read_meta(step)
                break
            except Exception:  # noqa: BLE001 -- damaged, or rotated away by a live writer: the next older one
                continue
    finally:
        ckpt.close()
    if meta is None:
        return None
    timings = {k: float(v) for k, v in meta.get("timings", {}).items()}
    return Progress(int(meta["model_epoch"]), config_lib.pretrain_epochs(config), int(meta["policy_epoch"]),
                    config.policy.epochs, timings)


def own_speed(config: ConfigDict, num_items: int, speed: Speed, done: Progress) -> Speed:
    """``speed`` with each rate the run has measured itself, over all its sittings so far, put in its place: the
    updates per second of a phase it has trained a while (a minute at least), and its evaluations' mean time."""
    per_epoch = updates_per_epoch(config, num_items)
    t = done.timings
    model, policy, evaluation = speed.model_updates_per_s, speed.policy_updates_per_s, speed.evaluation_s
    if done.model_epoch and t.get("model_s", 0) >= 60:
        model = done.model_epoch * per_epoch["model"] / t["model_s"]
    if done.policy_epoch and t.get("policy_s", 0) >= 60:
        policy = done.policy_epoch * per_epoch["policy"] / t["policy_s"]
    evaluated = len([e for e in evaluation_epochs(config) if e <= done.policy_epoch])
    if evaluated and t.get("evaluation_s", 0) > 0:
        evaluation = t["evaluation_s"] / evaluated
    return dataclasses.replace(speed, model_updates_per_s=model, policy_updates_per_s=policy,
                               evaluation_s=evaluation)


def estimate(config: ConfigDict, num_items: int, speed: Speed, done: Progress | None = None) -> Estimate:
    """The work left of a run on ``num_items`` demo transitions (all of it, or what ``done`` leaves) at ``speed``;
    ``config`` resolved (BC's λ is 0 only then)."""
    if not config_lib.is_resolved(config):
        raise ValueError("estimate: the config is not resolved; pass it through dbc_jax.configs.resolve")
    per_epoch = updates_per_epoch(config, num_items)
    model_done, policy_done = (done.model_epoch, done.policy_epoch) if done else (0, 0)
    model_left = max(0, config_lib.pretrain_epochs(config) - model_done)
    policy_left = max(0, config.policy.epochs - policy_done)
    evaluations = len([e for e in evaluation_epochs(config) if e > policy_done])
    return Estimate(model_left * per_epoch["model"], policy_left * per_epoch["policy"], evaluations, speed)

