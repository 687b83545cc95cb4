"""Label structures with one labeller: energies referenced to its isolated atoms, forces as is.

Synthetic energies become E - sum_i E_iso(Z_i), where E_iso is the same labeller's energy of one
isolated atom in a box with 20 Angstrom of vacuum (docs/protocol.md).  A structure on which the labeller
fails (an exception, e.g. SCC not converged, or a non-finite result) is dropped and recorded with
its index and the reason; zeros are never written in its place.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Iterable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from .io import with_labels
from .labellers import isolated_atom


@dataclasses.dataclass
class LabelResult:
    frames: list[Atoms]
    dropped: list[dict]            # {"index": i, "reason": "..."}
    e_iso: dict[str, float]        # eV per element

    def summary(self) -> dict:
        return {"n_labelled": len(self.frames), "n_dropped": len(self.dropped),
                "dropped": self.dropped, "e_iso": self.e_iso}


def chunk_bounds(n_total: int, n_chunks: int, chunk: int) -> tuple[int, int]:
    """[start, stop) of chunk `chunk` when n_total structures are cut into n_chunks near-equal parts."""
    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} is not in 0..{n_chunks - 1}")
    return n_total * chunk // n_chunks, n_total * (chunk + 1) // n_chunks


def isolated_atom_energies(calc: Calculator, symbols: Iterable[str], vacuum: float = 20.0) -> dict[str, float]:
    energies = {}
    for symbol in sorted(set(symbols)):
        atom = isolated_atom(symbol, vacuum)
        atom.calc = calc
        energies[symbol] = float(atom.get_potential_energy())
        if not np.isfinite(energies[symbol]):
            raise RuntimeError(f"isolated {symbol} atom energy is not finite: {energies[symbol]}")
    return energies


def reference_energy(atoms: Atoms, e_ref: dict[str, float]) -> float:
    """sum over atoms of the per-element reference energy."""
    counts = Counter(atoms.get_chemical_symbols())
    missing = set(counts) - set(e_ref)
    if missing:
        raise KeyError(f"no reference energy for element(s) {sorted(missing)}")
    return float(sum(n * e_ref[s] for s, n in counts.items()))


def label(frames: list[Atoms], calc: Calculator, e_iso: dict[str, float], first_index: int = 0,
          progress=None) -> LabelResult:
    """Label `frames` (their global indices start at `first_index`) with `calc`."""
    labelled, dropped = [], []
    for offset, atoms in enumerate(frames):
        index = first_index + offset
        work = atoms.copy()
        work.calc = calc
        try:
            energy = float(work.get_potential_energy())
            forces = np.array(work.get_forces(), dtype=float)
        except Exception as error:  # any labeller failure drops this structure, never the job
            dropped.append({"index": index, "reason": f"{type(error).__name__}: {error}"[:300]})
        else:
            if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
                dropped.append({"index": index, "reason": "non-finite energy or forces"})
            else:
                result = with_labels(atoms, energy - reference_energy(atoms, e_iso), forces)
                result.info["source_index"] = index
                labelled.append(result)
        if progress is not None:
            progress.update(1)
    return LabelResult(labelled, dropped, e_iso)
