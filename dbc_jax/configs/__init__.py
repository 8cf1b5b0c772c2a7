"""Configs: one file per task with ``get_config(preset)``; presets differ only in numbers."""

from __future__ import annotations

import ast
import importlib
import json
import os

from ml_collections import ConfigDict

from dbc_jax.configs._base import PRESETS  # noqa: F401  (the preset names, public here)
from dbc_jax.configs.checks import check_relations, check_values, did_you_mean, leaves
from dbc_jax.joint_models import MODEL_NAMES


def get_config(env_name: str, preset: str = "quick") -> ConfigDict:
    """A task's config at ``preset``; ``env_name`` "minari:<dataset id>" makes one from a local Minari dataset
    (``configs/dataset.py``)."""
    if env_name.startswith("minari:"):
        from dbc_jax.configs import dataset

        return dataset.get_config(f"{preset},{env_name}")
    try:
        module = importlib.import_module(f"dbc_jax.configs.{env_name}")
    except ModuleNotFoundError as e:
        raise ValueError(f"no config for task '{env_name}' (expected dbc_jax/configs/{env_name}.py)") from e
    return module.get_config(preset)


def resolve(config: ConfigDict) -> ConfigDict:
    """Check a config (every value against ``configs/checks.py``) and fill its derived fields; raises ValueError
    naming the field, the value and the rule. Nothing is computed or written before it returns."""
    config = ConfigDict(config.to_dict())
    for field, value in leaves(config.get("algo_overrides", {}).get(config.algo, {})):
        *sections, name = field.split(".")
        target = config
        for part in sections:
            target = target.get(part)
            if not isinstance(target, ConfigDict):
                break
        if not isinstance(target, ConfigDict) or name not in target:
            raise ValueError(f"config.algo_overrides.{config.algo}.{field}: no such config field")
        target[name] = value
    check_values(config)  # after the overrides, so the values they set are checked too
    check_relations(config)
    if config.algo == "bc":
        config[config.model].coeff = 0.0  # BC is DBC without the joint model (lambda = 0)
    from dbc_jax.grid import check_grid

    check_grid(config)
    if uses_joint_model(config) and config.model == "diffusion":
        for field in ("diffusion.batch_size", "policy.batch_size"):
            section, name = field.split(".")
            if config[section][name] % 2:
                raise ValueError(f"config.{field}: must be even (antithetic timesteps pair t with T-1-t)")
    config.eval.backend = config.eval.get("backend", "auto")  # configs written before the field existed
    from dbc_jax.evaluate import choose_backend

    choose_backend(config.eval.backend, config.env_name)  # raises for an unknown backend or a task without a twin
    if not config.workdir:
        path = config.data.path
        if not path or path == config.env_name:  # the task's own demos, or a task made from its dataset
            data_tag = ""
        elif path.startswith("minari:"):
            data_tag = "_data-" + path.replace(":", "-").replace("/", "-")
        else:
            data_tag = f"_data-{os.path.splitext(os.path.basename(path))[0]}"
        model_tag = f"-{config.model}" if config.algo == "dbc" and config.model != "diffusion" else ""
        name = config.env_name.replace(":", "-").replace("/", "-")  # minari:<namespace>/<name>: one folder
        config.workdir = f"runs/{name}_{config.algo}{model_tag}_{config.preset}_seed{config.seed}{data_tag}"
    config.resolved = True
    return config


def is_resolved(config: ConfigDict) -> bool:
    """Whether ``config`` came out of :func:`resolve` (the trainer takes no other)."""
    return bool(config.get("resolved", False))


def uses_joint_model(config: ConfigDict) -> bool:
    """Whether the run uses DBC's joint model of (s, a) (DBC with a lambda != 0, its own or in ``config.grid``;
    not BC, DP or IBC)."""
    lambdas = tuple(config.get("grid", {}).get("coeff", ())) or (config[config.model].coeff,)
    return config.algo in ("dbc", "bc") and any(v != 0 for v in lambdas)


def pretrains_model(config: ConfigDict) -> bool:
    """Whether the run has a phase 1: a joint model that is pretrained (every one but the online GAN)."""
    return uses_joint_model(config) and "epochs" in config[config.model]


def pretrain_epochs(config: ConfigDict) -> int:
    """Epochs of joint-model pretraining the run does (0 without phase 1)."""
    return config[config.model].epochs if pretrains_model(config) else 0


def upgrade(saved: dict) -> dict:
    """A saved config.json in today's layout. Runs written before grids have no ``grid`` section (one point); runs
    written before the joint-model component had a ``dm`` section,
    ``policy.coeff_dm`` and ``policy.agent_expert_normalization``: they become ``diffusion`` (with ``coeff`` and
    ``term``), and the other models' sections come from the task's defaults. Runs from before ``data.normalize``
were normalized. FetchPick runs from before its demo options (``data.expert``) had 50-step demos."""
    saved = json.loads(json.dumps(saved))
    saved.setdefault("grid", {"coeff": [], "coeff_bc": [], "lr": []})  # runs from before grids: one point
    saved["data"].setdefault("normalize", True)  # runs from before the option were all normalized
    saved.setdefault("log", {"tensorboard": False, "wandb": False})  # runs from before event files wrote none
    if saved.get("env_name") == "fetchpick":  # runs from before FetchPick's demo options: 50-step demos
        saved["data"].setdefault("expert", {"end_at_success": False, "num_transitions": 0})
    if "dm" not in saved:
        return saved
    diffusion, policy = saved.pop("dm"), saved["policy"]
    diffusion["coeff"] = policy.pop("coeff_dm")
    diffusion["term"] = "hinge" if policy.pop("agent_expert_normalization", True) else "agent"
    defaults = get_config(saved["env_name"], saved["preset"]).to_dict()
    saved.update({"model": "diffusion", "diffusion": diffusion, **{m: defaults[m] for m in MODEL_NAMES[1:]}})
    return saved


def parse_value(current, text: str, where: str):
    """``text`` (from a command line) as a value of the type of ``current``; ValueError naming ``where``."""
    if isinstance(current, str):
        return text
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = None
    accepted = {bool: (bool,), int: (int,), float: (int, float), tuple: (tuple, list)}[type(current)]
    if not isinstance(value, accepted) or (isinstance(value, bool) and type(current) is not bool):
        raise ValueError(f"{where}: expected a {type(current).__name__}, got {text!r}")
    return type(current)(value)


def set_field(config: ConfigDict, field: str, text: str, where: str) -> None:
    """Set the existing config ``field`` ("section.name") from command-line ``text``, cast to its type."""
    *sections, name = field.split(".")
    target = config
    for part in sections:
        target = target.get(part) if isinstance(target, ConfigDict) else None
    if not isinstance(target, ConfigDict) or name not in target:
        raise ValueError(f"{where}: '{field}' is not a config field"
                         + did_you_mean(field, [f for f, _ in leaves(config)]))
    target[name] = parse_value(target[name], text, where)


def set_fields(config: ConfigDict, items, flag: str = "--set") -> None:
    """Apply command-line ``<field>=<value>`` items (the experiment scripts' ``--set``) with :func:`set_field`."""
    for item in items:
        field, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{flag} {item}: expected <field>=<value>")
        set_field(config, field, value, f"{flag} {item}")
