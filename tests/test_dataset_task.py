"""Any local Minari dataset as a task (dbc_jax/configs/dataset.py, minari_format.dataset_task): built here from
gymnasium environments none of the six tasks uses, with controllers written in experiments/minari_demos.py, in the
remote mujoco/* datasets' layout (Minari's DataCollector)."""

import json
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

pytest.importorskip("minari", reason="the minari extra is not installed (pip install -e '.[minari]')")

import minari  # noqa: E402
from minari.data_collector import EpisodeBuffer  # noqa: E402

import dbc_jax  # noqa: E402
from dbc_jax.data import DatasetError  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "experiments"))
import minari_demos  # noqa: E402

PENDULUM = "dbc_jax/invertedpendulum/controller-v0"


@pytest.fixture(scope="module")
def minari_root(tmp_path_factory):
    """The module's Minari datasets in a folder of its own (never ~/.minari), with 10 controller episodes of
    InvertedPendulum-v5."""
    root = tmp_path_factory.mktemp("minari")
    before = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    minari_demos.record("InvertedPendulum-v5", PENDULUM, episodes=10)
    yield root
    if before is None:
        del os.environ["MINARI_DATASETS_PATH"]
    else:
        os.environ["MINARI_DATASETS_PATH"] = before


def test_the_task_comes_from_the_dataset(minari_root):
    task = dbc_jax.tasks.get_task(f"minari:{PENDULUM}")
    assert (task.obs_dim, task.act_dim, task.metric, task.horizon) == (4, 1, "return", 1000)
    random_return, controller_return = task.ref_scores
    assert controller_return == 1000.0 and random_return < 20  # the controller balances; random play falls at once
    config = dbc_jax.get_config(f"minari:{PENDULUM}", "quick")
    assert config.data.path == config.env_name == f"minari:{PENDULUM}"
    per_epoch = 10 * 1000 // 128  # 10 episodes of 1000 steps, batch 128
    assert config.diffusion.epochs == -(-20_000 // per_epoch) and config.policy.epochs == -(-12_000 // per_epoch)
    assert dbc_jax.configs.resolve(config).workdir == (
        "runs/minari-dbc_jax-invertedpendulum-controller-v0_dbc_quick_seed1")
    from dbc_jax.estimate import evaluation_epochs

    evaluated = evaluation_epochs(config)  # at or past a third, two thirds, and the end
    assert len(evaluated) == 3 and evaluated[-1] == config.policy.epochs
    assert evaluated[0] >= config.policy.epochs / 3 and evaluated[1] >= 2 * config.policy.epochs / 3


@pytest.mark.parametrize("algo,floor", [("bc", 10), ("dbc", 10), ("dp", 10), ("ibc", 1)])
def test_every_algorithm_trains_and_evaluates_on_an_env_none_of_the_tasks_uses(minari_root, tmp_path, algo, floor):
    """Smoke size (4 epochs, 4 episodes per seed): BC, DBC and DP already balance the pole ten times longer than a
    random policy (about 5 steps); IBC's energy model at 4 epochs is above random play."""
    config = dbc_jax.get_config(f"minari:{PENDULUM}", "smoke")
    config.algo, config.workdir = algo, str(tmp_path / algo)
    results = dbc_jax.train(config, progress=False)
    random_return = dbc_jax.tasks.get_task(config.env_name).ref_scores[0]
    assert results.evaluation.episodes["return"].shape == (3, 4)
    assert results.mean >= floor * random_return, (algo, results.per_seed)
    low, high = dbc_jax.tasks.get_task(config.env_name).ref_scores
    np.testing.assert_allclose(results.normalized, 100 * (results.per_seed - low) / (high - low))
    assert f"with the dataset's reference returns: {results.normalized.mean():.1f}" in results.table()


def _buffers(obs_dim: int, act_dim: int, steps: int = 5, discrete: bool = False):
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 2, steps) if discrete else rng.uniform(-1, 1, (steps, act_dim)).astype(np.float32)
    return [EpisodeBuffer(id=0, observations=rng.normal(size=(steps + 1, obs_dim)), actions=actions,
                          rewards=[1.0] * steps, terminations=[False] * steps,
                          truncations=[False] * (steps - 1) + [True])]


def test_a_goal_conditioned_dataset_is_refused_naming_its_dict_space(minari_root):
    import gymnasium_robotics  # noqa: F401  (registers PointMaze)

    env = minari.DataCollector(gym.make("PointMaze_UMaze-v3"), record_infos=False)
    env.reset(seed=0)
    for _ in range(3):
        env.step(env.action_space.sample())
    env.create_dataset(dataset_id="dbc_jax/pointmaze/random-v0", author="t", author_email="t@t",
                       code_permalink="t", algorithm_name="random", description="t")
    env.close()
    with pytest.raises(DatasetError) as error:
        dbc_jax.get_config("minari:dbc_jax/pointmaze/random-v0", "smoke")
    assert str(error.value) == (
        "minari:dbc_jax/pointmaze/random-v0: its observation space is Dict(achieved_goal, desired_goal, "
        "observation); dbc_jax needs a flat Box (a vector observation); a Dict (goal-conditioned) observation is not flattened: export the vector you want as a .npz")


def test_what_cannot_work_is_one_line_before_any_compute(minari_root):
    """A discrete action space, spaces that disagree with the env, an env whose package is missing, an unknown id:
    each a DatasetError naming the dataset and what to do, from the command line too (exit status 2, one line)."""
    minari.create_dataset_from_buffers("dbc_jax/cartpole/random-v0", _buffers(4, 1, discrete=True),
                                       env="CartPole-v1", author="t", author_email="t@t", code_permalink="t")
    minari.create_dataset_from_buffers("dbc_jax/pendulum/wide-v0", _buffers(5, 1), env="InvertedPendulum-v5",
                                       observation_space=gym.spaces.Box(-np.inf, np.inf, (5,)),
                                       author="t", author_email="t@t", code_permalink="t")
    # A dataset recorded in an env whose package this machine lacks (its spec rewritten: Minari makes the env when
    # it creates a dataset, so one cannot be created without the package).
    made = minari.create_dataset_from_buffers("dbc_jax/missing/env-v0", _buffers(4, 1), env="InvertedPendulum-v5",
                                              author="t", author_email="t@t", code_permalink="t")
    missing = gym.envs.registration.EnvSpec("NoSuchPackageEnv-v0", entry_point="no_such_package.envs:Env")
    metadata_file = os.path.join(made.storage.data_path, "metadata.json")
    with open(metadata_file) as f:
        metadata = json.load(f)
    with open(metadata_file, "w") as f:
        json.dump({**metadata, "env_spec": missing.to_json()}, f)
    local = sorted(minari.list_local_datasets())
    assert {"dbc_jax/cartpole/random-v0", PENDULUM, "dbc_jax/missing/env-v0", "dbc_jax/pendulum/wide-v0"} <= set(local)
    cases = {
        "dbc_jax/cartpole/random-v0": "its action space is Discrete(2); dbc_jax needs a flat Box (continuous actions)",
        "dbc_jax/pendulum/wide-v0": "the dataset's observation space Box(5,) disagrees with its environment's "
                                    "Box(4,) ('InvertedPendulum-v5')",
        "dbc_jax/missing/env-v0": "its environment 'NoSuchPackageEnv-v0' needs a package that is not installed "
                                  "(no_such_package): install it, then run the same command",
        "dbc_jax/no/such-v0": f"no such local Minari dataset (local datasets: {', '.join(local)}; looked in "
                              f"{minari_root}; nothing is downloaded: on a machine with internet run `minari "
                              "download dbc_jax/no/such-v0`, then the same command)",
    }
    for dataset_id, message in cases.items():
        with pytest.raises(DatasetError) as error:
            dbc_jax.get_config(f"minari:{dataset_id}", "smoke")
        assert str(error.value) == f"minari:{dataset_id}: {message}"
    out = subprocess.run([sys.executable, "-m", "dbc_jax.main",
                          "--config=dbc_jax/configs/dataset.py:smoke,minari:dbc_jax/cartpole/random-v0"],
                         capture_output=True, text=True, cwd=ROOT, env=os.environ)
    assert out.returncode != 0 and out.stderr.strip().splitlines() == [
        f"error: minari:dbc_jax/cartpole/random-v0: {cases['dbc_jax/cartpole/random-v0']}"], out.stderr


def test_make_train_takes_a_dataset():
    dry = subprocess.run(["make", "-n", "train", f"DATA=minari:{PENDULUM}", "ALGO=dp", "PRESET=smoke"],
                         capture_output=True, text=True, cwd=ROOT)
    assert dry.returncode == 0 and (f"-m dbc_jax.main --config=dbc_jax/configs/dataset.py:smoke,minari:{PENDULUM} "
                                    "--config.algo=dp") in dry.stdout
    bad = subprocess.run(["make", "-s", "train", "DATA=demos.npz"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and bad.stderr.splitlines()[0].startswith("error: DATA=demos.npz: expected minari:")


def test_an_env_that_reports_success_is_scored_by_its_success_rate(minari_root):
    """Our Maze demos exported to Minari: the dataset's env reports info["success"], so the task made from it is
    scored by success rate, with the env's time limit as its horizon."""
    from dbc_jax.data import to_minari
    from dbc_jax.experts.maze import generate_demos

    to_minari(generate_demos(num_episodes=3, seed=0, progress=False), "dbc_jax/maze/three-v0", env_name="maze")
    task = dbc_jax.tasks.get_task("minari:dbc_jax/maze/three-v0")
    assert (task.metric, task.horizon, task.obs_dim, task.act_dim) == ("success", 400, 6, 2)
