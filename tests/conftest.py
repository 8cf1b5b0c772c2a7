import os

import pytest

SHARED = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "datasets", "dbc_paper"))


@pytest.fixture
def paper_data():
    """Path of the paper's released datasets; tests that need them skip when the folder is absent."""
    if not os.path.isdir(SHARED):
        pytest.skip(f"the paper's datasets are not at {SHARED} (../shared/datasets/dbc_paper beside the repo)")
    return SHARED
