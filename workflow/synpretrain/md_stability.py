"""MD stability of a potential (Fig 4d): an NVT heating ramp, then a hold, measured rather than eyed.

The paper heated amorphous carbon from 300 to 3000 K over 100 ps and held it, and judged the runs by
eye (5-fold and 8+-fold atoms, free atoms).  Here every frame is analysed: the fraction of atoms
with each coordination number, the time of the first unphysical event (an atom with no neighbour,
or with `high` or more), the closest interatomic distance and the potential energy per atom.

The thermostat is ASE's Langevin (friction = 1 / damping time), whose target temperature can be
moved step by step along the ramp; momentum is zeroed at the start.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.constraints import FixCom
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.neighborlist import neighbor_list

MAX_CN = 8  # coordination histogram bins 0 .. 7 and "8 or more"


@dataclasses.dataclass(frozen=True)
class HeatingProtocol:
    timestep_fs: float = 1.0
    T_start: float = 300.0
    T_end: float = 3000.0
    ramp_ps: float = 100.0
    hold_ps: float = 900.0
    damping_ps: float = 0.1
    frame_every_ps: float = 0.2
    seed: int = 0

    def temperature(self, time_ps: float) -> float:
        if time_ps >= self.ramp_ps:
            return self.T_end
        return self.T_start + (self.T_end - self.T_start) * time_ps / self.ramp_ps


def coordination_numbers(atoms: Atoms, cutoff: float) -> np.ndarray:
    """Neighbours of every atom within `cutoff` Angstrom (periodic images included)."""
    first = neighbor_list("i", atoms, cutoff)
    return np.bincount(first, minlength=len(atoms))


def coordination_fractions(cn: np.ndarray) -> np.ndarray:
    """Fraction of atoms with 0, 1, ..., MAX_CN - 1 and >= MAX_CN neighbours."""
    counts = np.bincount(np.minimum(cn, MAX_CN), minlength=MAX_CN + 1)
    return counts / len(cn)


def unphysical(cn: np.ndarray, high: int) -> bool:
    """A free atom, or one with `high` or more neighbours (for carbon: 5-fold and above)."""
    return bool(np.any(cn == 0) or np.any(cn >= high))


def closest_distance(atoms: Atoms) -> float:
    distances = neighbor_list("d", atoms, 3.0)
    return float(distances.min()) if len(distances) else float("inf")


def analyse_frame(atoms: Atoms, time_ps: float, temperature: float, energy: float, cutoff: float,
                  high: int) -> dict:
    cn = coordination_numbers(atoms, cutoff)
    row = {"time_ps": time_ps, "target_T": temperature, "T": atoms.get_temperature(),
           "epot_per_atom": energy / len(atoms), "min_distance": closest_distance(atoms),
           "mean_cn": float(cn.mean()), "unphysical": unphysical(cn, high)}
    for k, fraction in enumerate(coordination_fractions(cn)):
        row[f"cn{k}" if k < MAX_CN else f"cn{MAX_CN}+"] = float(fraction)
    return row


def summarise(rows: list[dict], protocol: HeatingProtocol, completed: bool) -> dict:
    """Time to the first unphysical frame, and the energy drift while holding at T_end."""
    bad = [r["time_ps"] for r in rows if r["unphysical"]]
    hold = [r for r in rows if r["time_ps"] >= protocol.ramp_ps]
    drift = float("nan")
    if len(hold) >= 2:
        t = np.array([r["time_ps"] for r in hold])
        e = np.array([r["epot_per_atom"] for r in hold])
        drift = float(np.polyfit(t, e, 1)[0] * 1000.0)  # meV/atom/ps
    return {"completed": completed, "simulated_ps": rows[-1]["time_ps"] if rows else 0.0,
            "first_unphysical_ps": bad[0] if bad else None,
            "hold_epot_drift_mev_per_atom_per_ps": drift,
            "min_distance": float(min(r["min_distance"] for r in rows)) if rows else None}


def run(atoms: Atoms, calc, protocol: HeatingProtocol, cutoff: float, high: int = 5,
        collapse_distance: float = 0.5, progress=None, on_frame=None) -> tuple[list[dict], dict]:
    """Heat and hold `atoms` with `calc`; return per-frame rows and a summary.

    The run stops early (completed = False) if atoms come closer than `collapse_distance` or the
    forces stop being finite: the potential has broken down."""
    atoms = atoms.copy()
    atoms.calc = calc
    rng = np.random.default_rng(protocol.seed)
    thermalize_momenta(atoms, temperature_K=protocol.T_start, rng=rng)
    Stationary(atoms)  # momentum zeroed, and kept so by FixCom
    atoms.set_constraint(FixCom())
    dt = protocol.timestep_fs * units.fs
    dyn = Langevin(atoms, timestep=dt, temperature_K=protocol.T_start,
                   friction=1.0 / (protocol.damping_ps * 1000 * units.fs), fixcm=False, rng=rng)
    steps_per_frame = max(1, int(round(protocol.frame_every_ps * 1000 / protocol.timestep_fs)))
    n_frames = int(round((protocol.ramp_ps + protocol.hold_ps) / protocol.frame_every_ps))
    rows = [analyse_frame(atoms, 0.0, protocol.T_start, atoms.get_potential_energy(), cutoff, high)]
    if on_frame:
        on_frame(atoms, rows[-1])
    completed = True
    for frame in range(1, n_frames + 1):
        time_ps = frame * protocol.frame_every_ps
        for step in range(steps_per_frame):
            dyn.set_temperature(temperature_K=protocol.temperature(time_ps - protocol.frame_every_ps
                                                                   + (step + 1) * protocol.timestep_fs / 1000))
            dyn.run(1)
        energy = atoms.get_potential_energy()
        if not (np.isfinite(energy) and np.all(np.isfinite(atoms.get_forces()))):
            completed = False
            break
        rows.append(analyse_frame(atoms, time_ps, protocol.temperature(time_ps), energy, cutoff, high))
        if on_frame:
            on_frame(atoms, rows[-1])
        if progress is not None:
            progress.update(1)
        if rows[-1]["min_distance"] < collapse_distance:
            completed = False
            break
    return rows, summarise(rows, protocol, completed)
