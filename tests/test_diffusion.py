import jax
import jax.numpy as jnp
import numpy as np

from dbc_jax import diffusion


def test_sigmoid_schedule_matches_official_numbers():
    """Spec section 1.1, verified on the official code."""
    s = diffusion.sigmoid_schedule(1000)
    np.testing.assert_allclose(s.betas[0], 1.49e-4, rtol=5e-3)
    np.testing.assert_allclose(s.betas[999], 0.01995, rtol=1e-3)
    t = [0, 250, 500, 750, 999]
    np.testing.assert_allclose(s.sqrt_alphas_bar[jnp.array(t)], [0.9999, 0.950, 0.547, 0.075, 0.0063], atol=6e-4)
    np.testing.assert_allclose(s.sqrt_one_minus_alphas_bar[jnp.array(t)], [0.012, 0.312, 0.837, 0.997, 1.000],
                               atol=6e-4)


def test_antithetic_timesteps_pair_t_with_T_minus_1_minus_t():
    t = diffusion.antithetic_timesteps(jax.random.PRNGKey(0), 128, 1000)
    assert t.shape == (128,) and t.min() >= 0 and t.max() <= 999
    np.testing.assert_array_equal(t[:64] + t[64:], 999)


def test_q_sample_mixes_signal_and_noise_by_the_schedule():
    s = diffusion.sigmoid_schedule(1000)
    x0, noise = jnp.ones((2, 3)), jnp.full((2, 3), 2.0)
    xt = diffusion.q_sample(s, x0, jnp.array([0, 999]), noise)
    np.testing.assert_allclose(xt[0], s.sqrt_alphas_bar[0] + 2 * s.sqrt_one_minus_alphas_bar[0], rtol=1e-6)
    np.testing.assert_allclose(xt[1], s.sqrt_alphas_bar[999] + 2 * s.sqrt_one_minus_alphas_bar[999], rtol=1e-6)
