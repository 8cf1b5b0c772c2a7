"""Algorithms, each a module of pure functions with one interface, so the trainer and evaluator serve them all:

    make_agent(config, obs_dim, act_dim, action_bounds) -> Agent   static parts (modules, schedules, constants)
    init_policy(agent, key, obs_dim) -> params
    make_policy_loss(agent, config, coeff_dm) -> (params, dm_params, obs, actions, key) -> (loss, info)
    act(agent, params, obs, key) -> actions                         normalized obs in, normalized actions out

``action_bounds`` is the (low, high) range of the dataset's normalized actions. Only DBC pretrains a diffusion
model over (s, a) (``init_denoiser`` / ``denoiser_loss``); the others get a placeholder for ``dm_params``.
Every ``info`` holds ``loss/total`` plus namespaced terms (``bc/mse``, ``dm/hinge``, ``dp/loss``, ``ibc/infonce``).
"""

from dbc_jax.algos import dbc, dp, ibc

ALGORITHMS = {"dbc": dbc, "bc": dbc, "dp": dp, "ibc": ibc}  # BC is DBC with coeff_dm = 0


def get(name: str):
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"config.algo: expected one of {tuple(ALGORITHMS)}, got '{name}'") from None
