"""Evaluate a packaged NequIP model on a labelled test set through its ASE calculator."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from ase import Atoms

from .metrics import force_component_rmse, per_atom_energy_rmse_mev


def load_calculator(package: str | Path, device: str = "cpu"):
    """The NequIP ASE calculator of a `nequip-package` zip (eager mode: no compilation)."""
    from nequip.integrations.ase import NequIPCalculator

    return NequIPCalculator._from_saved_model(str(package), device=device, chemical_species_to_atom_type_map=True)


def predict(calc, frames: list[Atoms], progress=None) -> tuple[np.ndarray, list[np.ndarray]]:
    energies, forces = [], []
    for atoms in frames:
        work = atoms.copy()
        work.calc = calc
        energies.append(work.get_potential_energy())
        forces.append(np.array(work.get_forces()))
        if progress is not None:
            progress.update(1)
    return np.array(energies), forces


def evaluate(package: str | Path, frames: list[Atoms], device: str = "cpu", progress=None) -> dict:
    """Energy RMSE (meV/atom) and force component RMSE (eV/Angstrom) on `frames`."""
    if not frames:
        raise ValueError("the test set is empty")
    calc = load_calculator(package, device)
    start = time.perf_counter()
    e_pred, f_pred = predict(calc, frames, progress)
    seconds = time.perf_counter() - start
    e_true = np.array([a.get_potential_energy() for a in frames])
    f_true = [a.get_forces() for a in frames]
    n_atoms = np.array([len(a) for a in frames])
    finite = bool(np.all(np.isfinite(e_pred)) and all(np.all(np.isfinite(f)) for f in f_pred))
    return {
        "energy_rmse_mev_per_atom": per_atom_energy_rmse_mev(e_pred, e_true, n_atoms),
        "force_rmse_ev_per_a": force_component_rmse(f_pred, f_true),
        "n_structures": int(len(frames)),
        "n_atoms": int(n_atoms.sum()),
        "finite_predictions": finite,
        "predict_seconds": round(seconds, 3),
        "seconds_per_structure": round(seconds / len(frames), 5),
    }
