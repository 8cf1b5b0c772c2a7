from dbc_jax.data.dataset import Dataset, DatasetError, EpisodeRecorder, check_compatible, concatenate, load_dataset
from dbc_jax.data.minari_format import read_minari, to_minari
from dbc_jax.data.torch_pt import read_torch_arrays

__all__ = ["Dataset", "DatasetError", "EpisodeRecorder", "check_compatible", "concatenate", "load_dataset",
           "read_minari", "read_torch_arrays", "to_minari"]
