"""Joint models of the expert's (s, a): the component that DBC's term asks "how expert-like is this pair?".

One module per model (``diffusion``, ``ebm``, ``vae``, ``gan``), each with ``make(section, obs_dim, act_dim,
action_bounds) -> JointModel``, where ``section`` is the model's config section (``config.<name>``). A
:class:`JointModel` is a tuple of pure functions over normalized pairs ``x = [s, a]`` of shape [B, obs_dim + act_dim]:

    init(key) -> ModelState                            parameters and the model's own optimizer state
    pretrain_step(state, x, key) -> (state, info)      one update on expert pairs (phase 1); None: not pretrained
    online_step(state, x_expert, x_agent, key) -> (state, info)   one update beside the policy's (phase 2), or None
    proxy_loss(params, x, key) -> [B, ...]             elementwise losses; their mean is the batch's proxy loss

DBC's policy term is ``λ · term(proxy_loss(params, [s, π(s)], key), proxy_loss(params, [s, a], key))`` with the
same key for both pairs (:func:`model_term`). Every ``info`` holds ``model/loss`` plus namespaced extras.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import struct

MODEL_NAMES = ("diffusion", "ebm", "vae", "gan")
TERMS = ("hinge", "agent", "abs")


@struct.dataclass
class ModelState:
    params: Any
    opt_state: Any


class JointModel(NamedTuple):
    init: Callable
    pretrain_step: Callable | None
    online_step: Callable | None
    proxy_loss: Callable


def make(name: str, section, obs_dim: int, act_dim: int, action_bounds) -> JointModel:
    """The joint model ``name`` built from its config section."""
    if name not in MODEL_NAMES:
        raise ValueError(f"config.model: expected one of {MODEL_NAMES}, got '{name}'")
    return importlib.import_module(f"dbc_jax.joint_models.{name}").make(section, obs_dim, act_dim, action_bounds)


def model_term(term: str, agent_loss, expert_loss):
    """The joint model's term of the policy loss, from elementwise proxy losses of the agent's and the expert's pairs.

    ``hinge``: relu(mean L_agent - mean L_expert) (DBC, the paper's Eq.); ``agent``: relu(mean L_agent) (no
    normalization by the expert's loss; the non-saturating GAN generator loss when L = -log D); ``abs``:
    mean |L_agent - L_expert| pair by pair (the authors' EBM ablation).
    """
    if term == "hinge":
        return jax.nn.relu(jnp.mean(agent_loss) - jnp.mean(expert_loss))
    if term == "agent":
        return jax.nn.relu(jnp.mean(agent_loss))
    if term == "abs":
        return jnp.mean(jnp.abs(agent_loss - expert_loss))
    raise ValueError(f"model term: expected one of {TERMS}, got '{term}'")


def adam(section, schedule=None) -> optax.GradientTransformation:
    """The models' optimizer: Adam at ``section.lr`` (or ``schedule``) after global-norm clipping at
    ``section.grad_clip`` (0: none)."""
    opt = optax.adam(section.lr if schedule is None else schedule)
    return optax.chain(optax.clip_by_global_norm(section.grad_clip), opt) if section.grad_clip else opt


def init_state(tx: optax.GradientTransformation, params) -> ModelState:
    return ModelState(params=params, opt_state=tx.init(params))


def gradient_step(tx: optax.GradientTransformation, loss_fn: Callable, state: ModelState, *args):
    """One optimizer step on ``loss_fn(params, *args) -> (loss, info)``; returns (state, info)."""
    (_, info), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, *args)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    return ModelState(optax.apply_updates(state.params, updates), opt_state), info
