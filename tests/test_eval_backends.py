"""The two evaluation backends (C MuJoCo, MJX) against each other on trained policies: statistically the same
results. A file of its own so that pytest-xdist (--dist loadfile) runs it beside the twins' parity tests."""

import jax
import numpy as np
import pytest

import dbc_jax
from dbc_jax.tasks import get_task


def z_two_sample(a_mean, a_var, a_n, b_mean, b_var, b_n):
    return (a_mean - b_mean) / np.sqrt(a_var / a_n + b_var / b_n)


Z_MAX = 3.9  # two-sided p = 1e-4 under the null "both backends have the same mean": rare false alarms


def test_shipped_expert_gets_the_same_return_on_both_backends():
    """The trained HalfCheetah expert, 12 episodes per backend (each as its own 'seed', so per-seed results are
    per-episode returns); Welch's z-test on the mean return. Measured 2026-11-22: MJX 5144.6 +- 116.5, C 5197.1 +-
    91.9, z = -1.17."""
    from dbc_jax.evaluate import CMujocoEvaluator, MJXEvaluator
    from dbc_jax.experts.learned import expert_policy_fn

    n = 12
    params, policy_fn = expert_policy_fn("halfcheetah", n)
    mjx = MJXEvaluator("halfcheetah", {}, n, 1, policy_fn)(params, jax.random.PRNGKey(0)).episode_return
    c = CMujocoEvaluator(get_task("halfcheetah").env_id, {}, n, 1, policy_fn)(params, jax.random.PRNGKey(0))
    c = c.episode_return
    z = z_two_sample(mjx.mean(), mjx.var(ddof=1), n, c.mean(), c.var(ddof=1), n)
    message = f"MJX {mjx.mean():.1f} +- {mjx.std():.1f}, C {c.mean():.1f} +- {c.std():.1f}, z = {z:.2f}"
    assert abs(z) < Z_MAX and mjx.mean() > 4500, message


def test_trained_maze_policy_gets_the_same_success_rate_on_both_backends(tmp_path):
    """Train BC on Maze with the C backend evaluating, then evaluate the saved policy on MJX: 200 episodes each,
    two-proportion z-test on the success rate. The run's config names its backend. Measured 2026-11-22: C 0.255,
    MJX 0.275, z = 0.45."""
    from dbc_jax.demos import make_demos
    from dbc_jax.train import evaluate_workdir

    config = dbc_jax.get_config("maze", "smoke")
    config.algo, config.num_seeds, config.policy.epochs, config.eval.num_episodes = "bc", 1, 60, 200
    config.eval.every_epochs, config.eval.backend = 0, "c"
    config.workdir, config.data.path = str(tmp_path / "run"), str(tmp_path / "demos.npz")
    make_demos(config, config.data.path, progress=False)
    c = dbc_jax.train(config, progress=False).evaluation.success[0]
    mjx = evaluate_workdir(config.workdir, backend="mjx").evaluation.success[0]
    p = (c + mjx) / 2
    z = (mjx - c) / np.sqrt(2 * p * (1 - p) / 200)
    assert 0.1 < c < 0.9 and abs(z) < Z_MAX, f"success C {c:.3f}, MJX {mjx:.3f}, z = {z:.2f}"


@pytest.mark.slow  # MJX steps the Ant at ~150 env-steps/s on a 2-core CPU: about 2 minutes with compilation
def test_shipped_antreach_expert_gets_the_same_success_rate_on_both_backends():
    """AntReach's twin solves the Ant's pyramidal friction cones differently from C MuJoCo (tests/test_mjx.py), so
    the backends are compared on what an evaluation reports: the shipped expert, 100 episodes each, two-proportion
    z-test on the success rate."""
    from dbc_jax.evaluate import CMujocoEvaluator, MJXEvaluator
    from dbc_jax.experts.learned import expert_policy_fn

    n = 100
    params, policy_fn = expert_policy_fn("antreach")
    mjx = MJXEvaluator("antreach", {}, 1, n, policy_fn)(params, jax.random.PRNGKey(0)).success[0]
    c = CMujocoEvaluator(get_task("antreach").env_id, {}, 1, n, policy_fn)(params, jax.random.PRNGKey(0)).success[0]
    p = (c + mjx) / 2
    z = (mjx - c) / np.sqrt(max(2 * p * (1 - p) / n, 1e-12))
    assert c > 0.1 and abs(z) < Z_MAX, f"success C {c:.3f}, MJX {mjx:.3f}, z = {z:.2f}"
