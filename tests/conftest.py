import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests/fixtures.py
import os

# Keep every test single-threaded, like the workflow's jobs.
for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(key, "1")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def restore_torch_default_dtype():
    """Loading a NequIP model in-process sets torch's default dtype to float64 for good (NequIP's
    global options); a CHGNet or SevenNet calculator built afterwards in the same process then
    fails on float weights.  The workflow never mixes them in one process (every job is its own);
    the tests must not either."""
    yield
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_default_dtype(torch.float32)  # torch's own default
