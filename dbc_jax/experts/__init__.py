"""Expert demonstrators. Each task's generator (its registry entry's ``demos``) is a function
``(num_episodes, seed, progress, **settings) -> Dataset``; ``settings``: the config's ``env`` and ``data.expert``
fields, plus what :func:`expert_identity` returns."""

from dbc_jax.tasks import get_task, load


def generate_demos(env_name: str, **kwargs):
    """The expert demos of the task ``env_name`` (imports the task's expert only now)."""
    return load(get_task(env_name).demos)(**kwargs)


def expert_identity(env_name: str, expert_settings: dict) -> dict:
    """Fields that pin down *which* expert made a demo file beyond the config (the learned experts' weights hash);
    a file whose fields differ is remade."""
    if get_task(env_name).expert == "sac":
        from dbc_jax.experts import learned

        return {"expert_sha256": learned.weights_sha256(env_name, expert_settings.get("weights", ""))}
    return {}
