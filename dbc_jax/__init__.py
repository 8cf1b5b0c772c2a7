"""dbc_jax: Diffusion Model-Augmented Behavioral Cloning (Chen et al., ICML 2024) in JAX/Flax.

    import dbc_jax
    config = dbc_jax.get_config("maze", "quick")
    results = dbc_jax.train(config)       # results.per_seed, results.mean, results.table(), results.workdir
    config.grid.coeff = (0.1, 1.0, 10.0)  # a grid of lambdas x config.num_seeds seeds, one program: results.means
"""

from dbc_jax import tasks as _tasks
from dbc_jax._version import __version__  # noqa: F401  (dbc_jax.__version__)
from dbc_jax.configs import get_config
from dbc_jax.results import Results
from dbc_jax.train import evaluate_workdir, make_train, train
from dbc_jax.trainer import TrainData, TrainState

_tasks.register_all()

__all__ = ["Results", "TrainData", "TrainState", "evaluate_workdir", "get_config", "make_train", "train"]
