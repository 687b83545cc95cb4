import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from synpretrain.environments import Soap, environment_map, sample_environments, soap_table

LIBRARY = Path(__file__).resolve().parents[1] / "workflow"


def rattled(symbol, a, n, seed):
    frames = []
    for i in range(n):
        atoms = bulk(symbol, "diamond", a=a, cubic=True)
        atoms.rattle(0.05, seed=seed + i)
        frames.append(atoms)
    return frames


def test_sampling_is_without_replacement_and_deterministic():
    frames = rattled("C", 3.567, 3, 0)
    picked = sample_environments(frames, 10, seed=4)
    assert len(set(picked)) == 10 and picked == sample_environments(frames, 10, seed=4)
    assert len(sample_environments(frames, 1000, seed=4)) == 24          # all 3 x 8 atoms


def test_scaled_carbon_looks_like_silicon_to_soap():
    """The premise of Fig 5: C x 1.5 shares Si's geometry, so their SOAP vectors nearly coincide."""
    soap = Soap(cutoff=4.0, n_max=4, l_max=4)
    carbon, _ = soap_table(rattled("C", 3.567, 2, 0), soap, 8, "C")
    scaled, _ = soap_table(rattled("C", 3.567 * 1.5, 2, 0), soap, 8, "C x 1.5")
    silicon, table = soap_table(rattled("Si", 5.431, 2, 0), soap, 8, "Si")
    assert table["density"].iloc[0] == pytest.approx(2.33, abs=0.01)
    d_scaled = np.linalg.norm(scaled.mean(0) - silicon.mean(0))
    d_carbon = np.linalg.norm(carbon.mean(0) - silicon.mean(0))
    assert d_scaled < 0.5 * d_carbon


def test_environment_map_fits_reference_and_projects_the_rest():
    reference = {"diamond": rattled("C", 3.567, 4, 0), "expanded": rattled("C", 4.2, 4, 10)}
    projected = {"target": rattled("C", 3.6, 2, 20)}
    table = environment_map(reference, projected, Soap(n_max=4, l_max=4), n_environments=20, seed=0)
    assert set(table["set"]) == {"diamond", "expanded", "target"}
    assert len(table) == 20 + 20 + 16                 # the target has only 2 x 8 atoms
    assert set(table["role"]) == {"reference", "projected"}
    assert np.isfinite(table[["x", "y"]].to_numpy()).all()


UMAP_PROCESS = """
import json, sys
import numpy as np
from numba.core.dispatcher import Dispatcher
from synpretrain.environments import embed
rng = np.random.default_rng(0)
fitted, (placed,) = embed(rng.normal(size=(60, 8)), [rng.normal(size=(20, 8))], seed=1)
functions = {id(v): v for name, m in list(sys.modules.items()) if m is not None and name.split(".")[0] in ("umap", "pynndescent")
             for v in vars(m).values() if isinstance(v, Dispatcher)}
print(json.dumps({"loaded": sum(sum(f.stats.cache_hits.values()) for f in functions.values()),
                  "compiled": sum(sum(f.stats.cache_misses.values()) for f in functions.values()),
                  "embedding": [fitted.tolist(), placed.tolist()]}))
"""


def test_umaps_compiled_functions_are_kept_for_the_next_process(tmp_path):
    """umap-learn's Numba functions are compiled by the first UMAP job and loaded by the next
    (environments.cache_compiled_umap; they are not declared cache=True): the same embedding."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "PYTHONPATH": str(LIBRARY)}
    runs = [json.loads(subprocess.run([sys.executable, "-c", UMAP_PROCESS], env=env, capture_output=True, text=True,
                                      check=True).stdout.strip().splitlines()[-1]) for _ in range(2)]
    first, second = runs
    assert first["loaded"] == 0 and first["compiled"] > 0
    # umap-learn caches most of them itself (as is: 46 of 58 loaded here) but not the costly ones
    assert second["loaded"] >= 0.9 * first["compiled"] and second["compiled"] <= 0.1 * first["compiled"]
    assert second["embedding"] == first["embedding"]
