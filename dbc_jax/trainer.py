"""The pure trainer: ``make_train_fns(config, obs_dim, act_dim)`` builds jitted functions of a TrainState and the data
(``dbc_jax.make_train`` is the same for a config not resolved yet).

As in purejaxrl, nothing the training reads is a closure constant: the demos, their normalization and the action
bounds come in as a :class:`TrainData` argument, and the swept hyperparameters (λ, coeff_bc, lr) as per-member
arrays in the state (:class:`dbc_jax.grid.Hparams`), so one compiled program trains a whole grid of seeds x
hyperparameters, and ``jax.sharding`` can lay its member axis over devices (``train.py`` does).

All state is one pytree (:class:`TrainState`). Policy leaves carry a leading member axis (grid points x seeds;
``dbc_jax/grid.py``); the joint model's leaves one of 1 (a shared pretrained model, as in the paper),
``num_seeds`` (one per seed) or the members (trained online beside each policy, like the GAN). An epoch is a
``lax.scan`` over the shuffled batches, a chunk a ``lax.scan`` over epochs, and members are a ``jax.vmap`` (a lone
member is squeezed instead: :func:`map_members`): a chunk of epochs for every member is one compiled call, with no
host round trip inside it. Randomness comes from per-seed
keys folded with the epoch index, so a run split into chunks -- or interrupted and resumed -- draws exactly the same
numbers as one uninterrupted call.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from ml_collections import ConfigDict

from dbc_jax import algos, joint_models
from dbc_jax import configs as config_lib
from dbc_jax.grid import Grid, Hparams
from dbc_jax.normalization import Normalizer

# Independent random streams derived from the root key.
_MODEL_INIT, _POLICY_INIT, _MODEL_EPOCHS, _POLICY_EPOCHS, _EVAL = range(5)


@struct.dataclass
class TrainData:
    """The demos as the trainer reads them: an argument of every training function."""

    obs: jax.Array  # [N, obs_dim] normalized
    actions: jax.Array  # [N, act_dim] normalized
    action_bounds: tuple  # (low, high), each [act_dim]: the normalized actions' range (IBC, EBM, DP)
    normalizer: Normalizer  # env units <-> normalized, for evaluation and checkpoints

    @classmethod
    def from_demos(cls, obs, actions, normalizer: Normalizer | None = None) -> "TrainData":
        """Demos in env units, normalized with ``normalizer`` (default: their own statistics)."""
        normalizer = normalizer or Normalizer.from_data(obs, actions)
        return cls.from_normalized(normalizer.normalize_obs(obs), normalizer.normalize_actions(actions),
                                   normalizer=normalizer)

    @classmethod
    def from_normalized(cls, obs, actions, action_bounds=None, normalizer: Normalizer | None = None) -> "TrainData":
        """Already normalized arrays; ``action_bounds`` default to their range, ``normalizer`` to the identity."""
        obs, actions = jnp.asarray(obs, jnp.float32), jnp.asarray(actions, jnp.float32)
        if action_bounds is None:
            action_bounds = (actions.min(0), actions.max(0))
        if normalizer is None:
            obs_dim, act_dim = obs.shape[1], actions.shape[1]
            normalizer = Normalizer.identity(obs_dim, act_dim)
        return cls(obs, actions, tuple(jnp.asarray(b, jnp.float32) for b in action_bounds), normalizer)

    @property
    def num_items(self) -> int:
        return self.obs.shape[0]


@struct.dataclass
class TrainState:
    model: Any  # [M, ...] the joint model's ModelState (params, optimizer state); M = 1, num_seeds or members
    model_keys: jax.Array  # [M] key of each joint model's batch/noise stream
    policy_params: Any  # [members, ...]
    policy_opt_state: Any
    policy_keys: jax.Array  # [members]
    hparams: Hparams  # [members] each member's seed, λ, coeff_bc and learning rate
    model_epoch: jnp.ndarray  # joint-model pretraining epochs done
    policy_epoch: jnp.ndarray  # policy epochs done


class TrainFns(NamedTuple):
    init: Callable  # (key, data, hparams) -> TrainState
    model_epochs: Callable  # (state, data, n) -> (state, info {name: [M, n]}): joint-model pretraining
    policy_epochs: Callable  # (state, data, n) -> (state, info {name: [members, n]})
    run: Callable  # (key, data, hparams) -> (state, model_info, policy_info): the whole training, pure
    act: Callable  # (params, obs, key, action_bounds) -> actions, normalized; for one member
    grid: Grid  # the config's grid: its hparams() are what init takes
    model_count: int  # M, the joint models the state holds (0 without one)
    pretrain_epochs: int  # epochs of joint-model pretraining (0 without phase 1)
    updates_per_epoch: Callable  # num_items -> {"model": int, "policy": int}


def updates_per_epoch(config: ConfigDict, num_items: int) -> dict:
    """{"model": joint-model updates per pretraining epoch (0 without pretraining), "policy": policy updates per
    epoch} on ``num_items`` demo transitions (each epoch drops its last partial batch)."""
    pretrains = config_lib.pretrains_model(config)
    return {"model": num_items // config[config.model].batch_size if pretrains else 0,
            "policy": num_items // config.policy.batch_size}


def _epoch_batches(key, num_items: int, batch_size: int):
    """Indices of one shuffled epoch, [num_batches, batch_size]; the last partial batch is dropped."""
    num_batches = num_items // batch_size
    return jax.random.permutation(key, num_items)[: num_batches * batch_size].reshape(num_batches, batch_size)


def nonfinite(tree) -> jax.Array:
    """How many entries of a pytree are NaN or infinite (logged after every epoch; the driver stops on > 0)."""
    return sum(jnp.sum(~jnp.isfinite(x)) for x in jax.tree.leaves(tree)).astype(jnp.float32)


def map_members(fn, in_axes=0, squeeze_one: bool = True):
    """``jax.vmap(fn, in_axes)`` over the member axis; with ``squeeze_one``, an axis of size 1 is squeezed instead.

    The squeeze is for speed: XLA's CPU backend computes a batch of one with the batched kernels and layouts, and for
    the 1024-wide diffusion model that costs a transposing copy of each weight gradient (docs/speed.md). Both compute
    the same update up to float32 rounding, not bit for bit (tests/test_train.py pins the tolerance).
    """
    def mapped(*args):
        axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        sizes = {leaf.shape[ax] for arg, ax in zip(args, axes) if ax is not None for leaf in jax.tree.leaves(arg)}
        if not squeeze_one or sizes != {1}:
            return jax.vmap(fn, in_axes=in_axes)(*args)
        squeezed = [arg if ax is None else jax.tree.map(lambda x: x[0], arg) for arg, ax in zip(args, axes)]
        return jax.tree.map(lambda x: x[None], fn(*squeezed))

    return mapped


def _scan_epochs(epoch_fn, carry, stream_key, start_epoch, n: int):
    """Run ``epoch_fn(carry, key) -> (carry, info)`` for epochs start..start+n-1; infos stacked over epochs."""

    def body(carry, epoch):
        return epoch_fn(carry, jax.random.fold_in(stream_key, epoch))

    return jax.lax.scan(body, carry, start_epoch + jnp.arange(n))


def make_train_fns(config: ConfigDict, obs_dim: int, act_dim: int, squeeze_one: bool = True) -> TrainFns:
    """Pure training functions for demos of ``obs_dim``-dimensional states and ``act_dim``-dimensional actions.

    ``config`` is resolved (:func:`dbc_jax.configs.resolve`): the run's edge resolves it once, and the trainer never
    again (``dbc_jax.make_train`` resolves a config of the user's, then calls this; a config that is not resolved is
    refused here, since its per-algorithm overrides and BC's λ = 0 would be missing). ``squeeze_one=False`` vmaps a
    member axis of size 1 as well (see :func:`map_members`; the results documented before 2026-11-23's squeeze were
    computed that way).
    """
    if not config_lib.is_resolved(config):
        raise ValueError("make_train_fns: the config is not resolved; pass it through dbc_jax.configs.resolve (or "
                         "call dbc_jax.make_train, which does)")
    algo = algos.get(config.algo)
    grid = Grid.from_config(config)
    num_seeds = config.num_seeds
    model_cfg, pol_cfg = config[config.model], config.policy
    has_model = config_lib.uses_joint_model(config)

    def parts(action_bounds):
        """The agent and joint model; built inside each traced function from the data's (traced) bounds."""
        model = (joint_models.make(config.model, model_cfg, obs_dim, act_dim, action_bounds) if has_model else None)
        agent = algo.make_agent(config, obs_dim, act_dim, action_bounds, **({"model": model} if model else {}))
        return agent, model

    probe = parts((np.zeros(act_dim, np.float32), np.ones(act_dim, np.float32)))[1]
    online = probe is not None and probe.online_step is not None
    per_seed_model = has_model and not online and not model_cfg.shared
    model_count = grid.num_members if online else num_seeds if per_seed_model else 1 if has_model else 0
    pretrain_epochs = config_lib.pretrain_epochs(config)

    def policy_tx(lr, num_items: int):
        schedule = optax.linear_schedule(lr, 0.0,
                                         max(1, pol_cfg.epochs * updates_per_epoch(config, num_items)["policy"]))
        adam = optax.adam(schedule, eps=pol_cfg.adam_eps)
        return optax.chain(optax.clip_by_global_norm(pol_cfg.grad_clip), adam) if pol_cfg.grad_clip else adam

    def init(key, data: TrainData, hparams: Hparams) -> TrainState:
        agent, model = parts(data.action_bounds)
        seed = hparams.seed

        def per_seed_keys(stream):
            return jax.random.split(jax.random.fold_in(key, stream), num_seeds)

        # An online model is one per member and a per-seed model one per seed, each keyed by its seed; a
        # shared model has a stream of its own. So member (point, s) draws what seed s of a plain run draws.
        if online:
            model_init_keys, model_keys = per_seed_keys(_MODEL_INIT)[seed], per_seed_keys(_MODEL_EPOCHS)[seed]
        else:
            n = max(model_count, 1)
            model_init_keys = jax.random.split(jax.random.fold_in(key, _MODEL_INIT), n)
            model_keys = jax.random.split(jax.random.fold_in(key, _MODEL_EPOCHS), n)
        # Without a joint model a placeholder keeps one TrainState layout for every algorithm.
        model_state = jax.vmap(model.init)(model_init_keys) if model else jnp.zeros((1,))
        pol_params = jax.vmap(lambda k: algo.init_policy(agent, k, obs_dim))(per_seed_keys(_POLICY_INIT)[seed])
        tx = policy_tx(1.0, data.num_items)  # the optimizer state's layout does not depend on the lr
        return TrainState(
            model=model_state, model_keys=model_keys, policy_params=pol_params,
            policy_opt_state=jax.vmap(tx.init)(pol_params), policy_keys=per_seed_keys(_POLICY_EPOCHS)[seed],
            hparams=hparams, model_epoch=jnp.zeros((), jnp.int32), policy_epoch=jnp.zeros((), jnp.int32))

    def model_epoch(model_state, key, model, pairs):
        perm_key, step_key = jax.random.split(key)
        batches = _epoch_batches(perm_key, pairs.shape[0], model_cfg.batch_size)

        def step(model_state, xs):
            idx, k = xs
            return model.pretrain_step(model_state, pairs[idx], k)

        model_state, infos = jax.lax.scan(step, model_state, (batches, jax.random.split(step_key, len(batches))))
        return model_state, {**jax.tree.map(jnp.mean, infos), "model/nonfinite_params": nonfinite(model_state.params)}

    def policy_epoch(carry, key, data, agent, model, frozen_model, hp: Hparams):
        obs, actions = data.obs, data.actions
        perm_key, step_key = jax.random.split(key)
        batches = _epoch_batches(perm_key, data.num_items, pol_cfg.batch_size)
        tx = policy_tx(hp.lr, data.num_items)

        def step(carry, xs):
            params, opt_state, model_state = carry
            idx, k = xs
            o, a = obs[idx], actions[idx]
            info = {}
            if online:  # the model first takes its step against the current policy's pairs
                x_agent = jnp.concatenate([o, jax.lax.stop_gradient(algo.act(agent, params, o))], -1)
                x_expert = jnp.concatenate([o, a], -1)
                model_state, info = model.online_step(model_state, x_expert, x_agent, jax.random.fold_in(k, 1))
            model_params = (model_state if online else frozen_model).params if model else None
            (_, pol_info), grads = jax.value_and_grad(
                functools.partial(algo.policy_loss, agent), has_aux=True)(params, o, a, k, hp, model_params)
            updates, opt_state = tx.update(grads, opt_state, params)
            info.update(pol_info)
            info["policy/grad_norm"] = optax.tree.norm(grads)
            return (optax.apply_updates(params, updates), opt_state, model_state), info

        carry, infos = jax.lax.scan(step, carry, (batches, jax.random.split(step_key, len(batches))))
        return carry, {**jax.tree.map(jnp.mean, infos), "policy/nonfinite_params": nonfinite(carry[0])}

    @functools.partial(jax.jit, static_argnums=2)
    def model_epochs(state: TrainState, data: TrainData, n: int):
        _, model = parts(data.action_bounds)
        pairs = jnp.concatenate([data.obs, data.actions], -1)

        def one_model(model_state, stream_key):
            epoch_fn = functools.partial(model_epoch, model=model, pairs=pairs)
            return _scan_epochs(epoch_fn, model_state, stream_key, state.model_epoch, n)

        model_state, info = map_members(one_model, squeeze_one=squeeze_one)(state.model, state.model_keys)
        return state.replace(model=model_state, model_epoch=state.model_epoch + n), info

    @functools.partial(jax.jit, static_argnums=2)
    def policy_epochs(state: TrainState, data: TrainData, n: int):
        agent, model = parts(data.action_bounds)
        # Each member's joint model: its own (online, carried), its seed's, or the one shared model.
        if online:
            model_state, axis = state.model, 0
        elif per_seed_model:
            model_state, axis = jax.tree.map(lambda x: x[state.hparams.seed], state.model), 0
        else:
            model_state, axis = jax.tree.map(lambda x: x[0], state.model), None

        def one_member(params, opt_state, stream_key, model_state, hp):
            frozen, carried = (None, model_state) if online else (model_state, None)
            epoch_fn = functools.partial(policy_epoch, data=data, agent=agent, model=model, frozen_model=frozen,
                                         hp=hp)
            return _scan_epochs(epoch_fn, (params, opt_state, carried), stream_key, state.policy_epoch, n)

        (params, opt_state, carried), info = map_members(one_member, (0, 0, 0, axis, 0), squeeze_one)(
            state.policy_params, state.policy_opt_state, state.policy_keys, model_state, state.hparams)
        state = state.replace(model=carried) if online else state
        return state.replace(policy_params=params, policy_opt_state=opt_state,
                             policy_epoch=state.policy_epoch + n), info

    def run(key, data: TrainData, hparams: Hparams):
        state = init(key, data, hparams)
        state, model_info = model_epochs(state, data, pretrain_epochs) if pretrain_epochs else (state, {})
        state, pol_info = policy_epochs(state, data, pol_cfg.epochs)
        return state, model_info, pol_info

    def act(params, obs, key, action_bounds):
        return algo.act(parts(action_bounds)[0], params, obs, key)

    return TrainFns(init=init, model_epochs=model_epochs, policy_epochs=policy_epochs, run=run, act=act, grid=grid,
                    model_count=model_count, pretrain_epochs=pretrain_epochs,
                    updates_per_epoch=functools.partial(updates_per_epoch, config))


def eval_key(seed: int, policy_epoch: int) -> jax.Array:
    """The evaluation key after ``policy_epoch`` epochs of the run with root seed ``seed``."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed), _EVAL), policy_epoch)
