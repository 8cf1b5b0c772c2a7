"""The joint models: each learns a toy curve (its proxy loss is lower on the curve than off it), trains end to
end in the harness, resumes bit for bit (the GAN's online discriminator too), and old workdirs still evaluate."""

import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dbc_jax
from dbc_jax import joint_models
from dbc_jax.checkpoint import Checkpoints
from dbc_jax.demos import make_demos
from dbc_jax.train import evaluate_workdir
from dbc_jax.workdir import restore_workdir


def ring(key, n, radius=1.0):
    theta = jax.random.uniform(key, (n,), minval=0.0, maxval=2 * np.pi)
    return radius * jnp.stack([jnp.cos(theta), jnp.sin(theta)], -1)


# name -> (updates, section changes, check(on-ring proxy, off-ring proxy)). Measured on 2026-11-23 (on vs r 0.5,
# r 1.5): diffusion 0.29 vs 0.80, 0.69 (6000 updates); EBM energy 11.9 vs 44.3, 33.9; VAE 0.0035 vs 0.45, 0.71;
# GAN 0.073 vs 20.1, 63.3 (2000 updates each).
RING_CASES = {
    "diffusion": (5000, {"hidden": 128, "lr": 1e-3}, lambda on, off: off >= 1.5 * on),
    "ebm": (3000, {"hidden_sizes": (64, 64), "num_negatives": 32}, lambda on, off: off >= on + 10.0),
    "vae": (2000, {"hidden_sizes": (64, 64), "latent_dim": 1, "lr": 1e-3, "beta": 1e-3},
            lambda on, off: off >= 10 * on),
    "gan": (2000, {"hidden_sizes": (64, 64), "lr": 1e-3}, lambda on, off: off >= 10 * on),
}


@pytest.mark.parametrize("name", joint_models.MODEL_NAMES)
def test_trained_proxy_loss_is_lower_on_the_data_curve_than_off_it(name):
    """Pairs (s, a) on the unit circle. Pretrained models fit them; the GAN's discriminator trains online against
    uniform points of the square, as against a policy's pairs. Proxy losses are averaged over 8 keys."""
    updates, changes, check = RING_CASES[name]
    section = dbc_jax.get_config("maze", "quick")[name]
    section.update(changes)
    model = joint_models.make(name, section, 1, 1, (-jnp.ones(1), jnp.ones(1)))

    def step(state, key):
        data_key, step_key, agent_key = jax.random.split(key, 3)
        x = ring(data_key, 128)
        if model.pretrain_step:
            return model.pretrain_step(state, x, step_key)
        return model.online_step(state, x, jax.random.uniform(agent_key, (128, 2), minval=-1.5, maxval=1.5), step_key)

    train = jax.jit(lambda s: jax.lax.scan(step, s, jax.random.split(jax.random.PRNGKey(1), updates)))
    state, info = train(model.init(jax.random.PRNGKey(0)))
    assert np.all(np.isfinite(info["model/loss"]))

    def proxy(radius):
        x = ring(jax.random.PRNGKey(2), 1024, radius)
        keys = jax.random.split(jax.random.PRNGKey(5), 8)
        return float(jnp.mean(jax.vmap(lambda k: jnp.mean(model.proxy_loss(state.params, x, k)))(keys)))

    on = proxy(1.0)
    print(name, on, proxy(0.5), proxy(1.5))
    for radius in (0.5, 1.5):
        assert check(on, proxy(radius)), (name, on, radius, proxy(radius))


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("data") / "demos.npz")
    make_demos(dbc_jax.get_config("maze", "smoke"), path, progress=False)
    return path


def smoke_config(demos, workdir, model, **policy):
    c = dbc_jax.get_config("maze", "smoke")
    c.model, c.data.path, c.workdir = model, demos, str(workdir)
    c.checkpoint.max_to_keep = 10
    c.policy.update(policy)
    return c


def records(results, phase):
    with open(results.paths["metrics"]) as f:
        return [r for r in map(json.loads, f) if r["phase"] == phase]


@pytest.mark.parametrize("name", ["ebm", "vae"])
def test_pretrained_model_trains_end_to_end(tmp_path, demos, name):
    r = dbc_jax.train(smoke_config(demos, tmp_path / name, name), progress=False)
    pretrain = records(r, "model")
    assert [x["epoch"] for x in pretrain] == [1, 2, 3, 4]
    assert all(np.isfinite(x["model/loss"]) for x in pretrain)
    assert all(x["model/term"] >= 0 and np.isfinite(x["model/agent"]) for x in records(r, "policy"))
    np.testing.assert_allclose(r.per_seed * 4 / 100, np.round(r.per_seed * 4 / 100))  # 4 episodes per seed
    workdir = dbc_jax.configs.resolve(smoke_config(demos, "", name)).workdir
    assert workdir == f"runs/maze_dbc-{name}_smoke_seed1_data-demos"


def test_gan_trains_online_per_seed_and_resumes_bit_identically(tmp_path, demos):
    """The discriminator is part of the checkpointed state: a run resumed mid-policy equals an uninterrupted one;
    without BC (coeff_bc = 0) the loss is lambda times the term alone."""
    full = dbc_jax.train(smoke_config(demos, tmp_path / "full", "gan", coeff_bc=0.0), progress=False)
    assert not records(full, "model")  # no pretraining
    pol = records(full, "policy")
    assert all(0.0 <= x["gan/accuracy"] <= 1.0 for x in pol)
    for x in pol:
        np.testing.assert_allclose(x["loss/total"], 0.2 * x["model/term"], rtol=1e-5)
    state = restore_workdir(full.workdir).state
    assert jax.tree.leaves(state.model.params)[0].shape[0] == 3  # one discriminator per seed
    resumed = tmp_path / "resumed"
    os.makedirs(resumed / "checkpoints")
    shutil.copytree(os.path.join(full.workdir, "checkpoints", "2"), resumed / "checkpoints" / "2")
    shutil.copy(os.path.join(full.workdir, "config.json"), resumed / "config.json")
    again = dbc_jax.train(smoke_config(demos, resumed, "gan", coeff_bc=0.0), progress=False)
    state_again = restore_workdir(again.workdir).state
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(state_again)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    np.testing.assert_array_equal(again.per_seed, full.per_seed)


@pytest.mark.parametrize("layout", [0, 1])
def test_workdir_of_an_earlier_layout_evaluates_and_refuses_to_resume(tmp_path, demos, layout):
    """Old runs, written here through orbax from a new run, field by field as the old TrainState was. Layout 0
    (before the joint models): config.json with a ``dm`` section and ``policy.coeff_dm``; state fields dm_params,
    dm_opt_state, dm_keys, coeff_dm, dm_epoch. Layout 1 (before grids): no ``grid`` section; ``coeff_model``
    in place of the members' hyperparameters."""
    new = dbc_jax.train(smoke_config(demos, tmp_path / "new", "diffusion"), progress=False)
    restored = restore_workdir(new.workdir)
    state = restored.state
    old = tmp_path / "old"
    saved = json.load(open(os.path.join(new.workdir, "config.json")))
    del saved["grid"]
    bounds = [np.asarray(b).tolist() for b in restored.action_bounds]
    if layout == 0:
        diffusion = saved.pop("diffusion")
        saved["policy"].update(coeff_dm=diffusion.pop("coeff"), agent_expert_normalization=True)
        del diffusion["term"], saved["model"], saved["ebm"], saved["vae"], saved["gan"]
        saved["dm"] = diffusion
        old_state = {"dm_params": state.model.params, "dm_opt_state": state.model.opt_state,
                     "policy_params": state.policy_params, "policy_opt_state": state.policy_opt_state,
                     "dm_keys": state.model_keys, "policy_keys": state.policy_keys, "coeff_dm": state.hparams.coeff,
                     "dm_epoch": state.model_epoch, "policy_epoch": state.policy_epoch}
        meta = {"dm_epoch": 4, "policy_epoch": 4, "config": saved, "action_bounds": bounds}
    else:
        old_state = {"model": state.model, "model_keys": state.model_keys, "policy_params": state.policy_params,
                     "policy_opt_state": state.policy_opt_state, "policy_keys": state.policy_keys,
                     "coeff_model": state.hparams.coeff, "model_epoch": state.model_epoch,
                     "policy_epoch": state.policy_epoch}
        meta = {"model_epoch": 4, "policy_epoch": 4, "config": saved, "action_bounds": bounds}
    os.makedirs(old)
    json.dump(saved, open(old / "config.json", "w"))
    ckpt = Checkpoints(str(old))
    ckpt.save(8, old_state, restored.normalizer, meta)
    ckpt.close()
    again = evaluate_workdir(str(old))
    np.testing.assert_array_equal(again.per_seed, new.per_seed)
    assert again.config.diffusion.coeff == 30.0 and again.config.diffusion.term == "hinge"
    before = "the joint-model component" if layout == 0 else "grids"
    with pytest.raises(ValueError, match=f"was written by an earlier dbc_jax \\(checkpoints from before {before}\\)"):
        dbc_jax.train(smoke_config(demos, old, "diffusion"), progress=False)


@pytest.fixture(scope="module")
def ablation():
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
    import ablation_models

    yield ablation_models
    sys.path.pop(0)


def test_ablation_cells_and_table(ablation, tmp_path):
    """Every model with and without BC plus BC; the authors' terms where they differ; a clear error for a bad --set;
    the table puts ours beside the paper."""
    cells = ablation.run_configs("quick", ["diffusion", "ebm", "gan"], "authors", 1, str(tmp_path),
                                 ["eval.every_epochs=100", "policy.hidden_sizes=(64, 64)"])
    assert sorted(cells) == [("bc", True), ("diffusion", False), ("diffusion", True), ("ebm", False),
                             ("ebm", True), ("gan", False), ("gan", True)]
    assert cells[("ebm", False)].policy.coeff_bc == 0.0 and cells[("ebm", True)].policy.coeff_bc == 1.0
    assert cells[("ebm", True)].ebm.term == "abs" and cells[("gan", True)].gan.term == "agent"
    assert cells[("diffusion", True)].diffusion.term == "hinge" and cells[("bc", True)].algo == "bc"
    assert cells[("gan", False)].workdir == str(tmp_path / "quick" / "seed1" / "gan_nobc_agent")
    assert cells[("bc", True)].policy.hidden_sizes == (64, 64) and cells[("bc", True)].eval.every_epochs == 100
    for bad in ("eval.every_epochs=1.5", "policy.size=3", "eval.every_epochs"):
        with pytest.raises(ValueError, match=f"--set {bad}"):
            ablation.run_configs("quick", ["ebm"], "dbc", 1, str(tmp_path), [bad])
    results = {("ebm", True): {"mean": 90.0, "std": 1.25}, ("bc", True): {"mean": 91.0, "std": 2.0}}
    lines = ablation.table(cells, results, "quick", 100).splitlines()
    assert "| EBM | abs | – | 20.3 ± 11.8 | 90.0 ± 1.2 | 92.5 ± 3.0 |" in lines
    assert "| BC alone | – | – | – | 91.0 ± 2.0 | 92.1 ± 3.6 |" in lines
    assert ablation.saved_results(cells[("ebm", True)]) is None  # nothing trained in that workdir
