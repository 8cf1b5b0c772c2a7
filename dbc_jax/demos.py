"""The demo cache: each task's own demo file (``data/<env>_expert_<N>ep.npz``), made by its expert when missing or
made with other settings, and the check of any demos against the task before training."""

from __future__ import annotations

import inspect
import os

from ml_collections import ConfigDict

from dbc_jax import configs as config_lib
from dbc_jax.data import Dataset, check_compatible, load_dataset
from dbc_jax.tasks import Task


def default_data_path(config: ConfigDict) -> str:
    """The project's own demo file for a config: ``data/<env>_expert_<num_episodes>ep.npz``, or
    ``<num_transitions>tr.npz`` for demos counted in transitions (``data.expert.num_transitions``); ``_to_success``
    before ``.npz`` for demos that end at their first success (``data.expert.end_at_success``)."""
    transitions = _num_transitions(config)
    size = f"{transitions}tr" if transitions else f"{config.data.num_episodes}ep"
    to_success = "_to_success" if "expert" in config.data and config.data.expert.get("end_at_success") else ""
    return os.path.join("data", f"{config.env_name}_expert_{size}{to_success}.npz")


def _num_transitions(config: ConfigDict) -> int:
    """The demos' size in steps, or 0 where they are counted in episodes."""
    return config.data.expert.get("num_transitions", 0) if "expert" in config.data else 0


def _generator_defaults(env_name: str) -> dict:
    """The defaults of the task's demo generator: a setting a file's metadata lacks was made with its default."""
    from dbc_jax.tasks import get_task, load

    parameters = inspect.signature(load(get_task(env_name).demos)).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _demo_settings(config: ConfigDict) -> dict:
    """What, besides the episode count, decides the demos; recorded in the file's metadata."""
    from dbc_jax.experts import expert_identity

    expert = config.data.expert.to_dict() if "expert" in config.data else {}
    return {"seed": config.data.seed, **config.env, **expert, **expert_identity(config.env_name, expert)}


def make_demos(config: ConfigDict, path: str | None = None, progress: bool = True) -> str:
    """Generate the task's expert demos into the project's dataset file; returns its path."""
    from dbc_jax.experts import generate_demos
    from dbc_jax.tasks import get_task

    if get_task(config.env_name).expert == "dataset":
        raise ValueError(f"{config.env_name}: a task made from a dataset has no expert to make demos: the dataset "
                         "is its demos (make train DATA=...)")
    path = path or config.data.path or default_data_path(config)
    dataset = generate_demos(config.env_name, num_episodes=config.data.num_episodes, progress=progress,
                             **_demo_settings(config))
    dataset.save(path)
    return path


def prepare_dataset(config: ConfigDict, task: Task, progress: bool = True) -> Dataset:
    """Load the demos and check them. With no ``data.path``, the project's own file is used, and (re)made by the
    expert when it is missing or was made with other settings."""
    path = config.data.path or default_data_path(config)
    dataset = load_dataset(path) if config.data.path or os.path.exists(path) else None
    if not config.data.path:
        settings = _demo_settings(config)
        made_with = {**_generator_defaults(config.env_name), **(dataset.metadata if dataset is not None else {})}
        stale = {k: made_with.get(k) for k, v in settings.items() if dataset is not None and made_with.get(k) != v}
        if stale:
            print(f"{path} was made with {stale}, this config asks for "
                  f"{ {k: settings[k] for k in stale} }: regenerating.")
        if dataset is None or stale:
            transitions = _num_transitions(config)
            size = f"{transitions} steps of" if transitions else str(config.data.num_episodes)
            print(f"Generating {size} {config.env_name} demos with the expert into {path}.")
            dataset = load_dataset(make_demos(config, path, progress))
    batch_sizes = {"policy.batch_size": config.policy.batch_size}
    if config_lib.pretrains_model(config):
        batch_sizes[f"{config.model}.batch_size"] = config[config.model].batch_size
    check_compatible(dataset, task.obs_dim, task.act_dim, batch_sizes, config.env_name)
    return dataset
