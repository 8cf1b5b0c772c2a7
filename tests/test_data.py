"""Datasets: the .pt reader (no torch), .npz round trip, and each validation error."""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from dbc_jax.data import Dataset, DatasetError, check_compatible, load_dataset
from dbc_jax.normalization import Normalizer


def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def good_arrays(n=300):
    rng = np.random.default_rng(0)
    done = np.zeros(n, np.float32)
    done[[99, 199, n - 1]] = 1
    return {"obs": rng.normal(size=(n, 6)).astype(np.float32), "actions": rng.normal(size=(n, 2)).astype(np.float32),
            "done": done}


def test_official_pt_reads_the_same_arrays_as_npz_without_torch(paper_data):
    import sys

    pt = load_dataset(os.path.join(paper_data, "maze.pt"))
    npz = load_dataset(os.path.join(paper_data, "maze.npz"))
    np.testing.assert_array_equal(pt.obs, npz.obs)
    np.testing.assert_array_equal(pt.actions, npz.actions)
    np.testing.assert_array_equal(pt.episode_ends, npz.episode_ends)
    assert (pt.num_transitions, pt.num_episodes, pt.obs_dim, pt.act_dim) == (18525, 100, 6, 2)
    assert "torch" not in sys.modules


def test_normalization_stats_match_the_official_ones(paper_data):
    """Spec section 8: torch mean and unbiased std over maze.pt."""
    d = load_dataset(os.path.join(paper_data, "maze.pt"))
    n = Normalizer.from_data(d.obs, d.actions)
    np.testing.assert_allclose(n.obs_mean, [3.598, 3.599, -0.171, 0.049, 3.786, 3.615], atol=1e-3)
    np.testing.assert_allclose(n.obs_std, [1.249, 1.458, 2.352, 2.408, 1.765, 1.845], atol=1e-3)
    np.testing.assert_allclose(n.act_mean, [0.0123, 0.0003], atol=1e-4)
    np.testing.assert_allclose(n.act_std, [0.739, 0.748], atol=1e-3)


def test_normalization_round_trip_and_constant_dims():
    rng = np.random.default_rng(1)
    obs = rng.normal(size=(500, 3)).astype(np.float32)
    obs[:, 2] = 4.0  # a constant dimension maps to 0
    actions = (rng.normal(size=(500, 2)) * 3 + 1).astype(np.float32)
    n = Normalizer.from_data(obs, actions)
    np.testing.assert_allclose(n.obs_std[:2], obs[:, :2].std(0, ddof=1), rtol=1e-5)  # unbiased
    np.testing.assert_allclose(n.denormalize_actions(n.normalize_actions(actions)), actions, atol=1e-5)
    assert np.all(np.asarray(n.normalize_obs(obs))[:, 2] == 0)
    extreme = np.array([[1e6, -1e6, 4.0]], np.float32)
    np.testing.assert_allclose(n.normalize_obs(extreme), [[10.0, -10.0, 0.0]])  # clamped to +-10


def test_npz_round_trip_is_atomic(tmp_path):
    a = good_arrays()
    ds = Dataset(obs=a["obs"], actions=a["actions"], episode_ends=np.array([100, 200, 300]), metadata={"x": 1})
    path = str(tmp_path / "d.npz")
    ds.save(path)
    back = load_dataset(path)
    np.testing.assert_array_equal(back.obs, ds.obs)
    np.testing.assert_array_equal(back.episode_ends, [100, 200, 300])
    assert back.metadata["x"] == 1
    assert back.next_obs is None and back.rewards is None  # optional fields absent stay absent
    assert os.listdir(tmp_path) == ["d.npz"]  # no temporary file left behind
    full = Dataset(obs=a["obs"], actions=a["actions"], episode_ends=np.array([300]), next_obs=a["obs"] + 1,
                   rewards=np.arange(300, dtype=np.float32))
    full.save(path)
    back = load_dataset(path)
    np.testing.assert_array_equal(back.next_obs, full.next_obs)
    np.testing.assert_array_equal(back.rewards, full.rewards)


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a.pop("actions"), "missing field 'actions' (found: done, obs)"),
    (lambda a: a["obs"].__setitem__((5, 1), np.nan), "field 'obs' has 1 NaN/inf values (first at row 5)"),
    (lambda a: a["actions"].__setitem__((7, 0), np.inf), "field 'actions' has 1 NaN/inf values (first at row 7)"),
    (lambda a: a.__setitem__("actions", a["actions"][:-1]), "field 'actions' has 299 rows but 'obs' has 300"),
    (lambda a: a.__setitem__("done", a["done"][:-2]), "field 'done' has 298 rows but 'obs' has 300"),
    (lambda a: a.__setitem__("next_obs", a["obs"][:, :2]), "field 'next_obs' has dimension 2, 'obs' has 6"),
    (lambda a: a.__setitem__("rewards", np.zeros((300, 2))), "field 'rewards' must be 1-D [N], got shape (300, 2)"),
    (lambda a: a.__setitem__("rewards", np.full(300, np.nan)), "field 'rewards' has 300 NaN/inf values (first at row 0)"),
    (lambda a: a.__setitem__("obs", a["obs"][:, 0]), "field 'obs' must be 2-D [N, dim], got shape (300,)"),
])
def test_each_file_error_names_file_and_field(tmp_path, mutate, message):
    a = good_arrays()
    mutate(a)
    path = write_npz(tmp_path / "bad.npz", **a)
    with pytest.raises(DatasetError) as e:
        load_dataset(path)
    assert str(e.value) == f"{path}: {message}"


def test_env_mismatch_and_too_little_data(tmp_path):
    path = write_npz(tmp_path / "d.npz", **good_arrays())
    ds = load_dataset(path)
    with pytest.raises(DatasetError, match=r"d.npz: field 'obs' has dimension 6, env 'ant' expects 42"):
        check_compatible(ds, 42, 2, 128, "ant")
    with pytest.raises(DatasetError, match=r"d.npz: field 'actions' has dimension 2, env 'maze' expects 3"):
        check_compatible(ds, 6, 3, 128, "maze")
    with pytest.raises(DatasetError, match=r"config.policy.batch_size: must be at most the number of transitions in "
                                           r".*d.npz \(300\), got 512"):
        check_compatible(ds, 6, 2, {"policy.batch_size": 512, "diffusion.batch_size": 128}, "maze")
    check_compatible(ds, 6, 2, 128, "maze")


def test_corrupt_files_are_named(tmp_path):
    for name in ("junk.npz", "junk.pt"):
        (tmp_path / name).write_bytes(b"not an archive")
        with pytest.raises(DatasetError, match=rf"{name}: not a "):
            load_dataset(str(tmp_path / name))


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(DatasetError, match="nope.npz: file not found"):
        load_dataset(str(tmp_path / "nope.npz"))
    (tmp_path / "d.csv").write_text("1,2")
    with pytest.raises(DatasetError, match=r"unknown dataset format \(expected .npz, .pt or minari:<dataset id>\)"):
        load_dataset(str(tmp_path / "d.csv"))


def test_pt_reader_refuses_arbitrary_objects(tmp_path):
    """A pickle that would call os.system is refused, not run."""

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    buf = io.BytesIO()
    pickle.dump({"obs": Evil()}, buf, protocol=2)
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", buf.getvalue())
    with pytest.raises(pickle.UnpicklingError, match=r"evil.pt: refusing to load '(posix|os)\.system'"):
        load_dataset(str(path))
