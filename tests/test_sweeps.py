"""experiments/sweep.py (a grid from the command line: one program per non-vmappable value, resumable) and the
manifold-overfitting data."""

import json
import os
import sys
from types import SimpleNamespace

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
import manifold  # noqa: E402
import sweep  # noqa: E402

import dbc_jax  # noqa: E402
from dbc_jax.demos import make_demos  # noqa: E402


def args_for(tmp_path, *grid, sets=()):
    return SimpleNamespace(env="maze", preset="smoke", algo="dbc", seed=1, grid=list(grid),
                           set=[f"data.path={tmp_path / 'demos.npz'}", *sets], workdir=str(tmp_path / "sweep"),
                           no_train=False)


def test_grid_items_split_into_one_program_axes_and_programs(tmp_path):
    runs = sweep.run_configs(args_for(tmp_path, "diffusion.coeff=0,1e-3,30", "policy.lr=1e-3,3e-3",
                                      "diffusion.term=hinge,agent"))
    assert [point for point, _ in runs] == [{"diffusion.term": "hinge"}, {"diffusion.term": "agent"}]
    config = runs[1][1]
    assert config.grid.coeff == (0.0, 1e-3, 30.0) and config.grid.lr == (1e-3, 3e-3)
    assert config.diffusion.term == "agent" and config.workdir == str(tmp_path / "sweep" / "term-agent")
    assert dbc_jax.grid.Grid.from_config(dbc_jax.configs.resolve(config)).num_members == 3 * 2 * 3
    for items, message in [(["diffusion.coeff"], "--grid diffusion.coeff: expected <field>=<value>,<value>"),
                           (["policy.epochs=2,x"], "--grid policy.epochs=2,x: expected a int, got 'x'"),
                           (["policy.size=1,2"], "--grid policy.size=1,2: 'policy.size' is not a config field"),
                           (["coeff=1,2", "diffusion.coeff=3"], "--grid diffusion.coeff=3: diffusion.coeff is swept "
                                                                "twice"),
                           (["diffusion.term=hinge,hinged"], "config.diffusion.term: must be one of")]:
        with pytest.raises(ValueError, match=message):
            sweep.run_configs(args_for(tmp_path, *items))


def test_sweep_trains_one_program_writes_table_and_plot_and_reuses_it(tmp_path, monkeypatch, capsys):
    make_demos(dbc_jax.get_config("maze", "smoke"), str(tmp_path / "demos.npz"), progress=False)
    args = args_for(tmp_path, "diffusion.coeff=0,30")
    argv = ["sweep.py", "--env", "maze", "--preset", "smoke", "--workdir", args.workdir,
            "--grid", "diffusion.coeff=0,30", "--set", args.set[0]]
    monkeypatch.setattr(sys, "argv", argv)
    sweep.main()
    saved = json.load(open(os.path.join(args.workdir, "results.json")))
    assert [r["point"] for r in saved["rows"]] == [{"coeff": 0.0}, {"coeff": 30.0}]
    for row in saved["rows"]:  # 3 seeds x 4 episodes each: multiples of 25 %
        assert len(row["per_seed"]) == 3 and all(v % 25 == 0 for v in row["per_seed"])
        assert row["best"]["epoch"] in (2, 4) and row["best"]["mean"] >= row["mean"]
    lines = open(os.path.join(args.workdir, "table.md")).read().splitlines()
    assert "| λ | last | best (epoch) |" in lines and sum(line.startswith("| 30 |") for line in lines) == 1
    assert os.path.getsize(os.path.join(args.workdir, "sweep.png")) > 10_000
    capsys.readouterr()
    sweep.main()  # finished: reused, nothing trained again
    assert "training" not in capsys.readouterr().out


def test_manifold_data_lies_on_a_known_two_dimensional_manifold():
    obs, actions, test_obs, test_actions = manifold.manifold_data(64, 500, 100)
    assert obs.shape == (500, 64) and test_actions.shape == (100, 2)
    # The states span exactly the 6 feature directions (rank 6 in R^64), and the features recover z and so a*.
    assert np.linalg.matrix_rank(obs, tol=1e-4) == manifold.NUM_FEATURES
    again = manifold.manifold_data(64, 500, 100)
    np.testing.assert_array_equal(again[0], obs)  # fixed draws: every method sees the same data
    assert not np.array_equal(manifold.manifold_data(16, 500, 100)[1], actions)  # each D its own draw
    assert np.all(np.abs(actions) <= 2.0)


def test_c_evaluator_in_member_blocks_gives_the_same_results_as_all_at_once():
    """A large grid is evaluated in blocks of members (at most ``max_envs`` envs exist); a stochastic policy's draws
    and every episode stay those of the one-block evaluation, exactly."""
    import jax
    import jax.numpy as jnp

    from dbc_jax.evaluate import CMujocoEvaluator, make_policy_fn
    from dbc_jax.normalization import Normalizer
    from dbc_jax.tasks import get_task

    def act(params, obs, key):  # toward the target, scaled per member, plus noise: a stochastic policy
        return jnp.tanh(params * (obs[..., 4:6] - obs[..., :2])) + 0.3 * jax.random.normal(key, obs[..., :2].shape)

    policy_fn = make_policy_fn(act, Normalizer.identity(6, 2))
    params = jnp.asarray([0.5, 1.0, 2.0, 4.0, 8.0])  # 5 members: 2 seeds x points, playing seeds 0, 1, 0, 1, 0
    members = [0, 1, 0, 1, 0]
    results = [CMujocoEvaluator(get_task("maze").env_id, {}, 2, 3, policy_fn, max_steps=40, member_seeds=members,
                                max_envs=max_envs)(params, jax.random.PRNGKey(7)) for max_envs in (512, 6)]
    assert results[1].success.shape == (5,)
    for name in ("success", "episode_return", "episode_length"):
        np.testing.assert_array_equal(getattr(results[0], name), getattr(results[1], name))
    assert len(set(np.round(results[0].episode_return, 6))) == 5  # the members did play differently
