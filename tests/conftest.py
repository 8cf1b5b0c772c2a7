import os

import pytest

# The paper's released datasets: $DBC_JAX_PAPER_DATA, else ../shared/datasets/dbc_paper beside the repo.
PAPER_DATA = os.environ.get("DBC_JAX_PAPER_DATA") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "dbc_paper"))


@pytest.fixture
def paper_data():
    """Path of the paper's released datasets; tests that need them skip when the folder is absent."""
    if not os.path.isdir(PAPER_DATA):
        pytest.skip(f"the paper's datasets are not at {PAPER_DATA} (set DBC_JAX_PAPER_DATA to their folder)")
    return PAPER_DATA
