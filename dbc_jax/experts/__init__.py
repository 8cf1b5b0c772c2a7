"""Expert demonstrators: for each task, a function ``(num_episodes, seed, **env_kwargs) -> Dataset``."""

from dbc_jax.experts import maze

DEMO_GENERATORS = {
    "maze": maze.generate_demos,
}
