"""Training. ``make_train`` builds pure, jitted functions of a TrainState; ``train(config)`` drives them with I/O.

All state is one pytree (:class:`TrainState`). Policy leaves carry a leading seed axis of ``num_seeds``; the
joint model's leaves one of 1 (a shared pretrained model, as in the paper) or ``num_seeds`` (one per seed, or
trained online beside each policy, like the GAN). An epoch is a ``lax.scan`` over the shuffled batches, a chunk a
``lax.scan`` over epochs, and seeds are a ``jax.vmap``: a chunk of ``log_every_epochs`` epochs for every seed is
one compiled call, with no host round trip inside it. Randomness comes from per-stream keys folded with the epoch
index, so a run split into chunks -- or interrupted and resumed -- draws exactly the same numbers as one
uninterrupted call.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from ml_collections import ConfigDict
from tqdm.auto import tqdm

from dbc_jax import algos, joint_models
from dbc_jax import configs as config_lib
from dbc_jax.checkpoint import Checkpoints, atomic_save_figure, atomic_write_text, read_json
from dbc_jax.data import Dataset, check_compatible, load_dataset
from dbc_jax.envs import Task, get_task
from dbc_jax.evaluate import EvalResult, make_evaluator, make_policy_fn
from dbc_jax.normalization import Normalizer

# Independent random streams derived from the root key.
_MODEL_INIT, _POLICY_INIT, _MODEL_EPOCHS, _POLICY_EPOCHS, _EVAL = range(5)


@struct.dataclass
class TrainState:
    model: Any  # [M, ...] the joint model's ModelState (params, optimizer state); M = 1 (shared) or num_seeds
    model_keys: jax.Array  # [M] key of each joint model's batch/noise stream
    policy_params: Any  # [S, ...]
    policy_opt_state: Any
    policy_keys: jax.Array  # [S]
    coeff_model: jnp.ndarray  # [S] lambda per seed: replace it to sweep lambda in one vmapped program
    model_epoch: jnp.ndarray  # joint-model pretraining epochs done
    policy_epoch: jnp.ndarray  # policy epochs done


class TrainFns(NamedTuple):
    init: Callable  # key -> TrainState
    model_epochs: Callable  # (state, n) -> (state, info {name: [M, n]}): joint-model pretraining
    policy_epochs: Callable  # (state, n) -> (state, info {name: [S, n]})
    run: Callable  # key -> (state, model_info, policy_info): the whole training, pure
    agent: Any  # the algorithm's static parts (dbc.Agent, dp.Agent, ...)
    model: joint_models.JointModel | None  # DBC's joint model (None: BC, DP, IBC)
    act: Callable  # (params, obs, key) -> actions, normalized; for one seed
    updates_per_epoch: dict  # {"model": int, "policy": int}
    action_bounds: tuple  # (low, high) of the normalized actions, as lists (saved with checkpoints)


def _epoch_batches(key, num_items: int, batch_size: int):
    """Indices of one shuffled epoch, [num_batches, batch_size]; the last partial batch is dropped."""
    num_batches = num_items // batch_size
    return jax.random.permutation(key, num_items)[: num_batches * batch_size].reshape(num_batches, batch_size)


def _scan_epochs(epoch_fn, carry, stream_key, start_epoch, n: int):
    """Run ``epoch_fn(carry, key) -> (carry, info)`` for epochs start..start+n-1; infos stacked over epochs."""

    def body(carry, epoch):
        return epoch_fn(carry, jax.random.fold_in(stream_key, epoch))

    return jax.lax.scan(body, carry, start_epoch + jnp.arange(n))


def make_train(config: ConfigDict, obs: np.ndarray, actions: np.ndarray, action_bounds=None) -> TrainFns:
    """Pure training functions for normalized ``obs`` [N, obs_dim] and ``actions`` [N, act_dim].

    ``action_bounds`` (low, high) defaults to the range of ``actions``; pass the saved one to rebuild a run's
    functions without its data (:func:`restore_workdir`).
    """
    config = config_lib.resolve(config)
    obs, actions = jnp.asarray(obs, jnp.float32), jnp.asarray(actions, jnp.float32)
    pairs = jnp.concatenate([obs, actions], -1)
    num_items, obs_dim = obs.shape
    act_dim = actions.shape[1]
    if action_bounds is None:
        action_bounds = (actions.min(0), actions.max(0))
    action_bounds = tuple(np.asarray(b, np.float32) for b in action_bounds)
    algo = algos.get(config.algo)
    num_seeds = config.num_seeds
    model_cfg = config[config.model]
    model = (joint_models.make(config.model, model_cfg, obs_dim, act_dim, action_bounds)
             if config_lib.uses_joint_model(config) else None)
    agent = algo.make_agent(config, obs_dim, act_dim, action_bounds, **({"model": model} if model else {}))
    online = model is not None and model.online_step is not None
    num_models = num_seeds if online or (model and not model_cfg.shared) else 1
    pol_cfg = config.policy
    model_updates = num_items // model_cfg.batch_size if config_lib.pretrains_model(config) else 0
    pol_updates = num_items // pol_cfg.batch_size

    lr_schedule = optax.linear_schedule(pol_cfg.lr, 0.0, max(1, pol_cfg.epochs * pol_updates))
    pol_tx = optax.chain(optax.clip_by_global_norm(pol_cfg.grad_clip),
                         optax.adam(lr_schedule, eps=pol_cfg.adam_eps))

    def init(key) -> TrainState:
        model_init_keys = jax.random.split(jax.random.fold_in(key, _MODEL_INIT), num_models)
        pol_init_keys = jax.random.split(jax.random.fold_in(key, _POLICY_INIT), num_seeds)
        # Without a joint model a placeholder keeps one TrainState layout for every algorithm.
        model_state = jax.vmap(model.init)(model_init_keys) if model else jnp.zeros((num_models,))
        pol_params = jax.vmap(lambda k: algo.init_policy(agent, k, obs_dim))(pol_init_keys)
        return TrainState(
            model=model_state,
            model_keys=jax.random.split(jax.random.fold_in(key, _MODEL_EPOCHS), num_models),
            policy_params=pol_params,
            policy_opt_state=jax.vmap(pol_tx.init)(pol_params),
            policy_keys=jax.random.split(jax.random.fold_in(key, _POLICY_EPOCHS), num_seeds),
            coeff_model=jnp.full((num_seeds,), model_cfg.coeff, jnp.float32),
            model_epoch=jnp.zeros((), jnp.int32),
            policy_epoch=jnp.zeros((), jnp.int32),
        )

    def model_epoch(model_state, key):
        perm_key, step_key = jax.random.split(key)
        batches = _epoch_batches(perm_key, num_items, model_cfg.batch_size)

        def step(model_state, xs):
            idx, k = xs
            return model.pretrain_step(model_state, pairs[idx], k)

        model_state, infos = jax.lax.scan(step, model_state, (batches, jax.random.split(step_key, len(batches))))
        return model_state, jax.tree.map(jnp.mean, infos)

    def policy_epoch(carry, key, frozen_model, coeff_model):
        perm_key, step_key = jax.random.split(key)
        batches = _epoch_batches(perm_key, num_items, pol_cfg.batch_size)

        def step(carry, xs):
            params, opt_state, model_state = carry
            idx, k = xs
            o, a = obs[idx], actions[idx]
            info = {}
            if online:  # the model first takes its step against the current policy's pairs
                x_agent = jnp.concatenate([o, jax.lax.stop_gradient(algo.act(agent, params, o))], -1)
                model_state, info = model.online_step(model_state, pairs[idx], x_agent, jax.random.fold_in(k, 1))
            guide = {"model_params": (model_state if online else frozen_model).params,
                     "coeff_model": coeff_model} if model else {}
            (_, pol_info), grads = jax.value_and_grad(
                functools.partial(algo.policy_loss, agent), has_aux=True)(params, o, a, k, **guide)
            updates, opt_state = pol_tx.update(grads, opt_state, params)
            info.update(pol_info)
            info["policy/grad_norm"] = optax.tree.norm(grads)
            return (optax.apply_updates(params, updates), opt_state, model_state), info

        carry, infos = jax.lax.scan(step, carry, (batches, jax.random.split(step_key, len(batches))))
        return carry, jax.tree.map(jnp.mean, infos)

    @functools.partial(jax.jit, static_argnums=1)
    def model_epochs(state: TrainState, n: int):
        def one_model(model_state, stream_key):
            return _scan_epochs(model_epoch, model_state, stream_key, state.model_epoch, n)

        model_state, info = jax.vmap(one_model)(state.model, state.model_keys)
        return state.replace(model=model_state, model_epoch=state.model_epoch + n), info

    @functools.partial(jax.jit, static_argnums=1)
    def policy_epochs(state: TrainState, n: int):
        # A frozen shared model is one for all seeds; an online or per-seed one is vmapped (and, online, carried).
        per_seed = num_models == num_seeds and model is not None
        model_state = state.model if per_seed else jax.tree.map(lambda x: x[0], state.model)

        def one_seed(params, opt_state, stream_key, model_state, coeff_model):
            frozen, carried = (None, model_state) if online else (model_state, None)
            epoch_fn = functools.partial(policy_epoch, frozen_model=frozen, coeff_model=coeff_model)
            return _scan_epochs(epoch_fn, (params, opt_state, carried), stream_key, state.policy_epoch, n)

        (params, opt_state, carried), info = jax.vmap(one_seed, in_axes=(0, 0, 0, 0 if per_seed else None, 0))(
            state.policy_params, state.policy_opt_state, state.policy_keys, model_state, state.coeff_model)
        state = state.replace(model=carried) if online else state
        return state.replace(policy_params=params, policy_opt_state=opt_state,
                             policy_epoch=state.policy_epoch + n), info

    def run(key):
        state = init(key)
        epochs = config_lib.pretrain_epochs(config)
        state, model_info = model_epochs(state, epochs) if epochs else (state, {})
        state, pol_info = policy_epochs(state, pol_cfg.epochs)
        return state, model_info, pol_info

    return TrainFns(init=init, model_epochs=model_epochs, policy_epochs=policy_epochs, run=run, agent=agent,
                    model=model, act=functools.partial(algo.act, agent),
                    updates_per_epoch={"model": model_updates, "policy": pol_updates},
                    action_bounds=tuple(b.tolist() for b in action_bounds))


# ---------------------------------------------------------------------------------------------------------------
# The driver: data, workdir, chunks, evaluation, checkpoints, logs.


@dataclasses.dataclass
class Results:
    """What ``train`` and ``evaluate_workdir`` return."""

    config: ConfigDict
    metric: str  # "success" or "return"
    evaluation: EvalResult  # final evaluation, per seed
    workdir: str
    paths: dict  # config, checkpoints, metrics, learning_curve, results
    timings: dict = dataclasses.field(default_factory=dict)  # seconds per phase

    @property
    def per_seed(self) -> np.ndarray:
        scale = 100.0 if self.metric == "success" else 1.0
        return self.evaluation.metric(self.metric) * scale

    @property
    def mean(self) -> float:
        return float(self.per_seed.mean())

    @property
    def std(self) -> float:
        """Population std over seeds (ddof 0)."""
        return float(self.per_seed.std())

    def table(self) -> str:
        name = "success rate (%)" if self.metric == "success" else "return"
        c = self.config
        rows = [f"{c.env_name} / {c.algo} / preset {c.preset} / config.seed {c.seed}: {name} over "
                f"{c.eval.num_episodes} episodes per seed", f"| seed | {name} | mean episode length |", "|---|---|---|"]
        for i, (v, length) in enumerate(zip(self.per_seed, self.evaluation.episode_length)):
            rows.append(f"| {i} | {v:.1f} | {length:.1f} |")
        rows.append(f"| **mean ± std** | **{self.mean:.1f} ± {self.std:.1f}** | |")
        return "\n".join(rows)

    def to_dict(self) -> dict:
        return {"metric": self.metric, "per_seed": self.per_seed.tolist(), "mean": self.mean, "std": self.std,
                "evaluation": self.evaluation.to_dict(), "timings": self.timings, "workdir": self.workdir}


def default_data_path(config: ConfigDict) -> str:
    """The project's own demo file for a config: ``data/<env>_expert_<num_episodes>ep.npz``."""
    return os.path.join("data", f"{config.env_name}_expert_{config.data.num_episodes}ep.npz")


def _demo_settings(config: ConfigDict) -> dict:
    """What, besides the episode count, decides the demos; recorded in the file's metadata."""
    from dbc_jax.experts import expert_identity

    expert = config.data.expert.to_dict() if "expert" in config.data else {}
    return {"seed": config.data.seed, **config.env, **expert, **expert_identity(config.env_name, expert)}


def make_demos(config: ConfigDict, path: str | None = None, progress: bool = True) -> str:
    """Generate the task's expert demos into the project's dataset file; returns its path."""
    from dbc_jax.experts import DEMO_GENERATORS

    path = path or config.data.path or default_data_path(config)
    dataset = DEMO_GENERATORS[config.env_name](num_episodes=config.data.num_episodes, progress=progress,
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
    batch_sizes = [config.policy.batch_size] + ([config[config.model].batch_size]
                                                if config_lib.pretrains_model(config) else [])
    check_compatible(dataset, task.obs_dim, task.act_dim, max(batch_sizes), config.env_name)
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
        keep = [r for r in self.records()
                if r["epoch"] <= (model_epoch if r["phase"] == "model" else policy_epoch)]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))

    def append(self, records: list[dict]) -> None:
        with open(self.path, "a") as f:
            f.writelines(json.dumps(r) + "\n" for r in records)


def _chunk_records(phase: str, info: dict, first_epoch: int, updates_per_epoch: int) -> list[dict]:
    """One record per epoch from chunk infos [models, n]: the mean over models and each model's value."""
    info = jax.tree.map(np.asarray, info)
    n = next(iter(info.values())).shape[1]
    records = []
    for j in range(n):
        epoch = first_epoch + j + 1
        rec = {"phase": phase, "epoch": epoch, "update": epoch * updates_per_epoch}
        for name, v in info.items():
            rec[name] = float(v[:, j].mean())
            rec[name + "/per_seed"] = v[:, j].tolist()
        records.append(rec)
    return records


def _make_evaluator(config: ConfigDict, fns: TrainFns, normalizer: Normalizer):
    return make_evaluator(config.env_name, dict(config.env), config.num_seeds, config.eval.num_episodes,
                          make_policy_fn(fns.act, normalizer), config.eval.get("backend", "auto"))


def _eval_key(config: ConfigDict, policy_epoch: int) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(config.seed), _EVAL), policy_epoch)


def _state_meta(state: TrainState, config: ConfigDict, fns: TrainFns) -> dict:
    return {"model_epoch": int(state.model_epoch), "policy_epoch": int(state.policy_epoch),
            "config": config.to_dict(), "action_bounds": list(fns.action_bounds)}




def _before_joint_models(meta: dict) -> bool:
    """Whether a checkpoint was written before the joint-model component (state fields dm_params, dm_epoch, ...)."""
    return "dm_epoch" in meta


def _check_checkpoint_layout(meta: dict, workdir: str) -> None:
    """Refuse to resume a checkpoint in the layout from before the joint-model component."""
    if _before_joint_models(meta):
        raise ValueError(f"{workdir} was written by an earlier dbc_jax (checkpoints before the joint-model "
                         "component): it can still be evaluated (make eval), not resumed; pass another "
                         "--config.workdir to train again")


def config_differences(config: ConfigDict, saved: dict) -> list[str]:
    """The fields that decide training (the run's joint-model section among the models') in which a resolved
    ``config`` and a saved ``config.json`` differ."""
    current = json.loads(config.to_json())
    fields = ("env_name", "algo", "seed", "num_seeds", "env", "data", "model", config.model, "policy", "dp", "ibc")
    return [f for f in fields if current.get(f) != saved.get(f)]


def _check_same_run(config: ConfigDict, saved: dict, workdir: str) -> None:
    diff = config_differences(config, saved)
    if diff:
        raise ValueError(f"{workdir} holds a run with a different config ({', '.join(diff)} differ); "
                         "pass another --config.workdir to start a new run")


def train(config: ConfigDict, progress: bool = True) -> Results:
    """Train ``config.num_seeds`` policies (and DBC's joint model), evaluate, and return :class:`Results`.

    An existing ``config.workdir`` with checkpoints is resumed from its latest one.
    """
    config = config_lib.resolve(config)
    task = get_task(config.env_name)
    dataset = prepare_dataset(config, task, progress)
    normalizer = Normalizer.from_data(dataset.obs, dataset.actions)

    workdir = os.path.abspath(config.workdir)
    os.makedirs(workdir, exist_ok=True)
    paths = {name: os.path.join(workdir, f) for name, f in (
        ("config", "config.json"), ("metrics", "metrics.jsonl"), ("learning_curve", "learning_curve.png"),
        ("results", "results.json"), ("checkpoints", "checkpoints"))}
    ckpt = Checkpoints(workdir, config.checkpoint.max_to_keep)
    log = MetricsLog(paths["metrics"])

    fns = make_train(config, normalizer.normalize_obs(dataset.obs), normalizer.normalize_actions(dataset.actions))
    state = fns.init(jax.random.PRNGKey(config.seed))
    if ckpt.latest_step() is not None:
        _check_checkpoint_layout(ckpt.read_meta(ckpt.latest_step()), workdir)
        _check_same_run(config, read_json(paths["config"]), workdir)
        state, saved_normalizer, meta = ckpt.restore(ckpt.latest_step(), state, normalizer)
        if not all(np.allclose(a, b) for a, b in zip(jax.tree.leaves(saved_normalizer), jax.tree.leaves(normalizer))):
            raise ValueError(f"{workdir}: the dataset's normalization differs from the checkpoint's "
                             f"({config.data.path or default_data_path(config)} changed since training)")
        log.truncate(meta["model_epoch"], meta["policy_epoch"])
        print(f"Resuming {workdir} at {config.model} epoch {meta['model_epoch']}, "
              f"policy epoch {meta['policy_epoch']}.")
    else:
        atomic_write_text(paths["config"], config.to_json(indent=2))
        log.truncate(0, 0)

    timings = {}
    # Phase 1: joint-model pretraining (none for BC, DP, IBC or the online GAN).
    model_total = config_lib.pretrain_epochs(config)
    t0 = time.perf_counter()
    with tqdm(total=model_total, initial=int(state.model_epoch), desc=config.model, unit="ep",
              disable=not progress or model_total == 0) as bar:
        while int(state.model_epoch) < model_total:
            first = int(state.model_epoch)
            n = min(config[config.model].log_every_epochs, model_total - first)
            state, info = fns.model_epochs(state, n)
            records = _chunk_records("model", info, first, fns.updates_per_epoch["model"])
            ckpt.save(first + n + int(state.policy_epoch), state, normalizer, _state_meta(state, config, fns))
            log.append(records)
            bar.update(n)
            bar.set_postfix(loss=f"{records[-1]['model/loss']:.4f}")
    timings["model_s"] = time.perf_counter() - t0

    # Phase 2: the policies, with periodic evaluation.
    evaluator = _make_evaluator(config, fns, normalizer)
    pol_total = config.policy.epochs
    evaluation = None
    t0, eval_time = time.perf_counter(), 0.0
    with tqdm(total=pol_total, initial=int(state.policy_epoch), desc=f"{config.algo} policy", unit="ep",
              disable=not progress) as bar:
        while int(state.policy_epoch) < pol_total:
            first = int(state.policy_epoch)
            n = min(config.policy.log_every_epochs, pol_total - first)
            state, info = fns.policy_epochs(state, n)
            epoch = first + n
            records = _chunk_records("policy", info, first, fns.updates_per_epoch["policy"])
            postfix = {"loss": f"{records[-1]['loss/total']:.4f}"}
            evaluate_now = (config.eval.every_epochs and epoch % config.eval.every_epochs == 0) or epoch == pol_total
            if evaluate_now:
                te = time.perf_counter()
                evaluation = evaluator(state.policy_params, _eval_key(config, epoch))
                eval_time += time.perf_counter() - te
                records.append({"phase": "eval", "epoch": epoch, "update": epoch * fns.updates_per_epoch["policy"],
                                **evaluation.to_dict()})
                postfix[task.metric] = f"{evaluation.metric(task.metric).mean():.3g}"
            ckpt.save(int(state.model_epoch) + epoch, state, normalizer, _state_meta(state, config, fns))
            log.append(records)
            bar.update(n)
            bar.set_postfix(postfix)
            if evaluate_now:
                plot_learning_curve(log.records(), task.metric, paths["learning_curve"])
    timings["policy_s"] = time.perf_counter() - t0 - eval_time
    timings["evaluation_s"] = eval_time
    if evaluation is None:  # already trained (a finished workdir): evaluate the final policies again
        evaluation = evaluator(state.policy_params, _eval_key(config, pol_total))
        plot_learning_curve(log.records(), task.metric, paths["learning_curve"])
    evaluator.close()
    ckpt.close()
    results = Results(config=config, metric=task.metric, evaluation=evaluation, workdir=workdir, paths=paths,
                      timings=timings)
    atomic_write_text(paths["results"], json.dumps(results.to_dict(), indent=2))
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


def restore_workdir(workdir: str, sampler: dict | None = None):
    """(config, TrainState, Normalizer, TrainFns) of the latest checkpoint in ``workdir``; ``sampler`` overrides
    inference settings (``apply_sampler_overrides``)."""
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
    zeros = np.zeros((2 * config.policy.batch_size, task.obs_dim), np.float32)
    meta = ckpt.read_meta(step)
    bounds = meta.get("action_bounds")  # absent in checkpoints older than DP/IBC: DBC needs none
    fns = make_train(config, zeros, np.zeros((len(zeros), task.act_dim), np.float32), bounds)
    if _before_joint_models(meta):
        state, normalizer = _restore_before_joint_models(ckpt, step, fns)
    else:
        template = jax.eval_shape(fns.init, jax.random.PRNGKey(0))
        norm_template = Normalizer(*(jax.ShapeDtypeStruct((d,), jnp.float32)
                                     for d in (task.obs_dim, task.obs_dim, task.act_dim, task.act_dim)))
        state, normalizer, _ = ckpt.restore(step, template, norm_template)
    ckpt.close()
    return config, state, normalizer, fns


def _restore_before_joint_models(ckpt: Checkpoints, step: int, fns: TrainFns):
    """A checkpoint from before the joint-model component, read by name: policies, diffusion parameters, epochs
    and normalizer. Optimizer states start afresh (such a run is
    evaluated, never resumed: :func:`_check_checkpoint_layout`)."""
    tree, _ = ckpt.restore_tree(step, None)
    saved = tree["state"]
    state = fns.init(jax.random.PRNGKey(0))
    if fns.model is not None:
        state = state.replace(model=state.model.replace(params=saved["dm_params"]))
    state = state.replace(policy_params=saved["policy_params"], model_epoch=jnp.asarray(saved["dm_epoch"]),
                          policy_epoch=jnp.asarray(saved["policy_epoch"]))
    return state, Normalizer(**tree["normalizer"])


def evaluate_workdir(workdir: str, num_episodes: int | None = None, sampler: dict | None = None,
                     backend: str | None = None, env: dict | None = None) -> Results:
    """Evaluate the policies of a saved run (its latest checkpoint) with the run's own evaluation protocol;
    ``sampler`` changes DP's/IBC's inference settings, e.g. ``{"ibc.num_samples": 1024}``; ``backend`` the
    evaluation backend ("auto", "c", "mjx"); ``env`` the env's settings, e.g. ``{"noise_ratio": 1.5}`` to test
    generalization beyond the training distribution."""
    config, state, normalizer, fns = restore_workdir(workdir, sampler)
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
    evaluator = _make_evaluator(config, fns, normalizer)
    evaluation = evaluator(state.policy_params, _eval_key(config, int(state.policy_epoch)))
    evaluator.close()
    return Results(config=config, metric=task.metric, evaluation=evaluation, workdir=os.path.abspath(workdir),
                   paths={"checkpoints": os.path.join(os.path.abspath(workdir), "checkpoints")})


def plot_learning_curve(records: list[dict], metric: str, path: str) -> None:
    """Joint-model loss, policy losses and evaluation metric against updates, written atomically as PNG."""
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
    axes[1].set(title="policy (mean over seeds)", xlabel="update", yscale="log")
    if ev:
        x = [r["update"] for r in ev]
        values = np.array([r[metric] for r in ev]) * (100 if metric == "success" else 1)
        for s in range(values.shape[1]):
            axes[2].plot(x, values[:, s], alpha=0.4, lw=1, label=f"seed {s}")
        axes[2].plot(x, values.mean(1), color="k", lw=2, label="mean")
        axes[2].legend()
    axes[2].set(title="evaluation", xlabel="update", ylabel="success rate (%)" if metric == "success" else "return")
    fig.tight_layout()
    atomic_save_figure(fig, path, dpi=90)
