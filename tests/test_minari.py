"""Minari export and import (dbc_jax/data/minari_format.py): round trips on datasets made here, and their errors."""

import glob
import os

import numpy as np
import pytest

pytest.importorskip("minari", reason="the minari extra is not installed (pip install -e '.[minari]')")

import minari  # noqa: E402

import dbc_jax  # noqa: E402
from dbc_jax.data import Dataset, DatasetError, load_dataset, to_minari  # noqa: E402
from dbc_jax.data.minari_format import main as export_main  # noqa: E402
from dbc_jax.experts.maze import generate_demos  # noqa: E402

FIELDS = ("obs", "actions", "episode_ends", "next_obs", "rewards")


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch):
    """Every test writes its Minari datasets under its own tmp folder, never ~/.minari."""
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


@pytest.fixture(scope="module")
def maze_demos():
    return generate_demos(num_episodes=6, seed=0, progress=False)


def test_our_demos_round_trip_exactly(maze_demos, minari_root):
    path = to_minari(maze_demos, "dbc_jax/maze/expert-v0")
    assert path.startswith(str(minari_root))
    back = load_dataset("minari:dbc_jax/maze/expert-v0")
    for field in FIELDS:
        np.testing.assert_array_equal(getattr(back, field), getattr(maze_demos, field), err_msg=field)
    assert {k: back.metadata[k] for k in maze_demos.metadata} == maze_demos.metadata
    assert back.metadata["path"] == "minari:dbc_jax/maze/expert-v0"

    # as Minari itself sees it: T + 1 observations, the env recoverable, each episode truncated at its end
    data = minari.load_dataset("dbc_jax/maze/expert-v0")
    assert (data.total_episodes, data.total_steps) == (6, maze_demos.num_transitions)
    episode = next(data.iterate_episodes())
    end = int(maze_demos.episode_ends[0])
    np.testing.assert_array_equal(episode.observations[-1], maze_demos.next_obs[end - 1])
    assert episode.truncations[-1] and not episode.truncations[:-1].any() and not episode.terminations.any()
    env = data.recover_environment()
    assert env.spec.id == "dbc_jax/Maze2D-Medium-v0" and env.spec.max_episode_steps == 400
    env.close()


def test_paper_data_round_trip_with_rewards_unknown(paper_data, minari_root):
    dataset = load_dataset(os.path.join(paper_data, "maze.pt"))
    to_minari(dataset, "paper/maze-v0", env_name="maze")
    assert np.isnan(next(minari.load_dataset("paper/maze-v0").iterate_episodes()).rewards).all()
    back = load_dataset("minari:paper/maze-v0")
    assert back.rewards is None  # unknown stays unknown rather than becoming zeros
    for field in ("obs", "actions", "episode_ends", "next_obs"):
        np.testing.assert_array_equal(getattr(back, field), getattr(dataset, field), err_msg=field)
    assert back.metadata["exported_from"].endswith("maze.pt")


def test_training_on_minari_equals_training_on_the_file(maze_demos, tmp_path):
    file = str(tmp_path / "demos.npz")
    maze_demos.save(file)
    to_minari(maze_demos, "dbc_jax/maze/expert-v0")
    results = []
    for i, path in enumerate((file, "minari:dbc_jax/maze/expert-v0")):
        config = dbc_jax.get_config("maze", "smoke")
        config.algo = "bc"
        config.data.path = path
        config.workdir = str(tmp_path / f"run{i}")
        results.append(dbc_jax.train(config, progress=False).per_seed)
    np.testing.assert_array_equal(results[0], results[1])


def test_export_errors_are_named_and_write_nothing(maze_demos, minari_root):
    no_next = Dataset(maze_demos.obs, maze_demos.actions, maze_demos.episode_ends, {"env": "maze", "path": "x.npz"})
    with pytest.raises(DatasetError, match=r"x\.npz: no field 'next_obs'"):
        to_minari(no_next, "test/a-v0")
    with pytest.raises(ValueError, match="names no env; pass env_name"):
        to_minari(Dataset(maze_demos.obs, maze_demos.actions, maze_demos.episode_ends, {}), "test/a-v0")
    with pytest.raises(DatasetError, match=r"do not match task 'walker' \(17/6\)"):
        to_minari(maze_demos, "test/a-v0", env_name="walker")
    with pytest.raises(ValueError, match="dataset_id: Malformed dataset ID: x/bad"):
        to_minari(maze_demos, "x/bad")
    assert not glob.glob(str(minari_root / "**" / "*.hdf5"), recursive=True)
    to_minari(maze_demos, "test/a-v0")
    with pytest.raises(ValueError, match="'test/a-v0' exists already"):
        to_minari(maze_demos, "test/a-v0")
    to_minari(maze_demos, "test/a-v0", overwrite=True)  # replaces it
    assert minari.load_dataset("test/a-v0").total_episodes == 6


def test_reading_errors_are_named(maze_demos, minari_root):
    with pytest.raises(DatasetError, match="minari:none/x-v0: no such local Minari dataset"):
        load_dataset("minari:none/x-v0")
    # a NaN in the data gets the same check as in any file
    bad_obs = maze_demos.obs.copy()
    bad_obs[3, 1] = np.nan
    to_minari(Dataset(bad_obs, maze_demos.actions, maze_demos.episode_ends, {"env": "maze"}, maze_demos.next_obs,
                      maze_demos.rewards), "test/nan-v0")
    with pytest.raises(DatasetError, match=r"minari:test/nan-v0: field 'obs' has 1 NaN/inf values \(first at row 3\)"):
        load_dataset("minari:test/nan-v0")
    # a damaged file
    to_minari(maze_demos, "test/damaged-v0")
    (hdf5,) = glob.glob(str(minari_root / "test" / "damaged-v0" / "data" / "*.hdf5"))
    with open(hdf5, "r+b") as f:
        f.truncate(os.path.getsize(hdf5) // 3)
    with pytest.raises(DatasetError, match="minari:test/damaged-v0: not a readable Minari dataset"):
        load_dataset("minari:test/damaged-v0")


def test_export_command(maze_demos, tmp_path, capsys):
    file = str(tmp_path / "demos.npz")
    maze_demos.save(file)
    export_main(["prog", f"--data={file}", "--dataset_id=cli/maze-v0"])
    out = capsys.readouterr().out
    assert "Wrote Minari dataset 'cli/maze-v0' (6 episodes" in out and "minari:cli/maze-v0" in out
    np.testing.assert_array_equal(load_dataset("minari:cli/maze-v0").actions, maze_demos.actions)
    with pytest.raises(SystemExit) as exit_info:
        export_main(["prog", f"--data={tmp_path / 'missing.npz'}", "--dataset_id=cli/other-v0"])
    assert exit_info.value.code == 2
    assert "missing.npz: file not found" in capsys.readouterr().err
