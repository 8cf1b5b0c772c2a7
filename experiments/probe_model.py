"""What a trained run's joint model knows about the demos' actions: the signal DBC's term can use.

    python experiments/probe_model.py <workdir> [--pairs 4096] [--draws 8]

For up to ``--pairs`` demo pairs (s, a) of the run's own demos, normalized as in training, it prints the model's
proxy loss (the diffusion model's eps-loss) averaged over the state dimensions and over the action dimensions, and
how much worse the same states score with the actions shuffled among them, under the same noise and timesteps
(``--draws`` draws per pair). DBC's term is the hinge of exactly such a gap between the policy's action and the
demo's: a model whose shuffled gap is about 0 cannot tell actions apart, and DBC then trains as BC.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from dbc_jax import joint_models
from dbc_jax.data import load_dataset
from dbc_jax.errors import run_cli
from dbc_jax.tasks import get_task
from dbc_jax.demos import default_data_path
from dbc_jax.workdir import restore_workdir


def probe(workdir: str, pairs: int = 4096, draws: int = 8, seed: int = 0) -> dict:
    """The proxy loss of the state and action dimensions on demo pairs, and the shuffled-action gap."""
    run = restore_workdir(workdir)
    config, task = run.config, get_task(run.config.env_name)
    if run.fns.model_count == 0:
        raise ValueError(f"{workdir}: the run has no joint model to probe (algo {config.algo})")
    demos = load_dataset(config.data.path or default_data_path(config))
    obs = jnp.asarray(run.normalizer.normalize_obs(demos.obs))
    actions = jnp.asarray(run.normalizer.normalize_actions(demos.actions))
    pick_key, shuffle_key, draw_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    pick = jax.random.permutation(pick_key, obs.shape[0])[:pairs]
    obs, actions = obs[pick], actions[pick]
    shuffled = actions[jax.random.permutation(shuffle_key, actions.shape[0])]
    model = joint_models.make(config.model, config[config.model], task.obs_dim, task.act_dim, run.action_bounds)
    params = jax.tree.map(lambda x: x[0], run.state.model).params  # the shared model (or seed 0's)

    @jax.jit
    def losses(key):
        demo = model.proxy_loss(params, jnp.concatenate([obs, actions], -1), key)
        other = model.proxy_loss(params, jnp.concatenate([obs, shuffled], -1), key)
        return demo.reshape(len(demo), -1), other.reshape(len(other), -1)

    demo, other = (np.concatenate(parts) for parts in zip(*(losses(k) for k in jax.random.split(draw_key, draws))))
    per_dim = demo.shape[1] == task.obs_dim + task.act_dim  # elementwise over (s, a), as the diffusion model's
    gap = other.mean(1) - demo.mean(1)
    return {"workdir": workdir, "model": config.model, "pairs": int(obs.shape[0]), "draws": draws,
            "demo_loss": float(demo.mean()),
            "state_dims_loss": float(demo[:, :task.obs_dim].mean()) if per_dim else None,
            "action_dims_loss": float(demo[:, task.obs_dim:].mean()) if per_dim else None,
            "shuffled_gap": float(gap.mean()), "shuffled_worse": float(np.mean(gap > 0))}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir")
    parser.add_argument("--pairs", type=int, default=4096, help="demo pairs probed (at most the demos' count)")
    parser.add_argument("--draws", type=int, default=8, help="noise and timestep draws per pair")
    args = parser.parse_args(argv)
    r = probe(args.workdir, args.pairs, args.draws)
    print(f"{r['workdir']}: {r['model']} model, {r['pairs']} demo pairs x {r['draws']} draws")
    if r["state_dims_loss"] is not None:
        print(f"  proxy loss on the demos: {r['demo_loss']:.3f} (state dims {r['state_dims_loss']:.3f}, action dims "
              f"{r['action_dims_loss']:.3f})")
    else:
        print(f"  proxy loss on the demos: {r['demo_loss']:.3f}")
    print(f"  actions shuffled among the states: {r['shuffled_gap']:+.4f} worse on average; worse for "
          f"{r['shuffled_worse']:.0%} of the draws")


if __name__ == "__main__":
    run_cli(lambda argv: main(argv[1:]))
