"""Datasets: the .pt reader (no torch), .npz round trip, and each validation error."""

import io
import os
import pickle
import pickletools
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
    with pytest.raises(DatasetError, match=r"evil.pt: refusing to load '(posix|os)\.system'"):
        load_dataset(str(path))


# -- untrusted files: every reader checks before it allocates or indexes ---------------------------------------------

def pt_bytes(arrays: dict, pickle_edit=None) -> bytes:
    """A ``torch.save``-format zip of float32 tensors, written without torch: the pickle names
    ``torch._utils._rebuild_tensor_v2`` and ``torch.FloatStorage`` as torch does (protocol 2, persistent storage
    ids, stored entries). ``pickle_edit(bytes) -> bytes`` alters the pickle before it is zipped."""
    import collections
    import sys
    import types

    fake_torch, fake_utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    fake_torch.FloatStorage, fake_utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2

    class Storage:
        def __init__(self, key, numel):
            self.key, self.numel = key, numel

    class Tensor:
        def __init__(self, storage, shape):
            self.storage, self.shape = storage, shape

        def __reduce__(self):
            stride = tuple(int(np.prod(self.shape[i + 1:])) for i in range(len(self.shape)))
            return _rebuild_tensor_v2, (self.storage, 0, self.shape, stride, False, collections.OrderedDict())

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", FloatStorage, obj.key, "cpu", obj.numel) if isinstance(obj, Storage) else None

    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules.update({"torch": fake_torch, "torch._utils": fake_utils})
    try:
        buf = io.BytesIO()
        tensors = {k: Tensor(Storage(str(i), v.size), v.shape) for i, (k, v) in enumerate(arrays.items())}
        Pickler(buf, protocol=2).dump(tensors)
    finally:
        for name, module in saved.items():
            sys.modules.pop(name) if module is None else sys.modules.__setitem__(name, module)
    data = buf.getvalue() if pickle_edit is None else pickle_edit(buf.getvalue())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", data)
        for i, v in enumerate(arrays.values()):
            z.writestr(f"archive/data/{i}", np.ascontiguousarray(v, "<f4").tobytes())
    return out.getvalue()


def test_a_pt_written_without_torch_reads_back_exactly(tmp_path):
    arrays = good_arrays()
    path = tmp_path / "d.pt"
    path.write_bytes(pt_bytes(arrays))
    ds = load_dataset(str(path))
    np.testing.assert_array_equal(ds.obs, arrays["obs"])
    np.testing.assert_array_equal(ds.actions, arrays["actions"])


def test_a_tensor_that_reaches_past_its_storage_or_lies_about_it_is_refused(tmp_path):
    """A crafted size, stride or offset (here: the obs tensor declared 301 rows over a storage of 300) and a storage
    whose declared length is not what the archive holds are named; nothing past the storage is read."""
    arrays = good_arrays()
    path = tmp_path / "d.pt"
    grow = lambda b: b.replace(pickle.dumps(300, 2)[2:-1], pickle.dumps(301, 2)[2:-1], 1)  # noqa: E731
    path.write_bytes(pt_bytes(arrays, grow))
    with pytest.raises(DatasetError, match=r"d.pt: .*(does not fit its storage|declares 1806 elements)"):
        load_dataset(str(path))
    path.write_bytes(pt_bytes(arrays, lambda b: b.replace(b"K\x06K\x01", b"K\x07K\x01", 1)))  # obs stride 6 -> 7
    with pytest.raises(DatasetError, match=r"d.pt: a tensor of size \(300, 6\), stride \(7, 1\) at offset 0 does "
                                           r"not fit its storage of 1800 elements"):
        load_dataset(str(path))


def test_an_npz_header_that_claims_more_than_it_holds_is_refused_before_allocating(tmp_path):
    path = tmp_path / "d.npz"
    write_npz(path, **good_arrays())
    big = tmp_path / "big.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(big, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "obs.npy":
                data = data.replace(b"'shape': (300, 6), ", b"'shape': (3000000000000, 6), ", 1)
            dst.writestr(info, data)
    with pytest.raises(DatasetError, match=r"big.npz: field 'obs' declares shape \(3000000000000, 6\) of float32 "
                                           r"\(72000000000000 bytes\) but holds \d+ bytes"):
        load_dataset(str(big))


def test_integer_observations_and_absurd_magnitudes_are_refused(tmp_path):
    arrays = good_arrays()
    path = write_npz(tmp_path / "int.npz", **{**arrays, "obs": np.round(arrays["obs"] * 100).astype(np.int64)})
    with pytest.raises(DatasetError, match=r"int.npz: field 'obs' must hold floating-point numbers, got dtype int64 "
                                           r"\(integer observations are refused"):
        load_dataset(path)
    actions = arrays["actions"].copy()
    actions[[5, 9]] = 1e30
    path = write_npz(tmp_path / "huge.npz", **{**arrays, "actions": actions})
    with pytest.raises(DatasetError, match=r"huge.npz: field 'actions' has 4 values beyond ±1e\+06 \(first at row 5, "
                                           r"magnitude 1e\+30\)"):
        load_dataset(path)


def test_fuzzed_pt_and_npz_files_end_in_a_clear_error_or_a_valid_dataset(tmp_path):
    """Thousands of random mutations of a valid .pt and .npz (truncation, flipped bytes, rewritten numbers in the
    pickle: sizes, strides, offsets, storage lengths) each end in a DatasetError naming the file or in a dataset
    that passes every check: never a crash, another exception or a read outside the file's own bytes."""
    rng = np.random.default_rng(0)
    arrays = good_arrays()
    sources = {"pt": pt_bytes(arrays), "npz": None}
    write_npz(tmp_path / "src.npz", **arrays)
    sources["npz"] = (tmp_path / "src.npz").read_bytes()
    values = set(np.concatenate([arrays["obs"].ravel(), arrays["actions"].ravel()]).tolist())
    outcomes = {"error": 0, "dataset": 0}

    def mutate_pickle(b: bytes) -> bytes:
        """Rewrite one integer of the pickle (a size, stride, offset or storage length) or flip a few bytes."""
        b = bytearray(b)
        widths = {"BININT1": 1, "BININT2": 2, "BININT": 4}
        ints = [(pos + 1, widths[op.name]) for op, _, pos in pickletools.genops(bytes(b)) if op.name in widths]
        if rng.random() < 0.7:
            at, width = ints[rng.integers(len(ints))]
            b[at:at + width] = int(rng.integers(256 ** width)).to_bytes(width, "little")
        else:
            for _ in range(rng.integers(1, 4)):
                b[rng.integers(len(b))] = rng.integers(256)
        return bytes(b)

    for i in range(3000):
        kind = ("pt", "npz")[i % 2]
        if kind == "pt" and i % 4 == 0:
            data = pt_bytes(arrays, mutate_pickle)  # a valid archive around a mutated pickle
        else:
            data = bytearray(sources[kind])
            op = rng.integers(3)
            if op == 0:
                data = data[:rng.integers(len(data))]
            elif op == 1:
                for _ in range(rng.integers(1, 8)):
                    data[rng.integers(len(data))] = rng.integers(256)
            else:
                at = rng.integers(len(data) - 8)
                data[at:at + 8] = int(rng.integers(2**62)).to_bytes(8, "little")
            data = bytes(data)
        path = tmp_path / f"f.{kind}"
        path.write_bytes(data)
        try:
            ds = load_dataset(str(path))
        except DatasetError as e:
            assert str(e).startswith(str(path)), str(e)
            outcomes["error"] += 1
            continue
        # A dataset read from a mutated file holds only finite, bounded numbers of the right shapes, and, for a
        # .pt (raw float storages), only values its own storages hold: no bytes from outside them.
        assert ds.obs.ndim == 2 and ds.actions.ndim == 2 and len(ds.obs) == len(ds.actions)
        assert np.all(np.isfinite(ds.obs)) and np.abs(ds.obs).max() <= 1e6
        if kind == "pt" and data == sources["pt"]:
            assert set(ds.obs.ravel().tolist()) <= values
        outcomes["dataset"] += 1
    assert outcomes["error"] > 1000 and sum(outcomes.values()) == 3000
    print(outcomes)
