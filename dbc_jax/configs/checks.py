"""Every constraint on a config's values, in one table, checked before any compute or file (``configs.resolve``).

A rule applies to every field whose dotted name matches its pattern (``fnmatch``: ``*.lr`` is every section's learning
rate), unless a rule names the field exactly. Every leaf of every task's config must match at least one rule
(``tests/test_reliability.py``), so a new field
gets its constraint here. Errors name the field, the value and the rule:
``config.policy.epochs: must be an integer >= 1, got 0``.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
from typing import Callable

from ml_collections import ConfigDict

from dbc_jax.evaluate import EVAL_BACKENDS
from dbc_jax.joint_models import MODEL_NAMES, TERMS

ALGOS = ("dbc", "bc", "dp", "ibc")  # the keys of dbc_jax.algos.ALGORITHMS
IBC_INFERENCE = ("dfo", "langevin")


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def integer(low: int = 1) -> tuple[str, Callable]:
    return f"an integer >= {low}", lambda x: isinstance(x, int) and not isinstance(x, bool) and x >= low


def positive() -> tuple[str, Callable]:
    return "a finite number > 0", lambda x: _number(x) and x > 0


def non_negative() -> tuple[str, Callable]:
    return "a finite number >= 0", lambda x: _number(x) and x >= 0


def fraction() -> tuple[str, Callable]:
    return "a number in (0, 1]", lambda x: _number(x) and 0 < x <= 1


def finite() -> tuple[str, Callable]:
    return "a finite number", _number


def one_of(*names) -> tuple[str, Callable]:
    return f"one of {names}", lambda x: x in names


def boolean() -> tuple[str, Callable]:
    return "True or False", lambda x: isinstance(x, bool)


def text() -> tuple[str, Callable]:
    return "a string", lambda x: isinstance(x, str)


def sizes() -> tuple[str, Callable]:
    return "a non-empty tuple of integers >= 1", lambda x: (
        isinstance(x, (tuple, list)) and len(x) > 0 and all(integer(1)[1](v) for v in x))


def values(check: tuple[str, Callable]) -> tuple[str, Callable]:
    """A tuple (possibly empty: a grid axis not swept) whose every entry passes ``check``."""
    return f"a tuple whose every value is {check[0]}", lambda x: (
        isinstance(x, (tuple, list)) and all(check[1](v) for v in x))


RULES: tuple[tuple[str, tuple[str, Callable]], ...] = (
    # what the run is
    ("env_name", text()), ("preset", text()), ("workdir", text()), ("resolved", boolean()),
    ("algo", one_of(*ALGOS)), ("model", one_of(*MODEL_NAMES)),
    ("seed", integer(0)), ("num_seeds", integer(1)),
    ("algo_overrides.*", ("any value", lambda x: True)),  # checked as the fields they set, once applied
    # the env and the demos
    ("env.*", non_negative()),  # noise ratios and reset noise
    ("data.path", text()), ("data.seed", integer(0)), ("data.num_episodes", integer(1)),
    ("data.normalize", boolean()),
    ("data.expert.weights", text()), ("data.expert.stochastic", boolean()),
    ("data.expert.*noise", non_negative()), ("data.expert.min_return", finite()),
    ("data.expert.num_transitions", integer(0)), ("data.expert.end_at_success", boolean()),
    # every phase's schedule and optimizer
    ("*.epochs", integer(1)), ("*.batch_size", integer(1)), ("*.log_every_epochs", integer(1)),
    ("*.lr", positive()), ("*.adam_eps", positive()), ("*.grad_clip", non_negative()),
    ("*.lr_decay", fraction()), ("*.lr_decay_every", integer(1)),
    ("*.hidden", integer(1)), ("*.hidden_sizes", sizes()), ("*.latent_dim", integer(1)),
    ("*.shared", boolean()),
    # the joint models and DBC's loss
    ("*.coeff", non_negative()), ("*.term", one_of(*TERMS)), ("policy.coeff_bc", non_negative()),
    ("diffusion.num_steps", integer(1)), ("ebm.num_negatives", integer(1)), ("*.temperature", positive()),
    ("*.bounds_margin", non_negative()), ("vae.beta", non_negative()),
    # the baselines' samplers
    ("dp.num_steps", integer(1)), ("dp.ddim_steps", integer(0)),
    ("ibc.inference", one_of(*IBC_INFERENCE)), ("ibc.num_negatives", integer(1)), ("ibc.num_samples", integer(1)),
    ("ibc.dfo_iterations", integer(1)), ("ibc.langevin_steps", integer(1)), ("ibc.langevin_step_size", positive()),
    ("ibc.noise_scale", positive()), ("ibc.noise_shrink", fraction()),
    # grids, evaluation, checkpoints
    ("grid.coeff", values(non_negative())), ("grid.coeff_bc", values(non_negative())), ("grid.lr", values(positive())),
    ("eval.num_episodes", integer(1)), ("eval.every_epochs", integer(0)), ("eval.backend", one_of(*EVAL_BACKENDS)),
    ("log.*", boolean()),
    ("checkpoint.max_to_keep", integer(2)),  # a damaged newest checkpoint needs an older one to fall back on
)


# The SAC expert trainer's config (dbc_jax/experts/sac.py:get_config).
SAC_RULES: tuple[tuple[str, tuple[str, Callable]], ...] = (
    ("env_name", text()), ("out", text()), ("workdir", text()), ("train_env.*", ("any value", lambda x: True)),
    ("seed", integer(0)), ("total_steps", integer(1)), ("random_steps", integer(0)), ("hidden", sizes()),
    ("batch_size", integer(1)), ("*_lr", positive()), ("gamma", fraction()), ("tau", fraction()),
    ("updates_per_chunk", integer(1)), ("eval_every", integer(1)), ("eval_episodes", integer(1)),
    ("stop_at", finite()), ("checkpoint_every", integer(1)), ("pause_at", integer(0)),
)


def leaves(config, prefix: str = ""):
    """(dotted field name, value) of every leaf of a config."""
    for name, value in config.items():
        if isinstance(value, (dict, ConfigDict)):
            yield from leaves(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def rules_for(field: str, table=RULES) -> list[tuple[str, Callable]]:
    """The rules of ``field``: those naming it exactly if any (``grid.lr`` over ``*.lr``), else the patterns'."""
    exact = [rule for pattern, rule in table if pattern == field]
    return exact or [rule for pattern, rule in table if fnmatch.fnmatchcase(field, pattern)]


def did_you_mean(name: str, known: list[str]) -> str:
    """"; did you mean 'x'?" for the closest of ``known`` to a misspelled ``name``, else ""."""
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def check_values(config: ConfigDict, table=RULES) -> None:
    """Raise ValueError at the first field that breaks a rule of ``table``, or that no rule covers."""
    fields = [field for field, _ in leaves(config)]
    for field, value in leaves(config):
        rules = rules_for(field, table)
        if not rules:
            raise ValueError(f"config.{field}: not a known config field (no constraint in dbc_jax/configs/checks.py)"
                             + did_you_mean(field, [f for f in fields if rules_for(f, table)]))
        for description, ok in rules:
            if not ok(value):
                raise ValueError(f"config.{field}: must be {description}, got {value!r}")


def check_relations(config: ConfigDict) -> None:
    """Constraints between fields (after ``algo_overrides`` are applied)."""
    if "dp" in config and config.dp.ddim_steps > config.dp.num_steps:
        raise ValueError(f"config.dp.ddim_steps: must be <= config.dp.num_steps ({config.dp.num_steps}), "
                         f"got {config.dp.ddim_steps}")
    if config.eval.every_epochs % config.policy.log_every_epochs:
        raise ValueError("config.eval.every_epochs: must be a multiple of config.policy.log_every_epochs "
                         f"({config.eval.every_epochs} vs {config.policy.log_every_epochs}); 0 disables it")
