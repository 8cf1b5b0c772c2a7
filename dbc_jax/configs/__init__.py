"""Configs: one file per task with ``get_config(preset)``; presets differ only in numbers."""

from __future__ import annotations

import importlib
import os

from ml_collections import ConfigDict

ALGOS = ("dbc", "bc", "dp", "ibc")  # the keys of dbc_jax.algos.ALGORITHMS
EVAL_BACKENDS = ("auto", "c", "mjx")  # dbc_jax.evaluate.choose_backend


def get_config(env_name: str, preset: str = "quick") -> ConfigDict:
    try:
        module = importlib.import_module(f"dbc_jax.configs.{env_name}")
    except ModuleNotFoundError as e:
        raise ValueError(f"no config for task '{env_name}' (expected dbc_jax/configs/{env_name}.py)") from e
    return module.get_config(preset)


def resolve(config: ConfigDict) -> ConfigDict:
    """Check a config and fill its derived fields; raises ValueError naming the field."""
    config = ConfigDict(config.to_dict())
    if config.algo not in ALGOS:
        raise ValueError(f"config.algo: expected one of {ALGOS}, got '{config.algo}'")
    for field, value in _flatten(config.get("algo_overrides", {}).get(config.algo, {})):
        *sections, name = field.split(".")
        target = config
        for part in sections:
            target = target.get(part)
            if not isinstance(target, ConfigDict):
                break
        if not isinstance(target, ConfigDict) or name not in target:
            raise ValueError(f"config.algo_overrides.{config.algo}.{field}: no such config field")
        target[name] = value
    if config.algo == "bc":
        config.policy.coeff_dm = 0.0  # BC is DBC with lambda = 0
    for field in ("num_seeds", "dm.batch_size", "policy.batch_size", "eval.num_episodes"):
        value = config
        for part in field.split("."):
            value = value[part]
        if value < 1:
            raise ValueError(f"config.{field}: must be >= 1, got {value}")
    for field in ("dm.batch_size", "policy.batch_size"):
        section, name = field.split(".")
        if config[section][name] % 2:
            raise ValueError(f"config.{field}: must be even (antithetic timesteps pair t with T-1-t)")
    for section in ("dm", "policy"):
        if config[section].log_every_epochs < 1:
            raise ValueError(f"config.{section}.log_every_epochs: must be >= 1")
    if config.eval.every_epochs % config.policy.log_every_epochs:
        raise ValueError("config.eval.every_epochs: must be a multiple of config.policy.log_every_epochs "
                         f"({config.eval.every_epochs} vs {config.policy.log_every_epochs}); 0 disables it")
    config.eval.backend = config.eval.get("backend", "auto")  # runs saved before the field existed
    from dbc_jax.evaluate import choose_backend

    choose_backend(config.eval.backend, config.env_name)  # raises for an unknown backend or a task without a twin
    if not config.workdir:
        data_tag = f"_data-{os.path.splitext(os.path.basename(config.data.path))[0]}" if config.data.path else ""
        config.workdir = f"runs/{config.env_name}_{config.algo}_{config.preset}_seed{config.seed}{data_tag}"
    return config


def _flatten(tree, prefix=""):
    for name, value in tree.items():
        if isinstance(value, (dict, ConfigDict)):
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def uses_diffusion(config: ConfigDict) -> bool:
    """Whether the run pretrains DBC's diffusion model over (s, a) (DBC with lambda != 0; not BC, DP or IBC)."""
    return config.algo in ("dbc", "bc") and config.policy.coeff_dm != 0
