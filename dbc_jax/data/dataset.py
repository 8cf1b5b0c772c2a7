"""The expert dataset: arrays in memory, read from ``.npz`` (ours or the paper's) or the paper's ``.pt``.

Files hold ``obs [N, obs_dim]``, ``actions [N, act_dim]`` and ``done [N]`` (1.0 on the last transition of each
episode), the paper's layout; ``next_obs`` may be present and is ignored (BC and DBC use only (s, a)). Our own
files add a JSON ``metadata`` string. Every check runs before any compute, and each error names the file and
the field.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zipfile

import numpy as np

from dbc_jax.data.torch_pt import read_torch_arrays

REQUIRED_FIELDS = ("obs", "actions", "done")


class DatasetError(ValueError):
    """A dataset file that cannot be used, with the file and field named."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    obs: np.ndarray  # [N, obs_dim] float32
    actions: np.ndarray  # [N, act_dim] float32
    episode_ends: np.ndarray  # [num_episodes] int64, exclusive end index of each episode; the last is N
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def num_transitions(self) -> int:
        return len(self.obs)

    @property
    def num_episodes(self) -> int:
        return len(self.episode_ends)

    @property
    def obs_dim(self) -> int:
        return self.obs.shape[1]

    @property
    def act_dim(self) -> int:
        return self.actions.shape[1]

    def done(self) -> np.ndarray:
        done = np.zeros(self.num_transitions, dtype=np.float32)
        done[self.episode_ends - 1] = 1.0
        return done

    def save(self, path: str) -> None:
        """Write an ``.npz`` atomically (a temporary file in the same folder, then a rename)."""
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, obs=self.obs, actions=self.actions, done=self.done(),
                         metadata=np.array(json.dumps(self.metadata)))
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise


def _read_arrays(path: str) -> dict[str, np.ndarray]:
    if not os.path.exists(path):
        raise DatasetError(f"{path}: file not found")
    if not path.endswith((".npz", ".pt")):
        raise DatasetError(f"{path}: unknown dataset format (expected .npz or .pt)")
    try:
        if path.endswith(".pt"):
            return read_torch_arrays(path)
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as e:
        if isinstance(e, DatasetError) or str(e).startswith(path):
            raise DatasetError(str(e)) from e
        kind = "torch" if path.endswith(".pt") else "numpy .npz"
        raise DatasetError(f"{path}: not a readable {kind} file ({type(e).__name__}: {e})") from e


def load_dataset(path: str) -> Dataset:
    """Read and check a dataset file: required fields, 2-D float arrays, equal lengths, finite values."""
    arrays = _read_arrays(path)
    for field in REQUIRED_FIELDS:
        if field not in arrays:
            raise DatasetError(f"{path}: missing field '{field}' (found: {', '.join(sorted(arrays)) or 'none'})")
    obs = np.asarray(arrays["obs"], dtype=np.float32)
    actions = np.asarray(arrays["actions"], dtype=np.float32)
    done = np.asarray(arrays["done"]).reshape(-1)
    for field, x in (("obs", obs), ("actions", actions)):
        if x.ndim != 2:
            raise DatasetError(f"{path}: field '{field}' must be 2-D [N, dim], got shape {x.shape}")
        bad = ~np.isfinite(x)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DatasetError(f"{path}: field '{field}' has {int(bad.sum())} NaN/inf values (first at row {row})")
    for field, n in (("actions", len(actions)), ("done", len(done))):
        if n != len(obs):
            raise DatasetError(f"{path}: field '{field}' has {n} rows but 'obs' has {len(obs)}")
    if len(obs) == 0:
        raise DatasetError(f"{path}: field 'obs' is empty")
    ends = np.flatnonzero(done > 0.5) + 1
    if len(ends) == 0 or ends[-1] != len(obs):
        ends = np.append(ends, len(obs))  # a trailing unfinished episode still counts as data
    metadata = json.loads(str(arrays["metadata"])) if "metadata" in arrays else {}
    metadata.setdefault("path", os.path.abspath(path))
    return Dataset(obs=obs, actions=actions, episode_ends=ends.astype(np.int64), metadata=metadata)


def check_compatible(dataset: Dataset, obs_dim: int, act_dim: int, batch_sizes: dict | int, env_name: str) -> None:
    """Raise if the dataset cannot train a policy for the env with these batch sizes (``{"policy.batch_size": 128,
    ...}``, or one number)."""
    path = dataset.metadata.get("path", "dataset")
    if dataset.obs_dim != obs_dim:
        raise DatasetError(f"{path}: field 'obs' has dimension {dataset.obs_dim}, env '{env_name}' expects {obs_dim}")
    if dataset.act_dim != act_dim:
        raise DatasetError(
            f"{path}: field 'actions' has dimension {dataset.act_dim}, env '{env_name}' expects {act_dim}")
    for field, size in (batch_sizes if isinstance(batch_sizes, dict) else {"batch_size": batch_sizes}).items():
        if dataset.num_transitions < size:
            raise DatasetError(f"config.{field}: must be at most the number of transitions in {path} "
                               f"({dataset.num_transitions}), got {size}")
