"""Error metrics as the paper reports them (docs/protocol.md, "Metrics").

- energy RMSE: of (E_pred - E_true) / N per structure, in meV/atom, no offset removed;
- force RMSE: over every Cartesian component of every atom, in eV/Angstrom.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def per_atom_energy_rmse_mev(e_pred: Sequence[float], e_true: Sequence[float], n_atoms: Sequence[int]) -> float:
    e_pred, e_true, n_atoms = (np.asarray(a, dtype=float) for a in (e_pred, e_true, n_atoms))
    if not (e_pred.shape == e_true.shape == n_atoms.shape) or e_pred.size == 0:
        raise ValueError("energy arrays must be non-empty and of equal length")
    return float(np.sqrt(np.mean(((e_pred - e_true) / n_atoms) ** 2)) * 1000.0)


def force_component_rmse(f_pred: Sequence[np.ndarray], f_true: Sequence[np.ndarray]) -> float:
    pred = np.concatenate([np.asarray(f, dtype=float).reshape(-1) for f in f_pred])
    true = np.concatenate([np.asarray(f, dtype=float).reshape(-1) for f in f_true])
    if pred.shape != true.shape or pred.size == 0:
        raise ValueError("force arrays must be non-empty and of equal shape")
    return float(np.sqrt(np.mean((pred - true) ** 2)))


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; NaN for a single value), as in Table 1."""
    values = np.asarray(values, dtype=float)
    std = float(np.std(values, ddof=1)) if values.size > 1 else float("nan")
    return float(np.mean(values)), std
