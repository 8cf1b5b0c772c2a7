"""The expert dataset: arrays in memory, read from ``.npz`` (ours or the paper's), the paper's ``.pt``, or a local
Minari dataset (``minari:<dataset id>``, :mod:`dbc_jax.data.minari_format`).

Files hold ``obs [N, obs_dim]``, ``actions [N, act_dim]`` and ``done [N]`` (1.0 on the last transition of each
episode), the paper's layout. Optional: ``next_obs [N, obs_dim]`` (the paper's files and ours have it; training uses
only (s, a), but a Minari export needs each episode's final observation) and ``rewards [N]`` (ours). Our own files
add a JSON ``metadata`` string. Every check runs before any compute, and each error names the file and the field.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import zipfile

import numpy as np
from tqdm.auto import tqdm

from dbc_jax.data.torch_pt import read_torch_arrays
from dbc_jax.files import umask_mode

REQUIRED_FIELDS = ("obs", "actions", "done")
MINARI_PREFIX = "minari:"  # config.data.path = "minari:<dataset id>" reads a local Minari dataset
MAX_ARRAY_BYTES = 2**32  # a demo file's arrays together (the paper's largest holds about 1 MB)
MAX_MAGNITUDE = 1e6  # |state| or |action| beyond this is refused (the paper's demos stay below 30)


class DatasetError(ValueError):
    """A dataset file that cannot be used, with the file and field named."""


@dataclasses.dataclass(frozen=True)
class Dataset:
    obs: np.ndarray  # [N, obs_dim] float32
    actions: np.ndarray  # [N, act_dim] float32
    episode_ends: np.ndarray  # [num_episodes] int64, exclusive end index of each episode; the last is N
    metadata: dict = dataclasses.field(default_factory=dict)
    next_obs: np.ndarray | None = None  # [N, obs_dim] float32, the observation after each action; None if unknown
    rewards: np.ndarray | None = None  # [N] float32, the env's reward for each action; None if unknown

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
        os.fchmod(fd, umask_mode())  # mkstemp makes it readable by its owner only
        try:
            with os.fdopen(fd, "wb") as f:
                optional = {k: v for k, v in (("next_obs", self.next_obs), ("rewards", self.rewards)) if v is not None}
                np.savez(f, obs=self.obs, actions=self.actions, done=self.done(),
                         metadata=np.array(json.dumps(self.metadata)), **optional)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise


def concatenate(parts: list[Dataset], metadata: dict) -> Dataset:
    """The episodes of ``parts``, in order, as one dataset (e.g. expert demos and agent episodes mixed); the
    optional fields are kept only where every part has them."""
    dims = {(p.obs_dim, p.act_dim) for p in parts}
    if len(dims) != 1:
        raise DatasetError(f"cannot concatenate datasets of different (obs_dim, act_dim): {sorted(dims)}")
    offsets = np.cumsum([0] + [p.num_transitions for p in parts[:-1]])

    def joined(field: str):
        arrays = [getattr(p, field) for p in parts]
        return None if any(a is None for a in arrays) else np.concatenate(arrays)

    return Dataset(obs=joined("obs"), actions=joined("actions"),
                   episode_ends=np.concatenate([p.episode_ends + o for p, o in zip(parts, offsets)]).astype(np.int64),
                   metadata=metadata, next_obs=joined("next_obs"), rewards=joined("rewards"))


class EpisodeRecorder:
    """An expert's kept episodes, one at a time, as one :class:`Dataset` (every generator of demos records this
    way: observation, action, next observation and reward per step, the episode's end after it), towards a count:
    ``num_transitions`` steps if > 0 (the last episode cut there by :meth:`cut_at_count`), else ``num_episodes``
    episodes. :attr:`full` says when the count is reached; :meth:`progress` is a bar over it."""

    def __init__(self, num_episodes: int = 0, num_transitions: int = 0):
        self.obs, self.actions, self.next_obs, self.rewards, self.ends = [], [], [], [], []
        self.wanted_episodes, self.wanted_transitions = num_episodes, num_transitions
        self.bar = None

    def progress(self, desc: str, enabled: bool):
        """A progress bar over the count (steps or episodes), advanced by :meth:`add_episode`; a context manager."""
        self.bar = tqdm(total=self.wanted_transitions or self.wanted_episodes, desc=desc,
                        unit="step" if self.wanted_transitions else "ep", disable=not enabled)
        return self.bar

    def add_episode(self, obs: list, actions: list, next_obs: list, rewards: list) -> None:
        self.obs += obs
        self.actions += actions
        self.next_obs += next_obs
        self.rewards += rewards
        self.ends.append(len(self.obs))
        if self.bar is not None:
            self.bar.update(min(len(obs), self.bar.total - self.bar.n) if self.wanted_transitions else 1)

    @property
    def num_transitions(self) -> int:
        return len(self.obs)

    @property
    def num_episodes(self) -> int:
        return len(self.ends)

    @property
    def full(self) -> bool:
        if self.wanted_transitions:
            return self.num_transitions >= self.wanted_transitions
        return self.num_episodes >= self.wanted_episodes

    def cut_at_count(self) -> int:
        """Demos counted in steps: keep the first ``num_transitions`` (the last episode cut there); returns how many
        were dropped (0 for demos counted in episodes)."""
        if not self.wanted_transitions:
            return 0
        dropped = len(self.obs) - self.wanted_transitions
        for field in (self.obs, self.actions, self.next_obs, self.rewards):
            del field[self.wanted_transitions:]
        self.ends[-1] = self.wanted_transitions
        return dropped

    def dataset(self, metadata: dict) -> Dataset:
        return Dataset(obs=np.asarray(self.obs, dtype=np.float32), actions=np.asarray(self.actions, dtype=np.float32),
                       episode_ends=np.asarray(self.ends, dtype=np.int64),
                       next_obs=np.asarray(self.next_obs, dtype=np.float32),
                       rewards=np.asarray(self.rewards, dtype=np.float32), metadata=metadata)


def _read_arrays(path: str) -> dict[str, np.ndarray]:
    if path.startswith(MINARI_PREFIX):
        from dbc_jax.data.minari_format import read_minari

        return read_minari(path[len(MINARI_PREFIX):])
    if not os.path.exists(path):
        raise DatasetError(f"{path}: file not found")
    if not path.endswith((".npz", ".pt")):
        raise DatasetError(f"{path}: unknown dataset format (expected .npz, .pt or {MINARI_PREFIX}<dataset id>)")
    try:
        if path.endswith(".pt"):
            return read_torch_arrays(path)
        _check_npz_sizes(path)
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except Exception as e:  # noqa: BLE001 -- whatever the bytes are, a bad file is one line naming it
        if isinstance(e, DatasetError) or str(e).startswith(path):
            raise DatasetError(str(e)) from e
        kind = "torch" if path.endswith(".pt") else "numpy .npz"
        raise DatasetError(f"{path}: not a readable {kind} file ({type(e).__name__}: {e})") from e


def _check_npz_sizes(path: str) -> None:
    """Before numpy allocates anything: each array's header (shape, dtype) must fit the bytes its entry holds, and
    all of them at most MAX_ARRAY_BYTES together (a small compressed file must not expand into gigabytes)."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise DatasetError(f"{path}: field '{info.filename[:-4]}' has an unknown .npy version {version}")
                shape, _, dtype = read_header(f)
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes > info.file_size:
                raise DatasetError(f"{path}: field '{info.filename[:-4]}' declares shape {shape} of {dtype} "
                                   f"({nbytes} bytes) but holds {info.file_size} bytes")
            total += nbytes
    if total > MAX_ARRAY_BYTES:
        raise DatasetError(f"{path}: its arrays need {total / 2**30:.1f} GiB, more than the "
                           f"{MAX_ARRAY_BYTES / 2**30:.0f} GiB a demo file may hold "
                           "(dbc_jax.data.dataset.MAX_ARRAY_BYTES)")


def load_dataset(path: str) -> Dataset:
    """Read and check a dataset file: required fields, 2-D float arrays, equal lengths, finite values."""
    arrays = _read_arrays(path)
    for field in REQUIRED_FIELDS:
        if field not in arrays:
            raise DatasetError(f"{path}: missing field '{field}' (found: {', '.join(sorted(arrays)) or 'none'})")
    for field in ("obs", "actions", "next_obs", "rewards", "done"):
        kinds = "fb" if field != "done" else "fbiu"  # floating point; done may be bool or integer too
        if field in arrays and np.asarray(arrays[field]).dtype.kind not in kinds:
            raise DatasetError(f"{path}: field '{field}' must hold floating-point numbers, got dtype "
                               f"{np.asarray(arrays[field]).dtype}" + (" (integer observations are refused: a "
                                                                       "quantized or mislabeled file?)"
                                                                       if field == "obs" else ""))
    obs = np.asarray(arrays["obs"], dtype=np.float32)
    actions = np.asarray(arrays["actions"], dtype=np.float32)
    done = np.asarray(arrays["done"]).reshape(-1)
    next_obs = np.asarray(arrays["next_obs"], dtype=np.float32) if "next_obs" in arrays else None
    rewards = np.asarray(arrays["rewards"], dtype=np.float32) if "rewards" in arrays else None
    for field, x, ndim in (("obs", obs, 2), ("actions", actions, 2), ("next_obs", next_obs, 2),
                           ("rewards", rewards, 1)):
        if x is None:
            continue
        if x.ndim != ndim:
            expected = "2-D [N, dim]" if ndim == 2 else "1-D [N]"
            raise DatasetError(f"{path}: field '{field}' must be {expected}, got shape {x.shape}")
        bad = ~np.isfinite(x)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DatasetError(f"{path}: field '{field}' has {int(bad.sum())} NaN/inf values (first at row {row})")
        huge = np.abs(x) > MAX_MAGNITUDE
        if huge.any() and field != "rewards":
            row = int(np.argwhere(huge)[0][0])
            raise DatasetError(f"{path}: field '{field}' has {int(huge.sum())} values beyond ±{MAX_MAGNITUDE:g} (first "
                               f"at row {row}, magnitude {float(np.abs(x[row]).max()):g}); states and actions this "
                               "large would dominate the normalization: check the file")
    for field, x in (("actions", actions), ("done", done), ("next_obs", next_obs), ("rewards", rewards)):
        if x is not None and len(x) != len(obs):
            raise DatasetError(f"{path}: field '{field}' has {len(x)} rows but 'obs' has {len(obs)}")
    if next_obs is not None and next_obs.shape[1] != obs.shape[1]:
        raise DatasetError(f"{path}: field 'next_obs' has dimension {next_obs.shape[1]}, 'obs' has {obs.shape[1]}")
    if len(obs) == 0:
        raise DatasetError(f"{path}: field 'obs' is empty")
    for field, x in (("obs", obs), ("actions", actions)):
        if x.shape[1] == 0:
            raise DatasetError(f"{path}: field '{field}' has no columns (shape {x.shape})")
    ends = np.flatnonzero(done > 0.5) + 1
    if len(ends) == 0 or ends[-1] != len(obs):
        ends = np.append(ends, len(obs))  # a trailing unfinished episode still counts as data
    try:
        metadata = json.loads(str(arrays["metadata"])) if "metadata" in arrays else {}
    except ValueError:
        raise DatasetError(f"{path}: field 'metadata' is not a JSON object") from None
    if not isinstance(metadata, dict):
        raise DatasetError(f"{path}: field 'metadata' is not a JSON object")
    metadata.setdefault("path", path if path.startswith(MINARI_PREFIX) else os.path.abspath(path))
    return Dataset(obs=obs, actions=actions, episode_ends=ends.astype(np.int64), metadata=metadata,
                   next_obs=next_obs, rewards=rewards)


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
