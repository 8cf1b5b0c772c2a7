"""Evaluation throughput of the two backends: C MuJoCo (gymnasium envs) and MJX (one jitted scan).

    python experiments/bench_eval.py [--tasks maze halfcheetah walker] [--batch 1 16 256 4096] [--steps 100]

Each row runs one evaluator call of ``batch`` episodes (one seed) for ``--steps`` steps, with the policy in the
loop: the shipped SAC expert for HalfCheetah/Walker2d (so no episode ends early and both backends step every
env), the paper-sized DBC policy network with random weights for Maze2D. env-steps/s = batch x steps / time of a
call after the first; episodes/s converts it to full-length episodes (horizon 400 or 1000 steps). The first call
(MJX: tracing and XLA compilation; C: creating the envs) is shown apart. A backend stops growing its batch once
a row takes longer than ``--max-seconds``.

    python experiments/bench_eval.py --workdir runs/maze_dbc_quick_seed1 [--backends c mjx] [--calls 3]

End to end on a trained run instead: the run's own evaluation (all its seeds x ``eval.num_episodes``, the full
horizon, episodes ending on success), as periodic evaluation during training uses it: one evaluator, built once,
called ``--calls`` times with different keys. Prints the build + first call apart from the later calls.
"""

from __future__ import annotations

import argparse
import functools
import time

import jax
import numpy as np

import dbc_jax
from dbc_jax.tasks import TASKS, get_task
from dbc_jax.evaluate import CMujocoEvaluator, MJXEvaluator, make_policy_fn
from dbc_jax.normalization import Normalizer
from dbc_jax.provenance import hardware
from dbc_jax.train import make_train
from dbc_jax.trainer import TrainData

TWIN_TASKS = [task.name for task in TASKS.values() if task.has_twin]  # what both backends can run


def bench_policy(task: str):
    """``(params with a seed axis of 1, policy_fn)`` in the evaluators' convention."""
    spec = get_task(task)
    if task == "maze":
        config = dbc_jax.get_config("maze", "paper")
        config.num_seeds = 1
        rng = np.random.default_rng(0)
        obs = rng.standard_normal((1024, spec.obs_dim)).astype(np.float32)
        actions = rng.uniform(-1, 1, (1024, spec.act_dim)).astype(np.float32)
        fns, data = make_train(config, spec.obs_dim, spec.act_dim), TrainData.from_normalized(obs, actions)
        act = functools.partial(fns.act, action_bounds=data.action_bounds)
        params = fns.init(jax.random.PRNGKey(0), data, fns.grid.hparams()).policy_params
        return params, make_policy_fn(act, Normalizer.from_data(obs, actions))
    from dbc_jax.experts.learned import expert_policy_fn

    return expert_policy_fn(task)


def bench(task: str, backend: str, batch: int, steps: int) -> dict:
    params, policy_fn = bench_policy(task)
    t0 = time.perf_counter()
    if backend == "mjx":
        evaluator = MJXEvaluator(task, {}, 1, batch, policy_fn, num_steps=steps)
    else:
        evaluator = CMujocoEvaluator(get_task(task).env_id, {}, 1, batch, policy_fn, max_steps=steps)
    evaluator(params, jax.random.PRNGKey(0))
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = evaluator(params, jax.random.PRNGKey(1))
    seconds = time.perf_counter() - t0
    evaluator.close()
    env_steps = float(result.episode_length.mean()) * batch
    return dict(task=task, backend=backend, batch=batch, env_steps_per_s=env_steps / seconds,
                episodes_per_s=env_steps / seconds / get_task(task).horizon, call_s=seconds, first_s=first,
                mean_length=float(result.episode_length.mean()))


def bench_workdir(workdir: str, backend: str, calls: int) -> dict:
    from dbc_jax.train import run_evaluator
    from dbc_jax.trainer import eval_key
    from dbc_jax.workdir import restore_workdir

    config, state, normalizer, bounds, fns = restore_workdir(workdir)
    config.eval.backend = backend
    t0 = time.perf_counter()
    evaluator = run_evaluator(config, fns, normalizer, bounds)
    results = [evaluator(state.policy_params, eval_key(config.seed, 0))]
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1, calls):
        results.append(evaluator(state.policy_params, eval_key(config.seed, i)))
    later = (time.perf_counter() - t0) / max(calls - 1, 1)
    evaluator.close()
    metric = get_task(config.env_name).metric
    return dict(backend=backend, episodes=config.num_seeds * config.eval.num_episodes, first_s=first, call_s=later,
                metric=metric, value=float(np.mean([r.metric(metric).mean() for r in results])),
                mean_length=float(np.mean([r.episode_length.mean() for r in results])))


def main_workdir(args) -> None:
    print(f"| run | backend | episodes per call | first call s (incl. build) | later call s | mean length | mean "
          f"metric over {args.calls} calls |")
    print("|---|---|---|---|---|---|---|")
    for backend in args.backends:
        r = bench_workdir(args.workdir, backend, args.calls)
        print(f"| {args.workdir} | {backend} | {r['episodes']} | {r['first_s']:.1f} | {r['call_s']:.1f} | "
              f"{r['mean_length']:.1f} | {r['metric']} {r['value']:.3f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=TWIN_TASKS, choices=TWIN_TASKS)
    parser.add_argument("--backends", nargs="+", default=["c", "mjx"], choices=["c", "mjx"])
    parser.add_argument("--batch", nargs="+", type=int, default=[1, 16, 256, 1024, 4096], help="episodes per call")
    parser.add_argument("--steps", type=int, default=100, help="steps per episode in the timed call")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop growing the batch past this")
    parser.add_argument("--workdir", help="end to end on this trained run instead of the throughput table")
    parser.add_argument("--calls", type=int, default=3, help="--workdir: evaluator calls per backend")
    args = parser.parse_args()
    print(hardware())
    print(f"jax {jax.__version__} ({jax.default_backend()}), mujoco {__import__('mujoco').__version__}")
    if args.workdir:
        return main_workdir(args)
    print(f"{args.steps} steps per episode")
    print("| task | backend | batch | env-steps/s | episodes/s (full length) | timed call s | first call s |")
    print("|---|---|---|---|---|---|---|")
    for task in args.tasks:
        for backend in args.backends:
            for batch in sorted(args.batch):
                r = bench(task, backend, batch, args.steps)
                print(f"| {task} | {backend} | {batch} | {r['env_steps_per_s']:,.0f} | {r['episodes_per_s']:,.2f} | "
                      f"{r['call_s']:.2f} | {r['first_s']:.1f} |", flush=True)
                if r["call_s"] + r["first_s"] > args.max_seconds:
                    break


if __name__ == "__main__":
    main()
