"""Command line: train, evaluate a saved run, or generate expert demos.

    python -m dbc_jax.main --config=dbc_jax/configs/maze.py:quick [--config.algo=bc] [--config.seed=2]
    python -m dbc_jax.main --mode=eval --workdir=runs/maze_dbc_quick_seed1 [--num_episodes=200]
    python -m dbc_jax.main --mode=eval --workdir=runs/maze_ibc_quick_seed1 --sampler=ibc.num_samples=1024
    python -m dbc_jax.main --mode=eval --workdir=runs/maze_dbc_quick_seed1 --backend=mjx
    python -m dbc_jax.main --mode=demos --config=dbc_jax/configs/maze.py [--config.data.num_episodes=100]
    python -m dbc_jax.main --config=... --coordinator_address=host0:1234 --num_processes=2 --process_id=0  (and 1)
    srun python -m dbc_jax.main --config=... --distributed    (Slurm, TPU pods: see docs/multihost.md)

Any config field can be overridden with --config.<field>=<value>; see the config file for the fields.
An error is one line on stderr (exit status 2 for bad input, 1 for a fault during the run); --debug shows the
traceback.
"""

from __future__ import annotations

import os

from absl import app, flags, logging
from ml_collections import config_flags

import dbc_jax
from dbc_jax import distributed
from dbc_jax.errors import run_cli
from dbc_jax.configs.checks import did_you_mean, leaves
from dbc_jax.tasks import TASKS, get_task
from dbc_jax.demos import make_demos
from dbc_jax.plots import plot_evaluation
from dbc_jax.train import evaluate_workdir
from dbc_jax.workdir import workdir_paths

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file and preset, e.g. dbc_jax/configs/maze.py:quick.",
                                          lock_config=True)
_MODE = flags.DEFINE_enum("mode", "train", ["train", "eval", "demos"], "What to do.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (eval mode; in train mode use --config.workdir).")
_EPISODES = flags.DEFINE_integer("num_episodes", None, "Eval mode: episodes per seed (default: the run's config).")
_SAMPLER = flags.DEFINE_multi_string("sampler", [], "Eval mode: a DP/IBC inference setting to change, "
                                     "e.g. --sampler=ibc.num_samples=1024 (repeatable).")
_BACKEND = flags.DEFINE_enum("backend", None, ["auto", "c", "mjx"],
                             "Eval mode: evaluation backend (default: the run's config.eval.backend).")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "Train on several processes: process 0's host:port "
                                   "(with --num_processes and --process_id; docs/multihost.md).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Several processes: how many in all.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "Several processes: this one's index, 0 .. num_processes - 1.")
_DISTRIBUTED = flags.DEFINE_bool("distributed", False, "Several processes, as the cluster's environment describes "
                                 "them (Slurm, TPU pods, Open MPI): jax.distributed finds the coordinator itself.")
_OUT = flags.DEFINE_string("out", None, "Demos mode: output .npz (default: config.data.path, else data/<env>_expert_<N>ep.npz).")


def main(argv):
    del argv
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO; --verbosity=0 shows them
    if _MODE.value == "eval":
        if not _WORKDIR.value:
            raise app.UsageError("--mode=eval needs --workdir")
        sampler = {}
        for item in _SAMPLER.value:
            key, sep, value = item.partition("=")
            if not sep:
                raise app.UsageError(f"--sampler={item}: expected <section>.<field>=<value>, e.g. ibc.num_samples=1024")
            sampler[key] = value
        results = evaluate_workdir(_WORKDIR.value, _EPISODES.value, sampler, _BACKEND.value)
        print(results.table())
        pictures = plot_evaluation(results.evaluation, get_task(results.config.env_name),
                                   workdir_paths(results.workdir), results.grid,
                                   f"{results.config.env_name} / {results.config.algo}: make eval")
        print("\n" + "\n".join(pictures))
        return
    config = _CONFIG.value
    if config is None:
        raise app.UsageError("--config is required, e.g. --config=dbc_jax/configs/maze.py:quick")
    if distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value, auto=_DISTRIBUTED.value):
        if _MODE.value != "train":
            raise app.UsageError("several processes (--coordinator_address, --distributed) train; eval and demos "
                                 "run in one process")
    if _MODE.value == "demos":
        path = make_demos(config, _OUT.value)
        print(f"Wrote {config.env_name} demos to {path}")
        return
    results = dbc_jax.train(config)
    if not distributed.is_writer():
        return  # process 0 prints the results
    print()
    print(results.table())
    print(f"\nworkdir: {results.workdir}")
    for name, path in results.paths.items():
        print(f"  {name:15s} {path}")
    print("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in results.timings.items()))


def _check_config_flags(argv) -> None:
    """``--config=<file>[:<preset>]`` must be a file and ``--config.<field>=...`` a field of that config: one line
    each, before absl's parser (whose messages for these are several lines, or an escaped repr)."""
    spec = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if spec is None:
        return
    path, _, preset = spec.partition(":")
    if not os.path.isfile(path):
        known = ", ".join(f"dbc_jax/configs/{task}.py" for task in TASKS)
        raise app.UsageError(f"--config={spec}: no such config file (the tasks' configs: {known})")
    task = os.path.splitext(os.path.basename(path))[0]
    ours = os.path.samefile(os.path.dirname(os.path.abspath(path)), os.path.dirname(dbc_jax.configs.__file__))
    if task == "dataset" and ours:
        from dbc_jax.configs import dataset

        template = dataset.get_config(preset)  # the dataset and its env checked here, before absl reads the flags
    elif task in TASKS:
        template = dbc_jax.get_config(task, preset or "quick")
    else:
        return  # a config file of the user's: absl reads it
    fields = [field for field, _ in leaves(template)]
    for arg in argv:
        if arg.startswith("--config.") and "=" in arg:
            field = arg[len("--config."):].split("=", 1)[0]
            if field not in fields and not any(f.startswith(field + ".") for f in fields):
                raise app.UsageError(f"{arg}: '{field}' is not a field of {path}" + did_you_mean(field, fields))


def _parse_and_run(argv):
    """Parse the flags here rather than in ``absl.app.run``, so a bad flag is one line and exit status 2 too."""
    app.define_help_flags()  # --help, --helpfull, as absl.app.run would
    _check_config_flags(argv)
    main(flags.FLAGS(argv))


def run(argv=None):
    run_cli(_parse_and_run, argv)


if __name__ == "__main__":
    run()
