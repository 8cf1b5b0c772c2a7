"""Expert demonstrators: for each task, a function ``(num_episodes, seed, progress, **kwargs) -> Dataset``
(``kwargs``: the config's ``env`` and ``data.expert`` fields)."""

from dbc_jax.experts import locomotion, maze

DEMO_GENERATORS = {
    "maze": maze.generate_demos,
    "halfcheetah": locomotion.generate_halfcheetah,
    "walker": locomotion.generate_walker,
}
