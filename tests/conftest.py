import atexit
import os
import shutil
import tempfile

# make test runs two pytest-xdist workers; on a GPU each would otherwise take 75% of its memory at start.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import pytest

# Many tests build the same small programs again (a run, then its resume or its re-evaluation). A persistent
# compilation cache private to this test process compiles each once; it starts empty, so no state survives the run.
_JIT_CACHE = tempfile.mkdtemp(prefix="dbc_jax_test_jit_cache_")
atexit.register(shutil.rmtree, _JIT_CACHE, ignore_errors=True)
jax.config.update("jax_compilation_cache_dir", _JIT_CACHE)
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)

# The paper's released datasets: $DBC_JAX_PAPER_DATA, else ../shared/datasets/dbc_paper beside the repo.
PAPER_DATA = os.environ.get("DBC_JAX_PAPER_DATA") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "dbc_paper"))


@pytest.fixture
def fewer_resamples(monkeypatch):
    """200 bootstrap resamples for every results page (``dbc_jax.stats.BOOTSTRAP``), not 10,000 and 2,000: for the
    tests of what a page computes from which runs and where it writes it. The intervals' own accuracy is checked on
    synthetic scores in tests/test_compare.py, with resample counts of their own."""
    from dbc_jax import stats

    monkeypatch.setitem(stats.BOOTSTRAP, "reps", 200)
    monkeypatch.setitem(stats.BOOTSTRAP, "pairs_reps", 200)


@pytest.fixture
def paper_data():
    """Path of the paper's released datasets; tests that need them skip when the folder is absent."""
    if not os.path.isdir(PAPER_DATA):
        pytest.skip(f"the paper's datasets are not at {PAPER_DATA} (set DBC_JAX_PAPER_DATA to their folder)")
    return PAPER_DATA
