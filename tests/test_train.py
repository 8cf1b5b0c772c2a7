"""Smoke train -> evaluate -> checkpoint -> resume, on a tiny config with real demos, env and orbax."""

import json
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import pytest

import dbc_jax
from dbc_jax.provenance import code_version
from dbc_jax.checkpoint import Checkpoints
from dbc_jax.demos import make_demos
from dbc_jax.train import evaluate_workdir
from dbc_jax.workdir import restore_workdir


def tiny_config(tmp_path, **overrides):
    c = dbc_jax.get_config("maze", "smoke")
    c.data.path = str(tmp_path / "demos.npz")
    c.workdir = str(tmp_path / "run")
    c.checkpoint.max_to_keep = 10
    for k, v in overrides.items():
        section, name = k.split("__") if "__" in k else (None, k)
        (c[section] if section else c)[name] = v
    return c


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("data") / "demos.npz")
    c = dbc_jax.get_config("maze", "smoke")
    make_demos(c, path, progress=False)
    return path


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory, demos):
    """One run of the tiny config, shared by the tests that only read it (train once, check many things)."""
    return run(tmp_path_factory.mktemp("reference"), demos, "reference")


def run(tmp_path, demos, name, **overrides):
    c = tiny_config(tmp_path, **overrides)
    c.data.path, c.workdir = demos, str(tmp_path / name)
    return dbc_jax.train(c, progress=False)


def leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_train_writes_workdir_and_evaluates_exactly_n_episodes(reference_run):
    r = reference_run
    assert r.per_seed.shape == (3,) and np.all((r.per_seed >= 0) & (r.per_seed <= 100))
    for key in ("config", "metrics", "learning_curve", "results", "episodes", "trajectories"):
        assert os.path.exists(r.paths[key]), key
    # results.json names the code that trained it: this checkout's commit (none outside a git checkout).
    head = subprocess.run(["git", "-C", os.path.dirname(__file__), "rev-parse", "HEAD"], capture_output=True,
                          text=True)
    assert code_version()["commit"] == (head.stdout.strip() if head.returncode == 0 else "")
    assert json.load(open(r.paths["results"]))["code"] == [code_version()] == r.code
    # results.json keeps every episode: [seeds, episodes] values whose means are the table's.
    episodes = json.load(open(r.paths["results"]))["episodes"]
    assert np.asarray(episodes["success"]).shape == (3, 4)
    np.testing.assert_allclose(np.mean(episodes["success"], 1) * 100, r.per_seed)
    np.testing.assert_allclose(np.mean(episodes["length"], 1), r.evaluation.episode_length)
    records = [json.loads(line) for line in open(r.paths["metrics"])]
    assert [x["epoch"] for x in records if x["phase"] == "model"] == [1, 2, 3, 4]
    assert [x["epoch"] for x in records if x["phase"] == "eval"] == [2, 4]
    assert all("bc/mse" in x and "model/term" in x for x in records if x["phase"] == "policy")
    # Each success rate is a count over exactly eval.num_episodes = 4 episodes.
    np.testing.assert_allclose(r.per_seed * 4 / 100, np.round(r.per_seed * 4 / 100))
    # make eval on the saved run reproduces the final evaluation.
    again = evaluate_workdir(r.workdir)
    np.testing.assert_array_equal(again.per_seed, r.per_seed)
    np.testing.assert_array_equal(again.evaluation.episode_length, r.evaluation.episode_length)


@pytest.mark.parametrize("backend", ["c", "mjx"])
def test_recorded_paths_hold_each_episode_from_its_reset_to_its_end(reference_run, backend):
    """Maze records its first episodes' observations for trajectories.png: [members, record, steps + 1, 6], one row
    for the reset and one per step, NaN after the episode's end."""
    result = evaluate_workdir(reference_run.workdir, backend=backend).evaluation
    paths, lengths = result.paths, result.episodes["length"]
    assert paths.shape[:2] == (3, 4) and paths.shape[3] == 6  # record = min(8, the 4 episodes of each seed)
    rows = (~np.isnan(paths[..., 0])).sum(-1)
    np.testing.assert_array_equal(rows, lengths[:, :4] + 1)
    ends = paths[np.arange(3)[:, None], np.arange(4), lengths[:, :4]]  # the last observation of each episode
    reached = np.linalg.norm(ends[..., :2] - ends[..., 4:6], axis=-1) <= 0.5
    np.testing.assert_array_equal(reached, result.episodes["success"][:, :4])


def test_the_pictures_mark_the_reported_evaluation_and_pair_each_start_with_its_goal(reference_run, tmp_path):
    """learning_curve.png stars the final evaluation that results.json reports, and only once it exists;
    trajectories.png numbers each episode at its start and at its goal in one colour, and crosses a failure's end."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dbc_jax.envs.maze import draw_paths
    from dbc_jax.metrics import MetricsLog
    from dbc_jax.plots import plot_learning_curve

    r = reference_run
    records = MetricsLog(r.paths["metrics"]).records()
    final_update = max(x["update"] for x in records if x["phase"] == "eval")
    assert plot_learning_curve(records, "success", str(tmp_path / "a.png"), r.grid, final_update) == pytest.approx(
        [r.mean])
    unfinished = [x for x in records if x["phase"] != "eval" or x["update"] < final_update]
    assert plot_learning_curve(unfinished, "success", str(tmp_path / "b.png"), r.grid, final_update) == []

    evaluation = evaluate_workdir(r.workdir).evaluation
    paths, success = evaluation.paths[0], evaluation.episodes["success"][0, :evaluation.paths.shape[1]]
    fig, ax = plt.subplots()
    draw_paths(ax, paths, success)
    labels = {}
    for note in ax.texts:
        labels.setdefault(note.get_text(), []).append((tuple(note.xy), note.get_color()))
    assert sorted(labels, key=int) == [str(i + 1) for i in range(len(paths))]
    for i, path in enumerate(paths):
        (start, start_color), (goal, goal_color) = labels[str(i + 1)]
        np.testing.assert_allclose(start, path[0, :2])
        np.testing.assert_allclose(goal, path[0, 4:6])
        assert start_color == goal_color
    assert len({color for (_, color), _ in labels.values()}) == min(len(paths), 10)
    crosses = [line for line in ax.lines if line.get_marker() == "x" and len(line.get_xdata())]
    assert len(crosses) == int((~success).sum())
    assert len(ax.get_legend_handles_labels()[0]) == 4
    plt.close(fig)


def test_probe_splits_the_models_loss_over_states_and_actions(reference_run, tmp_path, demos):
    """experiments/probe_model.py on a DBC run: the state- and action-dimension losses average to the whole, the
    shuffled-action gap is reported, and a run without a joint model is refused."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "experiments"))
    import probe_model

    r = probe_model.probe(reference_run.workdir, pairs=64, draws=2)
    assert r["pairs"] == 64 and r["model"] == "diffusion"
    assert (6 * r["state_dims_loss"] + 2 * r["action_dims_loss"]) / 8 == pytest.approx(r["demo_loss"], rel=1e-5)
    assert np.isfinite(r["shuffled_gap"]) and 0.0 <= r["shuffled_worse"] <= 1.0
    bc = run(tmp_path, demos, "bc_probe", algo="bc")
    with pytest.raises(ValueError, match="bc_probe: the run has no joint model to probe \\(algo bc\\)"):
        probe_model.probe(bc.workdir)


def test_resume_reaches_the_same_parameters_as_an_uninterrupted_run(tmp_path, demos, reference_run):
    full = reference_run
    ckpt = Checkpoints(full.workdir)
    steps = ckpt.all_steps()
    spent_before = {step: ckpt.read_meta(step)["timings"] for step in (2, 6)}
    ckpt.close()
    assert steps == [2, 4, 6, 8]  # epochs done: model 2, model 4, model 4 + policy 2, model 4 + policy 4
    # Interrupted runs: copy an early checkpoint into a fresh workdir (in each phase), resume it there.
    for step in (2, 6):
        resumed_dir = tmp_path / f"resumed_{step}"
        os.makedirs(resumed_dir / "checkpoints")
        shutil.copytree(os.path.join(full.workdir, "checkpoints", str(step)), resumed_dir / "checkpoints" / str(step))
        shutil.copy(os.path.join(full.workdir, "config.json"), resumed_dir / "config.json")
        meta_path = resumed_dir / "checkpoints" / str(step) / "meta" / "metadata"
        meta = json.loads(meta_path.read_text())
        earlier = {"dbc_jax": "0.0.1", "commit": "0" * 40, "dirty": True}  # as if that sitting ran other code
        meta_path.write_text(json.dumps({**meta, "code": [earlier]}))
        resumed = run(tmp_path, demos, f"resumed_{step}")
        assert resumed.code == [earlier, code_version()]  # every sitting's code, in order
        a, b = (restore_workdir(w)[1] for w in (full.workdir, resumed.workdir))
        for x, y in zip(leaves(a), leaves(b)):
            np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(resumed.per_seed, full.per_seed)
        # The timings add the earlier sitting's seconds, which the checkpoint carries.
        spent = spent_before[step]
        assert spent["model_s"] > 0 and resumed.timings["model_s"] >= spent["model_s"]
        assert resumed.timings["policy_s"] >= spent["policy_s"] and resumed.timings["evaluation_s"] >= spent[
            "evaluation_s"]
        if step == 6:  # resumed in the policy phase: no model time in the second sitting
            assert resumed.timings["model_s"] == pytest.approx(spent["model_s"], abs=0.5)


def test_only_the_sections_a_run_uses_decide_whether_it_is_the_same_run(tmp_path):
    """A finished BC run stays valid when the task's diffusion model settings change; DBC's does not; the dp and
    ibc sections count only for their own algorithm."""
    from dbc_jax.configs import resolve
    from dbc_jax.workdir import config_differences

    def differences(algo, section, field, value):
        saved = json.loads(resolve(tiny_config(tmp_path, algo=algo)).to_json())
        changed = tiny_config(tmp_path, algo=algo)
        changed[section][field] = value
        return config_differences(resolve(changed), saved)

    assert differences("bc", "diffusion", "hidden", 999) == []
    assert differences("dbc", "diffusion", "hidden", 999) == ["diffusion"]
    assert differences("dp", "ibc", "num_samples", 7) == [] and differences("dp", "dp", "num_steps", 7) == ["dp"]
    assert differences("ibc", "ibc", "num_samples", 7) == ["ibc"]
    assert differences("bc", "policy", "lr", 0.5) == ["policy"]

    # The same data file under another spelling (a symlink, "..", another checkout leading to it) is the same run.
    def with_data(path):
        config = tiny_config(tmp_path, algo="bc")
        config.data.path = str(path)
        return resolve(config)

    (tmp_path / "demos.npz").write_bytes(b"")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "link")
    saved = json.loads(with_data(tmp_path / "demos.npz").to_json())
    assert config_differences(with_data(tmp_path / "link" / "demos.npz"), saved) == []
    assert config_differences(with_data(tmp_path / "sub" / ".." / "demos.npz"), saved) == []
    assert config_differences(with_data(tmp_path / "other.npz"), saved) == ["data"]


def test_same_seed_same_numbers_and_a_different_config_is_refused(tmp_path, demos, reference_run):
    a = reference_run
    b = run(tmp_path, demos, "again")
    np.testing.assert_array_equal(a.per_seed, b.per_seed)
    c = tiny_config(tmp_path, seed=7)
    c.data.path, c.workdir = demos, a.workdir
    with pytest.raises(ValueError, match="holds a run with a different config \\(seed differ\\)"):
        dbc_jax.train(c, progress=False)


def test_bc_skips_diffusion_pretraining(tmp_path, demos):
    r = run(tmp_path, demos, "bc", algo="bc")
    records = [json.loads(line) for line in open(r.paths["metrics"])]
    assert not [x for x in records if x["phase"] == "model"]
    assert all("model/term" not in x for x in records if x["phase"] == "policy")
    assert r.config.diffusion.coeff == 0.0


def test_config_errors_name_the_field(tmp_path):
    c = tiny_config(tmp_path, algo="gail")
    with pytest.raises(ValueError, match=r"config.algo: must be one of \('dbc', 'bc', 'dp', 'ibc'\), got 'gail'"):
        dbc_jax.train(c, progress=False)
    c = tiny_config(tmp_path, policy__batch_size=127)
    with pytest.raises(ValueError, match=r"config.policy.batch_size: must be even"):
        dbc_jax.train(c, progress=False)
    c = tiny_config(tmp_path, eval__backend="cuda")
    with pytest.raises(ValueError, match=r"config.eval.backend: must be one of \('auto', 'c', 'mjx'\), got 'cuda'"):
        dbc_jax.train(c, progress=False)
    c = dbc_jax.get_config("fetchpick", "smoke")
    c.eval.backend, c.workdir = "mjx", str(tmp_path / "fetch")
    with pytest.raises(ValueError, match=r"config.eval.backend: 'fetchpick' has no MJX twin \(tasks with one: maze, "
                                         r"halfcheetah, walker, antreach\); use 'c' or 'auto'"):
        dbc_jax.train(c, progress=False)
    assert not os.path.exists(c.workdir)  # refused before any compute or file
    for fields, message in [
            ({"algo": "bc", "grid__coeff": (0.1, 1.0)}, r"config.grid.coeff: only algo 'dbc' has this hyperparameter, "
                                                        r"not 'bc' \(BC is DBC with λ = 0: sweep λ with algo dbc\)"),
            ({"grid__lr": (1e-3, 0.0)}, r"config.grid.lr: must be a tuple whose every value is a finite number > 0, got \(0.001, 0.0\)"),
            ({"grid__coeff": (1.0, 1.0)}, r"config.grid.coeff: repeated values in \(1.0, 1.0\)")]:
        with pytest.raises(ValueError, match=message):
            dbc_jax.train(tiny_config(tmp_path, **fields), progress=False)
    with pytest.raises(ValueError, match="unknown preset 'huge' for maze"):
        dbc_jax.get_config("maze", "huge")


def demo_data(demos):
    from dbc_jax.data import load_dataset

    d = load_dataset(demos)
    return dbc_jax.TrainData.from_demos(d.obs, d.actions)


def test_lambda_grid_in_one_program_and_lambda_zero_is_bc(tmp_path, demos):
    """make_train is pure in its data and hyperparameters: a grid of lambdas x seeds is one program, member
    (lambda 0, seed s) equals seed s of a BC run bit for bit, and the same inputs give the same numbers."""
    data = demo_data(demos)
    dbc_fns = dbc_jax.make_train(tiny_config(tmp_path, grid__coeff=(0.0, 30.0)), 6, 2)
    assert dbc_fns.grid.shape == (2, 3) and [m["coeff"] for m in dbc_fns.grid.members()] == [0.0] * 3 + [30.0] * 3
    state = dbc_fns.init(jax.random.PRNGKey(1), data, dbc_fns.grid.hparams())
    state, _ = dbc_fns.model_epochs(state, data, 2)
    swept, _ = dbc_fns.policy_epochs(state, data, 2)
    bc_fns = dbc_jax.make_train(tiny_config(tmp_path, algo="bc"), 6, 2)
    bc, _ = bc_fns.policy_epochs(bc_fns.init(jax.random.PRNGKey(1), data, bc_fns.grid.hparams()), data, 2)
    for x, y in zip(leaves(swept.policy_params), leaves(bc.policy_params)):
        np.testing.assert_array_equal(x[:3], y)  # lambda 0 == BC, seed by seed
        assert not np.array_equal(x[3:], y)  # lambda 30 moved the policies elsewhere
    again, _ = dbc_fns.policy_epochs(state, data, 2)
    for x, y in zip(leaves(swept.policy_params), leaves(again.policy_params)):
        np.testing.assert_array_equal(x, y)  # same inputs, same numbers


def test_lone_member_squeezed_computes_the_vmapped_update(tmp_path, demos):
    """A member axis of size 1 (the shared diffusion model; a one-seed policy) runs squeezed for speed: the same
    updates as the vmapped program up to float32 rounding. Three BC seeds take the vmapped path either way."""
    data = demo_data(demos)

    def trained(squeeze_one, **overrides):
        fns = dbc_jax.make_train(tiny_config(tmp_path, **overrides), 6, 2, squeeze_one=squeeze_one)
        state = fns.init(jax.random.PRNGKey(1), data, fns.grid.hparams())
        if fns.model_count:
            state, _ = fns.model_epochs(state, data, 2)
        state, info = fns.policy_epochs(state, data, 2)
        return leaves((state.model, state.policy_params)), info

    (fast, fast_info), (plain, plain_info) = trained(True, num_seeds=1), trained(False, num_seeds=1)
    assert fast[0].shape[0] == 1 and len(fast) == len(plain)  # the member axis is kept
    assert any(not np.array_equal(x, y) for x, y in zip(fast, plain))  # not the same program
    for x, y in zip(fast, plain):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast_info["bc/mse"], plain_info["bc/mse"], rtol=1e-5)
    for x, y in zip(trained(True, algo="bc")[0], trained(False, algo="bc")[0]):
        np.testing.assert_array_equal(x, y)


def test_grid_run_equals_its_points_run_apart(tmp_path, demos):
    """A grid (lambda x lr) trained and evaluated as one program: each member matches the plain run of its point
    (same keys, same evaluation episodes), and results, metrics and table name the axes."""
    grid = run(tmp_path, demos, "grid", grid__coeff=(3.0, 30.0), grid__lr=(1e-3, 3e-3), diffusion__shared=True)
    assert grid.grid.shape == (2, 2, 3) and grid.by_point.shape == (4, 3)
    apart = run(tmp_path, demos, "apart", diffusion__coeff=3.0, policy__lr=3e-3)
    np.testing.assert_allclose(grid.by_point[1], apart.per_seed)  # point (coeff 3, lr 3e-3)
    a, b = restore_workdir(grid.workdir).state, restore_workdir(apart.workdir).state
    for x, y in zip(leaves(a.policy_params), leaves(b.policy_params)):
        np.testing.assert_allclose(x[3:6], y, rtol=1e-4, atol=1e-6)
    records = [json.loads(line) for line in open(grid.paths["metrics"])]
    assert records[0]["phase"] == "grid" and records[0]["axes"] == {"coeff": [3.0, 30.0], "lr": [1e-3, 3e-3]}
    assert records[0]["members"][4] == {"coeff": 3.0, "lr": 3e-3, "seed": 1}
    assert len(next(r for r in records if r["phase"] == "policy")["bc/mse/per_member"]) == 12
    table = grid.table()
    assert "| coeff | lr | success rate (%), mean ± std | per seed |" in table and "| 30 | 0.003 |" in table
    saved = json.load(open(grid.paths["results"]))
    assert [p["point"] for p in saved["points"]][1] == {"coeff": 3.0, "lr": 3e-3} and "mean" not in saved
    with pytest.raises(ValueError, match="a grid of 4 points has one value per point: use .means"):
        grid.mean


def test_own_demo_file_follows_the_config(tmp_path, monkeypatch):
    """Presets with other demo counts or settings never train on each other's default demo file."""
    from dbc_jax.tasks import get_task
    from dbc_jax.demos import prepare_dataset

    monkeypatch.chdir(tmp_path)
    c = dbc_jax.get_config("maze", "smoke")
    task = get_task("maze")
    small = prepare_dataset(c, task, progress=False)
    assert small.num_episodes == 10 and os.path.exists("data/maze_expert_10ep.npz")
    c.data.num_episodes = 12
    assert prepare_dataset(c, task, progress=False).num_episodes == 12
    c.data.num_episodes, c.data.expert.action_noise = 10, 0.0
    regenerated = prepare_dataset(c, task, progress=False)  # same file name, other settings: made again
    assert regenerated.metadata["action_noise"] == 0.0 and not np.array_equal(regenerated.actions, small.actions)


def test_one_diffusion_model_per_seed_option(tmp_path, demos):
    data = demo_data(demos)
    fns = dbc_jax.make_train(tiny_config(tmp_path, diffusion__shared=False), 6, 2)
    state, _ = fns.model_epochs(fns.init(jax.random.PRNGKey(1), data, fns.grid.hparams()), data, 1)
    kernels = np.asarray(state.model.params["params"]["out"]["kernel"])
    assert kernels.shape[0] == 3 and not np.array_equal(kernels[0], kernels[1])  # three different models
    state, info = fns.policy_epochs(state, data, 1)
    assert np.asarray(info["model/agent"]).shape == (3, 1)
    shared = dbc_jax.make_train(tiny_config(tmp_path), 6, 2)
    assert jax.tree.leaves(shared.init(jax.random.PRNGKey(1), data, shared.grid.hparams()).model)[0].shape[0] == 1


def test_dirty_means_the_code_differs_not_the_pages_a_run_writes(tmp_path):
    """A campaign's clone rewrites docs/ as it goes; only a change to the code marks a sitting's commit with *."""
    from dbc_jax.provenance import code_changed

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True,
                       capture_output=True)

    for name in ("dbc_jax/train.py", "experiments/compare.py", "docs/results.md", "Makefile"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x\n")
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "c")
    package = str(tmp_path / "dbc_jax")
    assert not code_changed(package)
    (tmp_path / "docs" / "results.md").write_text("a page the run wrote\n")
    (tmp_path / "notes.txt").write_text("untracked\n")
    assert not code_changed(package)
    for name in ("experiments/compare.py", "dbc_jax/train.py", "Makefile"):
        (tmp_path / name).write_text("changed\n")
        assert code_changed(package), name
        git("checkout", "-q", "--", name)
    assert not code_changed(package)
