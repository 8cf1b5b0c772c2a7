"""The DBC loss: hinge at zero, gradient to the policy only, shared noise and t, BC = lambda 0."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dbc_jax import diffusion
from dbc_jax.algos import dbc
from dbc_jax.networks import Denoiser

B, OBS, ACT = 8, 6, 2


class TableActions(nn.Module):
    """A 'policy' whose output is a free parameter per row: lets a test place pi(s) exactly."""

    @nn.compact
    def __call__(self, obs):
        return self.param("actions", nn.initializers.zeros, (B, ACT))


@pytest.fixture
def setup():
    agent = dbc.Agent(policy=TableActions(), denoiser=Denoiser(hidden=16), schedule=diffusion.sigmoid_schedule())
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    obs, actions = jax.random.normal(k[0], (B, OBS)), jax.random.normal(k[1], (B, ACT))
    dm_params = dbc.init_denoiser(agent, k[2], OBS + ACT)
    return agent, obs, actions, dm_params, k[3]


def with_actions(a):
    return {"params": {"actions": a}}


def loss(agent, pol, dm, obs, actions, key, coeff_dm=30.0):
    return dbc.policy_loss(agent, pol, dm, obs, actions, key, coeff_bc=1.0, coeff_dm=coeff_dm)


def test_policy_equal_to_expert_gives_zero_loss_exactly(setup):
    """Same noise and same t for both terms: identical pairs give identical diffusion losses."""
    agent, obs, actions, dm, key = setup
    total, info = loss(agent, with_actions(actions), dm, obs, actions, key)
    assert float(info["dm/agent"]) == float(info["dm/expert"]) > 0
    assert float(info["dm/hinge"]) == 0.0 and float(total) == 0.0


def test_diffusion_terms_use_one_draw_of_noise_and_t(setup):
    agent, obs, actions, dm, key = setup
    pred = actions + 0.5
    _, info = loss(agent, with_actions(pred), dm, obs, actions, key)
    t_key, noise_key = jax.random.split(key)
    t = diffusion.antithetic_timesteps(t_key, B, 1000)
    noise = jax.random.normal(noise_key, (B, OBS + ACT))
    eps = lambda x, t: agent.denoiser.apply(dm, x, t)  # noqa: E731
    for name, a in (("dm/agent", pred), ("dm/expert", actions)):
        expected = diffusion.eps_loss(eps, agent.schedule, jnp.concatenate([obs, a], -1), t, noise)
        np.testing.assert_allclose(info[name], expected, rtol=1e-6)


def test_hinge_is_zero_with_zero_gradient_when_agent_beats_expert(setup):
    agent, obs, actions, dm, key = setup
    # Search a perturbation whose diffusion loss is below the expert's for this draw.
    for i in range(200):
        pred = actions + 0.3 * jax.random.normal(jax.random.PRNGKey(i), actions.shape)
        _, info = loss(agent, with_actions(pred), dm, obs, actions, key)
        if info["dm/agent"] < info["dm/expert"]:
            break
    else:
        pytest.fail("no perturbation with a lower diffusion loss found")
    assert float(info["dm/hinge"]) == 0.0
    def dm_only(p):
        total, info = loss(agent, p, dm, obs, actions, key)
        return total - info["bc/mse"]

    grads = jax.grad(dm_only)(with_actions(pred))
    np.testing.assert_allclose(grads["params"]["actions"], 0.0, atol=1e-7)


def test_gradient_reaches_the_policy_only(setup):
    agent, obs, actions, dm, key = setup
    pol = with_actions(actions + 1.0)
    g_dm = jax.grad(lambda d: loss(agent, pol, d, obs, actions, key)[0])(dm)
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g_dm)) == 0.0
    bc_only = jax.grad(lambda p: loss(agent, p, dm, obs, actions, key, coeff_dm=0.0)[0])(pol)
    full = jax.grad(lambda p: loss(agent, p, dm, obs, actions, key)[0])(pol)
    diff = full["params"]["actions"] - bc_only["params"]["actions"]
    assert float(jnp.abs(diff).max()) > 1e-4  # the diffusion term moves the policy


def test_bc_is_dbc_with_lambda_zero(setup):
    agent, obs, actions, dm, key = setup
    pred = actions + 0.2
    total, info = loss(agent, with_actions(pred), dm, obs, actions, key, coeff_dm=0.0)
    np.testing.assert_allclose(total, jnp.mean((pred - actions) ** 2), rtol=1e-6)
    assert "dm/agent" not in info  # the diffusion model is not evaluated for BC


def test_denoiser_has_three_hidden_layers_with_per_layer_time_embeddings():
    params = Denoiser(hidden=128).init(jax.random.PRNGKey(0), jnp.zeros((1, 8)), jnp.zeros((1,), jnp.int32))
    p = params["params"]
    assert sorted(p) == ["linear_0", "linear_1", "linear_2", "out", "t_embed_0", "t_embed_1", "t_embed_2"]
    assert p["t_embed_0"]["embedding"].shape == (1000, 128)
    assert p["out"]["kernel"].shape == (128, 8)
