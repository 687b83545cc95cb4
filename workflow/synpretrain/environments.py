"""Maps of atomic environments (Figs 4b, 5c): SOAP vectors (quippy) embedded with UMAP (umap-learn).

The embedding is fitted on the pre-training environments and the other sets are projected onto it,
as in the paper.  Every structure is described as if all its atoms were of one element, so that
carbon, scaled carbon and silicon environments live in one descriptor space and differ only by
geometry, which is the point of Fig 5c.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from ase.data import atomic_numbers
from ase.units import _amu

AMU_PER_A3_IN_G_CM3 = _amu * 1e3 / 1e-24  # 1 u/A^3 in g/cm^3



@dataclasses.dataclass(frozen=True)
class Soap:
    cutoff: float = 4.0
    n_max: int = 6
    l_max: int = 6
    atom_sigma: float = 0.5
    element: str = "C"

    def descriptor(self):
        from quippy.descriptors import Descriptor

        z = atomic_numbers[self.element]
        return Descriptor(f"soap cutoff={self.cutoff} l_max={self.l_max} n_max={self.n_max} "
                          f"atom_sigma={self.atom_sigma} n_species=1 species_Z={{{z}}} Z={z}")


def sample_environments(frames: Sequence[Atoms], n_environments: int, seed: int = 0) -> list[tuple[int, int]]:
    """(frame, atom) pairs drawn uniformly without replacement from all atoms of `frames`."""
    pairs = [(f, a) for f, atoms in enumerate(frames) for a in range(len(atoms))]
    if not pairs:
        raise ValueError("no atoms to sample environments from")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(pairs), size=min(n_environments, len(pairs)), replace=False)
    return sorted(pairs[i] for i in chosen)


def soap_table(frames: Sequence[Atoms], soap: Soap, n_environments: int, label: str,
               seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    """SOAP vectors of sampled environments, and a table describing each (set, frame, atom, density)."""
    descriptor = soap.descriptor()
    chosen = sample_environments(frames, n_environments, seed)
    by_frame: dict[int, list[int]] = {}
    for f, a in chosen:
        by_frame.setdefault(f, []).append(a)
    vectors, rows = [], []
    for f, atom_ids in by_frame.items():
        atoms = frames[f]
        neutral = atoms.copy()
        neutral.set_chemical_symbols([soap.element] * len(atoms))
        data = descriptor.calc(neutral)["data"]
        density = atoms.get_masses().sum() / atoms.get_volume() * AMU_PER_A3_IN_G_CM3 if atoms.pbc.all() else np.nan
        for a in atom_ids:
            vectors.append(data[a])
            rows.append({"set": label, "frame": f, "atom": a, "density": float(density)})
    return np.asarray(vectors), pd.DataFrame(rows)


def cache_compiled_umap() -> None:
    """Keep the machine code Numba compiles for umap-learn and pynndescent on disk (Numba's own
    cache), so that a later process loads it instead of compiling again.  umap-learn declares most
    of its functions `cache=True`, but not the ones a fit and a transform spend their compile time
    on (the parallel loops of smooth_knn_dist, compute_membership_strengths, fast_knn_indices,
    submatrix; the layout's epoch): every UMAP job compiled those afresh
    (tests/benchmarks/bench_umap_cache.py).  The cache sits in the packages'
    `__pycache__` (or `NUMBA_CACHE_DIR`); Numba keys it by source file and CPU, and drops it when
    the package changes.  A function whose cache cannot be placed anywhere keeps compiling in
    memory, as before."""
    import contextlib
    import importlib
    import sys

    from numba.core.dispatcher import Dispatcher

    importlib.import_module("umap")  # and pynndescent: their functions exist from here on

    modules = [m for name, m in list(sys.modules.items())
               if m is not None and name.split(".")[0] in ("umap", "pynndescent")]
    functions = {id(v): v for m in modules for v in vars(m).values() if isinstance(v, Dispatcher)}
    for function in functions.values():
        with contextlib.suppress(RuntimeError):  # "no locator available": nowhere writable to keep it
            function.enable_caching()


def embed(reference: np.ndarray, projected: Sequence[np.ndarray], seed: int = 0,
          n_neighbors: int = 15) -> tuple[np.ndarray, list[np.ndarray]]:
    """Fit a 2-D UMAP on `reference`, then place every `projected` set on it."""
    import umap

    cache_compiled_umap()
    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, len(reference) - 1), random_state=seed,
                        n_jobs=1)
    fitted = reducer.fit_transform(reference)
    return fitted, [reducer.transform(p) for p in projected]


def environment_map(reference_sets: dict[str, Sequence[Atoms]], projected_sets: dict[str, Sequence[Atoms]],
                    soap: Soap, n_environments: int, seed: int = 0) -> pd.DataFrame:
    """One table of 2-D coordinates: the reference sets (fitted together) and the projected ones."""
    ref_vectors, ref_tables = [], []
    for i, (label, frames) in enumerate(reference_sets.items()):
        vectors, table = soap_table(frames, soap, n_environments, label, seed + i)
        ref_vectors.append(vectors)
        ref_tables.append(table.assign(role="reference"))
    proj = [soap_table(frames, soap, n_environments, label, seed + 100 + i)
            for i, (label, frames) in enumerate(projected_sets.items())]
    fitted, placed = embed(np.vstack(ref_vectors), [v for v, _ in proj], seed)
    tables = [pd.concat(ref_tables, ignore_index=True).assign(x=fitted[:, 0], y=fitted[:, 1])]
    for (_, table), xy in zip(proj, placed):
        tables.append(table.assign(role="projected", x=xy[:, 0], y=xy[:, 1]))
    return pd.concat(tables, ignore_index=True)
