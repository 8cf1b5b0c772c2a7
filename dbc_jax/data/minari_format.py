"""Minari datasets: export any dbc_jax dataset to a local Minari dataset, and read one back as a data source.

    python -m dbc_jax.data.minari_format --data=data/maze_expert_100ep.npz --dataset_id=dbc_jax/maze/expert-v0
    make export-minari DATA=data/maze_expert_100ep.npz ID=dbc_jax/maze/expert-v0 [ENV=maze]
    make train ENV=maze ARGS="--config.data.path=minari:dbc_jax/maze/expert-v0"

Minari (the Farama Foundation's offline-RL dataset format) stores each episode's T + 1 observations, T actions,
rewards, terminations and truncations. A dbc_jax dataset maps onto it as follows:

- observations: the episode's ``obs``, then the last transition's ``next_obs`` (the paper's files and our demos have
  it). A dataset without ``next_obs`` is refused: Minari has no place for an unknown final observation.
- rewards: ``rewards`` when the dataset has them (our demos); the paper's files have none, so they are exported as
  NaN and the dataset's metadata says so (``dbc_jax_rewards``: "unknown").
- terminations / truncations: an episode in these datasets ends where the recording stopped (the time limit, or, for
  the scripted Maze and FetchPick experts, some steps past success, as in the paper's demos), which Minari calls a
  truncation: every episode's last step is truncated, none terminated.

The dataset's own metadata (source, seed, expert, ...) travels as JSON in the Minari metadata (``dbc_jax_metadata``)
and comes back on reading. Datasets live where Minari keeps them: ``$MINARI_DATASETS_PATH``, else
``~/.minari/datasets``. Minari is an optional dependency (``pip install -e '.[minari]'``; the dev extra has it).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re

import gymnasium as gym
import numpy as np

from dbc_jax.data.dataset import Dataset, DatasetError

METADATA_KEY = "dbc_jax_metadata"
REWARDS_KEY = "dbc_jax_rewards"


def _minari():
    try:
        import minari
    except ImportError as e:
        raise ValueError("Minari datasets need the minari package: pip install -e '.[minari]' "
                         "(or pip install 'minari[hdf5]')") from e
    return minari


def to_minari(dataset: Dataset, dataset_id: str, env_name: str = "", description: str = "",
              overwrite: bool = False, author: str | None = None, author_email: str | None = None,
              code_permalink: str | None = None) -> str:
    """Write ``dataset`` as the local Minari dataset ``dataset_id``; returns its folder. ``env_name`` (a dbc_jax task)
    defaults to the dataset's ``metadata["env"]``; its gymnasium id and spaces go into the Minari dataset, so
    ``minari.load_dataset(id).recover_environment()`` makes the env (once ``import dbc_jax`` registered it).
    ``author``, ``author_email`` and ``code_permalink`` are Minari's own fields (set them before sharing a dataset)."""
    import warnings

    import gymnasium as gym

    from dbc_jax.tasks import get_task, register_all

    minari = _minari()
    from minari.dataset.minari_dataset import parse_dataset_id

    try:
        parse_dataset_id(dataset_id)
    except ValueError as e:
        raise ValueError(f"dataset_id: {e}") from e
    source = dataset.metadata.get("path", "dataset")
    env_name = env_name or dataset.metadata.get("env", "")
    if not env_name:
        raise ValueError(f"{source}: the dataset's metadata names no env; pass env_name (ENV=<task>)")
    task = get_task(env_name)
    if (dataset.obs_dim, dataset.act_dim) != (task.obs_dim, task.act_dim):
        raise DatasetError(f"{source}: obs/action dimensions {dataset.obs_dim}/{dataset.act_dim} do not match task "
                           f"'{env_name}' ({task.obs_dim}/{task.act_dim})")
    if dataset.next_obs is None:
        raise DatasetError(f"{source}: no field 'next_obs', so no episode's final observation, which Minari needs "
                           "(remake the demos with make demos: they record it)")
    if dataset_id in minari.list_local_datasets():
        if not overwrite:
            raise ValueError(f"Minari dataset '{dataset_id}' exists already (pass overwrite=True / --overwrite)")
        minari.delete_dataset(dataset_id)
    from minari.data_collector import EpisodeBuffer

    rewards = dataset.rewards if dataset.rewards is not None else np.full(dataset.num_transitions, np.nan, np.float32)
    buffers, start = [], 0
    for episode, end in enumerate(dataset.episode_ends):
        steps = int(end - start)
        observations = np.concatenate([dataset.obs[start:end], dataset.next_obs[end - 1:end]])
        buffers.append(EpisodeBuffer(
            id=episode, observations=observations.astype(np.float64), actions=dataset.actions[start:end].copy(),
            rewards=rewards[start:end].astype(np.float64).tolist(), terminations=[False] * steps,
            truncations=[False] * (steps - 1) + [True]))
        start = int(end)
    register_all()
    env = gym.make(task.env_id)
    try:
        with warnings.catch_warnings():  # Minari's advice to set these fields; the caller chose (see the docstring)
            warnings.filterwarnings("ignore", message=r"`(author|author_email|code_permalink)` is set to None")
            created = minari.create_dataset_from_buffers(
                dataset_id, buffers, env=env, eval_env=env, algorithm_name=dataset.metadata.get("source", "unknown"),
                author=author, author_email=author_email, code_permalink=code_permalink,
                description=description or f"dbc_jax {env_name} dataset exported from {source}")
    finally:
        env.close()
    metadata = {k: v for k, v in dataset.metadata.items() if k != "path"}
    metadata["exported_from"] = source
    created.storage.update_metadata({METADATA_KEY: json.dumps(metadata),
                                     REWARDS_KEY: "recorded" if dataset.rewards is not None else "unknown"})
    return str(created.storage.data_path)


def open_local(dataset_id: str):
    """The local Minari dataset ``dataset_id`` (lazily: its spec and metadata, no episode read). An id that is not
    here is one line listing what is, where Minari looks, and how to download it."""
    minari = _minari()
    local = sorted(minari.list_local_datasets())
    if dataset_id not in local:
        where = (os.environ.get("MINARI_DATASETS_PATH")
                 or "~/.minari/datasets (set MINARI_DATASETS_PATH to look elsewhere)")
        raise DatasetError(f"minari:{dataset_id}: no such local Minari dataset (local datasets: "
                           f"{', '.join(local) or 'none'}; looked in {where}; nothing is downloaded: on a machine "
                           f"with internet run `minari download {dataset_id}`, then the same command)")
    try:
        return minari.load_dataset(dataset_id)
    except Exception as e:  # noqa: BLE001 -- a damaged dataset fails in h5py, json, ...: one error naming it
        raise DatasetError(f"minari:{dataset_id}: not a readable Minari dataset ({type(e).__name__}: {e})") from e


def _space_text(space) -> str:
    if isinstance(space, gym.spaces.Dict):
        return f"Dict({', '.join(space.spaces)})"
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    return f"{type(space).__name__}{space.shape}"


def _recorded_env(dataset_id: str, data=None):
    """The environment the dataset records for evaluation (its eval_env, else its env), made through Minari; a
    missing package or an unknown env is one line naming it. ``data``: the dataset, if open already."""
    data = data if data is not None else open_local(dataset_id)
    env_name = (data.env_spec.id or data.env_spec.entry_point) if data.env_spec is not None else ""
    try:
        return data.recover_environment(eval_env=True, disable_env_checker=True)
    except ValueError as e:
        if data.env_spec is None:  # Minari: "Environment cannot be recovered when env_spec is None"
            raise DatasetError(f"minari:{dataset_id}: the dataset records no environment (env_spec is None), so "
                               "there is nothing to evaluate in; train on it from a .npz with ENV=<task> "
                               "instead") from e
        raise
    except (ImportError, gym.error.DependencyNotInstalled) as e:
        missing = getattr(e, "name", None) or str(e)
        raise DatasetError(f"minari:{dataset_id}: its environment '{env_name}' needs a package that is not "
                           f"installed ({missing}): install it, then run the same command") from e
    except gym.error.Error as e:
        raise DatasetError(f"minari:{dataset_id}: its environment '{env_name}' cannot be made "
                           f"({type(e).__name__}: {e})") from e


class _SuccessInfo(gym.Wrapper):
    """``info["success"]`` from gymnasium-robotics' ``info["is_success"]`` (the evaluators read the former)."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if "is_success" in info:
            info = {**info, "success": bool(info["is_success"])}
        return obs, reward, terminated, truncated, info


def _make_recorded_env(dataset_id: str, **kwargs):
    return _SuccessInfo(_recorded_env(dataset_id))


@functools.lru_cache(maxsize=None)
def dataset_task(dataset_id: str):
    """A task made from the local Minari dataset ``dataset_id`` (``config.env_name = "minari:<id>"``): dimensions
    from its Box spaces, the horizon from its env's time limit (else its longest episode), the metric from the
    env's ``info`` (success where it reports ``success`` or ``is_success``, else return), the reference scores
    from its metadata, and the env registered with gymnasium as ``dbc_jax/Minari_<id>-v0``. Everything that cannot
    work is one DatasetError before any compute (module docstring of configs/dataset.py)."""
    from dbc_jax.tasks import Task

    where = f"minari:{dataset_id}"
    data = open_local(dataset_id)
    for role, space in (("observation", data.observation_space), ("action", data.action_space)):
        if not isinstance(space, gym.spaces.Box):
            raise DatasetError(f"{where}: its {role} space is {_space_text(space)}; dbc_jax needs a flat Box "
                               f"({'continuous actions' if role == 'action' else 'a vector observation'})"
                               + ("; a Dict (goal-conditioned) observation is not flattened: export the vector "
                                  "you want as a .npz" if isinstance(space, gym.spaces.Dict) else ""))
        if len(space.shape) != 1:
            raise DatasetError(f"{where}: its {role} space has shape {space.shape}; dbc_jax needs a 1-D Box")
    env = _recorded_env(dataset_id, data)
    try:
        for role, recorded, actual in (("observation", data.observation_space, env.observation_space),
                                       ("action", data.action_space, env.action_space)):
            if recorded.shape != actual.shape:
                raise DatasetError(f"{where}: the dataset's {role} space {_space_text(recorded)} disagrees with "
                                   f"its environment's {_space_text(actual)} ('{env.spec.id}')")
        env.reset(seed=0)
        info = env.step(env.action_space.sample())[-1]
    finally:
        env.close()
    metric = "success" if "success" in info or "is_success" in info else "return"
    horizon = env.spec.max_episode_steps or int(max(len(e.actions) for e in data.iterate_episodes()))
    # gymnasium's [namespace/]name-vN; the hash keeps two ids that differ only in punctuation apart
    name = re.sub(r"\W", "_", dataset_id)
    env_id = f"dbc_jax/Minari_{name}_{hashlib.sha1(dataset_id.encode()).hexdigest()[:8]}-v0"
    if env_id not in gym.registry:  # an env without a time limit of its own gets the dataset's longest episode
        gym.register(id=env_id, entry_point=functools.partial(_make_recorded_env, dataset_id),
                     max_episode_steps=None if env.spec.max_episode_steps else int(horizon),
                     disable_env_checker=True)
    stored = data.storage.metadata
    refs = tuple(float(stored[k]) for k in ("ref_min_score", "ref_max_score")) if all(
        stored.get(k) is not None for k in ("ref_min_score", "ref_max_score")) else ()
    return Task(f"{where}", env_id, "", obs_dim=int(data.observation_space.shape[0]),
                act_dim=int(data.action_space.shape[0]), metric=metric, horizon=int(horizon), demos="",
                expert="dataset", paper_name=data.env_spec.id or "", ref_scores=refs,
                legend=f"{env.spec.id or env.spec.entry_point} from the Minari dataset {dataset_id}")


def read_minari(dataset_id: str) -> dict[str, np.ndarray]:
    """A local Minari dataset as the arrays of a dataset file (``obs``, ``actions``, ``done``, ``next_obs``,
    ``rewards`` unless unknown, ``metadata``); ``load_dataset("minari:<id>")`` checks them like any file's."""
    where = f"minari:{dataset_id}"
    data = open_local(dataset_id)
    try:
        episodes = list(data.iterate_episodes())
        stored = data.storage.metadata
    except Exception as e:  # noqa: BLE001 -- a damaged dataset fails in h5py, json, ...: one error naming it
        raise DatasetError(f"{where}: not a readable Minari dataset ({type(e).__name__}: {e})") from e
    if not episodes:
        raise DatasetError(f"{where}: holds no episodes")
    for episode in episodes:
        if not isinstance(episode.observations, np.ndarray) or not isinstance(episode.actions, np.ndarray):
            raise DatasetError(f"{where}: episode {episode.id} has dict or tuple observations/actions; dbc_jax needs "
                               "flat Box spaces")
        if len(episode.observations) != len(episode.actions) + 1:
            raise DatasetError(f"{where}: episode {episode.id} has {len(episode.observations)} observations for "
                               f"{len(episode.actions)} actions (expected one more)")
    lengths = np.array([len(e.actions) for e in episodes])
    done = np.zeros(lengths.sum(), np.float32)
    done[np.cumsum(lengths) - 1] = 1.0
    metadata = json.loads(stored.get(METADATA_KEY, "{}"))
    metadata["minari_id"] = dataset_id
    arrays = {"obs": np.concatenate([e.observations[:-1] for e in episodes]),
              "next_obs": np.concatenate([e.observations[1:] for e in episodes]),
              "actions": np.concatenate([e.actions.reshape(len(e.actions), -1) for e in episodes]),
              "done": done, "metadata": np.array(json.dumps(metadata))}
    if stored.get(REWARDS_KEY) != "unknown":
        arrays["rewards"] = np.concatenate([np.asarray(e.rewards, np.float64) for e in episodes])
    return arrays


def main(argv=None) -> None:
    import argparse

    from dbc_jax.data.dataset import load_dataset
    from dbc_jax.errors import run_cli

    def _main(argv_list):
        parser = argparse.ArgumentParser(prog="python -m dbc_jax.data.minari_format",
                                         description="Export a dbc_jax dataset (.npz, .pt, minari:<id>) to a local "
                                                     "Minari dataset.")
        parser.add_argument("--data", required=True, help="the dataset file, e.g. data/maze_expert_100ep.npz")
        parser.add_argument("--dataset_id", required=True, help="Minari id, e.g. dbc_jax/maze/expert-v0")
        parser.add_argument("--env", default="", help="the dbc_jax task (default: the dataset's metadata)")
        parser.add_argument("--description", default="")
        parser.add_argument("--overwrite", action="store_true", help="replace a local dataset of that id")
        parser.add_argument("--author", default=None, help="Minari's author field")
        parser.add_argument("--author_email", default=None, help="Minari's author_email field")
        parser.add_argument("--code_permalink", default=None, help="Minari's code_permalink field")
        args = parser.parse_args(argv_list[1:])
        dataset = load_dataset(args.data)
        path = to_minari(dataset, args.dataset_id, args.env, args.description, args.overwrite, args.author,
                         args.author_email, args.code_permalink)
        print(f"Wrote Minari dataset '{args.dataset_id}' ({dataset.num_episodes} episodes, "
              f"{dataset.num_transitions} steps) to {path}")
        print(f"Train on it: make train ENV=<task> ARGS=\"--config.data.path=minari:{args.dataset_id}\"")

    run_cli(_main, argv)


if __name__ == "__main__":
    main()
