"""Algorithms, each a module of pure functions with one interface, so the trainer and evaluator serve them all:

    make_agent(config, obs_dim, act_dim, action_bounds) -> Agent   static parts (modules, schedules, constants)
    init_policy(agent, key, obs_dim) -> params
    policy_loss(agent, params, obs, actions, key, hparams, model_params) -> (loss, info)
    act(agent, params, obs, key) -> actions                         normalized obs in, normalized actions out

``action_bounds`` is the (low, high) range of the dataset's normalized actions (arrays, traced: the trainer builds
the agent inside its jitted functions from the data it is given). ``hparams`` is the member's
:class:`dbc_jax.grid.Hparams` (traced: one per grid member) and ``model_params`` the joint model's parameters, or
None. DBC alone uses them: its BC weight and λ, and a joint model of (s, a) (``dbc_jax/joint_models/``) that the
trainer builds and passes to ``dbc.make_agent(..., model=)``; DP and IBC ignore them. Every ``info`` holds
``loss/total`` plus namespaced terms (``bc/mse``, ``model/term``, ``dp/loss``, ``ibc/infonce``)."""

from dbc_jax.algos import dbc, dp, ibc

ALGORITHMS = {"dbc": dbc, "bc": dbc, "dp": dp, "ibc": ibc}  # BC is DBC without a joint model (λ = 0)


def get(name: str):
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"config.algo: expected one of {tuple(ALGORITHMS)}, got '{name}'") from None
