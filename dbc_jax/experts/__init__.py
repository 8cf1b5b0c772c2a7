"""Expert demonstrators: for each task, a function ``(num_episodes, seed, progress, **kwargs) -> Dataset``
(``kwargs``: the config's ``env`` and ``data.expert`` fields, plus what ``expert_identity`` returns)."""

from dbc_jax.experts import locomotion, maze


def _fetchpick_demos(**kwargs):
    from dbc_jax.experts import fetch  # imports gymnasium-robotics, which only FetchPick needs

    return fetch.generate_demos(**kwargs)


DEMO_GENERATORS = {
    "maze": maze.generate_demos,
    "fetchpick": _fetchpick_demos,
    "halfcheetah": locomotion.generate_halfcheetah,
    "walker": locomotion.generate_walker,
}


def expert_identity(env_name: str, expert_settings: dict) -> dict:
    """Fields that pin down *which* expert made a demo file beyond the config (the learned experts' weights hash);
    a file whose fields differ is remade."""
    if env_name in ("halfcheetah", "walker"):
        return {"expert_sha256": locomotion.weights_sha256(env_name, expert_settings.get("weights", ""))}
    return {}
