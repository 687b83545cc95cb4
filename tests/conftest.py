import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # tests/fixtures.py
import os

# Keep every test single-threaded, like the workflow's jobs.
for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(key, "1")
