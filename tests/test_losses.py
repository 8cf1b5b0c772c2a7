"""DBC's policy loss over a joint model: hinge at zero, gradient to the policy only, one key for both pairs,
BC without a model; for every joint model."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dbc_jax
from dbc_jax import diffusion, joint_models
from dbc_jax.algos import dbc
from dbc_jax.grid import Hparams
from dbc_jax.joint_models.diffusion import Denoiser
from dbc_jax.networks import Policy

B, OBS, ACT = 8, 6, 2


class TableActions(nn.Module):
    """A 'policy' whose output is a free parameter per row: lets a test place pi(s) exactly."""

    @nn.compact
    def __call__(self, obs):
        return self.param("actions", nn.initializers.zeros, (B, ACT))


def make_setup(name, term="hinge"):
    section = dbc_jax.get_config("maze", "smoke")[name]
    section.term = term
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    obs, actions = jax.random.normal(k[0], (B, OBS)), jax.random.normal(k[1], (B, ACT))
    model = joint_models.make(name, section, OBS, ACT, (-2 * jnp.ones(ACT), 2 * jnp.ones(ACT)))
    agent = dbc.Agent(policy=TableActions(), model=model, term=term)
    return agent, obs, actions, model.init(k[2]).params, k[3]


@pytest.fixture
def setup():
    return make_setup("diffusion")


def with_actions(a):
    return {"params": {"actions": a}}


def weights(coeff=30.0, coeff_bc=1.0):
    """One member's hyperparameters, as the trainer passes them to every algorithm's policy_loss."""
    return Hparams(seed=jnp.int32(0), coeff=jnp.float32(coeff), coeff_bc=jnp.float32(coeff_bc), lr=jnp.float32(1e-3))


def loss(agent, pol, model_params, obs, actions, key, coeff=30.0):
    return dbc.policy_loss(agent, pol, obs, actions, key, weights(coeff), model_params)


@pytest.mark.parametrize("name", joint_models.MODEL_NAMES)
def test_policy_equal_to_expert_gives_zero_loss_and_zero_gradient_exactly(name):
    """One key for both pairs: identical pairs give identical proxy losses, so the hinge (and BC) are exactly 0."""
    agent, obs, actions, params, key = make_setup(name)
    (total, info), grads = jax.value_and_grad(
        lambda p: loss(agent, p, params, obs, actions, key), has_aux=True)(with_actions(actions))
    assert float(info["model/agent"]) == float(info["model/expert"])
    assert float(info["model/term"]) == 0.0 and float(total) == 0.0
    assert float(jnp.abs(grads["params"]["actions"]).max()) == 0.0


@pytest.mark.parametrize("name", joint_models.MODEL_NAMES)
def test_gradient_reaches_the_policy_only(name):
    agent, obs, actions, params, key = make_setup(name, term="abs")  # abs: nonzero for any pair that differs
    pol = with_actions(actions + 1.0)
    g_model = jax.grad(lambda d: loss(agent, pol, d, obs, actions, key)[0])(params)
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g_model)) == 0.0
    bc_only = jax.grad(lambda p: loss(agent, p, params, obs, actions, key, coeff=0.0)[0])(pol)
    full = jax.grad(lambda p: loss(agent, p, params, obs, actions, key)[0])(pol)
    diff = full["params"]["actions"] - bc_only["params"]["actions"]
    assert float(jnp.abs(diff).max()) > 1e-4  # the model's term moves the policy


def test_terms():
    la, le = jnp.array([3.0, 1.0]), jnp.array([1.0, 2.0])
    assert float(joint_models.model_term("hinge", la, le)) == 0.5  # relu(2 - 1.5)
    assert float(joint_models.model_term("hinge", le, la)) == 0.0
    assert float(joint_models.model_term("agent", la, le)) == 2.0
    assert float(joint_models.model_term("abs", la, le)) == 1.5  # pair by pair: (2 + 1) / 2
    with pytest.raises(ValueError, match="model term: expected one of"):
        joint_models.model_term("square", la, le)


def test_diffusion_terms_use_one_draw_of_noise_and_t(setup):
    agent, obs, actions, dm, key = setup
    pred = actions + 0.5
    _, info = loss(agent, with_actions(pred), dm, obs, actions, key)
    t_key, noise_key = jax.random.split(key)
    t = diffusion.antithetic_timesteps(t_key, B, 1000)
    noise = jax.random.normal(noise_key, (B, OBS + ACT))
    eps = lambda x, t: Denoiser(hidden=32).apply(dm, x, t)  # noqa: E731
    for name, a in (("model/agent", pred), ("model/expert", actions)):
        expected = diffusion.eps_loss(eps, diffusion.sigmoid_schedule(), jnp.concatenate([obs, a], -1), t, noise)
        np.testing.assert_allclose(info[name], expected, rtol=1e-6)


def test_hinge_is_zero_with_zero_gradient_when_agent_beats_expert(setup):
    agent, obs, actions, dm, key = setup
    # Search a perturbation whose diffusion loss is below the expert's for this draw.
    for i in range(200):
        pred = actions + 0.3 * jax.random.normal(jax.random.PRNGKey(i), actions.shape)
        _, info = loss(agent, with_actions(pred), dm, obs, actions, key)
        if info["model/agent"] < info["model/expert"]:
            break
    else:
        pytest.fail("no perturbation with a lower diffusion loss found")
    assert float(info["model/term"]) == 0.0

    def model_only(p):
        total, info = loss(agent, p, dm, obs, actions, key)
        return total - info["bc/mse"]

    grads = jax.grad(model_only)(with_actions(pred))
    np.testing.assert_allclose(grads["params"]["actions"], 0.0, atol=1e-7)


def test_bc_has_no_joint_model():
    agent = dbc.Agent(policy=TableActions(), model=None, term="hinge")
    obs, actions = jnp.zeros((B, OBS)), jnp.ones((B, ACT))
    pred = actions + 0.2
    total, info = dbc.policy_loss(agent, with_actions(pred), obs, actions, jax.random.PRNGKey(0), weights(coeff=0.0),
                                  None)
    np.testing.assert_allclose(total, jnp.mean((pred - actions) ** 2), rtol=1e-6)
    assert "model/agent" not in info  # no joint model is evaluated for BC
    assert isinstance(dbc.make_agent(dbc_jax.get_config("maze"), OBS, ACT).policy, Policy)


def test_denoiser_has_three_hidden_layers_with_per_layer_time_embeddings():
    params = Denoiser(hidden=128).init(jax.random.PRNGKey(0), jnp.zeros((1, 8)), jnp.zeros((1,), jnp.int32))
    p = params["params"]
    assert sorted(p) == ["linear_0", "linear_1", "linear_2", "out", "t_embed_0", "t_embed_1", "t_embed_2"]
    assert p["t_embed_0"]["embedding"].shape == (1000, 128)
    assert p["out"]["kernel"].shape == (128, 8)
