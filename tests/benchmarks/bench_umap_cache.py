"""What a UMAP job (rule environment_map, Figs 4b / 5c) spends compiling umap-learn's Numba
functions, with and without their on-disk cache (`synpretrain.environments.cache_compiled_umap`;
a benchmark, not a test).

    .venv/bin/python tests/benchmarks/bench_umap_cache.py              # ~4 min on 2 cores

Each case is a fresh process that runs `environments.embed` on random vectors of the demo's size
(500 reference environments of a SOAP vector's length, 148; 200 projected), as the rule does, with
an empty cache folder (`NUMBA_CACHE_DIR`) for its first process and the same folder for the later:
  - `as is, first` / `as is, later`: without `cache_compiled_umap` (umap-learn's own `cache=True`
    functions load in a later process, the others compile in every one);
  - `cached, first` / `cached, later`: with it.
Rounds alternate the cases on the same machine; the table gives the process's wall seconds, the
seconds inside `embed`, and whether the embedding equals the first case's to the bit.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "workflow"

CASE = """
import json, sys, time
import numpy as np
from synpretrain import environments
if sys.argv[1] == "off":
    environments.cache_compiled_umap = lambda: None
rng = np.random.default_rng(0)
reference, projected = rng.normal(size=(500, 148)), rng.normal(size=(200, 148))
start = time.perf_counter()
fitted, (placed,) = environments.embed(reference, [projected], seed=1)
print(json.dumps({"embed_s": time.perf_counter() - start, "embedding": [fitted.tolist(), placed.tolist()]}))
"""


def run_case(mode: str, cache_dir: Path) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(LIBRARY),
           "OMP_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", CASE, mode], env=env, capture_output=True, text=True, check=True)
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    return {"wall_s": time.perf_counter() - start, **measured}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rows, first = [], None
    for round_ in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as off_dir, tempfile.TemporaryDirectory() as cache_dir:
            for case, mode, folder in [("as is, first", "off", off_dir), ("as is, later", "off", off_dir),
                                       ("cached, first", "on", cache_dir), ("cached, later", "on", cache_dir)]:
                result = run_case(mode, Path(folder))
                first = first or result["embedding"]
                rows.append({"round": round_, "case": case, "wall_s": round(result["wall_s"], 1),
                             "embed_s": round(result["embed_s"], 1), "same": result["embedding"] == first})
                print(rows[-1], flush=True)
    print(f"\n{'case':<14}{'round':>6}{'process s':>11}{'embed s':>9}  same embedding")
    for row in rows:
        print(f"{row['case']:<14}{row['round']:>6}{row['wall_s']:>11.1f}{row['embed_s']:>9.1f}  {row['same']}")


if __name__ == "__main__":
    main()
