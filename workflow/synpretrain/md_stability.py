"""MD stability of a potential (Fig 4d): an NVT heating ramp, then a hold, measured rather than eyed.

The paper heated amorphous carbon from 300 to 3000 K over 100 ps and held it, and judged the runs by
eye (5-fold and 8+-fold atoms, free atoms).  Here every frame is analysed: the fraction of atoms
with each coordination number, the time of the first unphysical event (an atom with no neighbour,
or with `high` or more), the closest interatomic distance and the potential energy per atom.

The thermostat is a Langevin one (friction = 1 / damping time) whose target temperature moves step
by step along the ramp; momentum is zeroed at the start.  Two integrators: ASE's Langevin around any
ASE calculator (`AseEngine`), or BAOAB with the whole state on the model's device
(`md_device.DeviceEngine`, `md.engine: torch`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms, units
from ase.md.langevin import Langevin
from ase.constraints import FixCom
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.neighborlist import neighbor_list

from .labellers import wrapped_positions
from .io import atomic_path

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


class Checkpoint:
    """Where a run keeps its partial trajectory and, every `every_ps`, its state: positions,
    momenta, the thermostat's random-number state, the frame reached and the rows so far.

    A killed run started again with the same protocol continues from the last saved state and
    gives the same rows and frames as an uninterrupted one (the thermostat is the only source of
    randomness, and its generator state is restored exactly)."""

    def __init__(self, state: str | os.PathLike, trajectory: str | os.PathLike, every_ps: float = 5.0):
        self.state, self.trajectory, self.every_ps = Path(state), Path(trajectory), float(every_ps)

    def load(self, fingerprint: dict) -> dict | None:
        """The saved state if it belongs to the same run (protocol, structure, integrator), else None."""
        if not self.state.exists() or not self.trajectory.exists():
            return None
        with np.load(self.state) as saved:
            meta = json.loads(str(saved["meta"]))
            if meta["fingerprint"] != fingerprint:
                return None
            return {**meta, "positions": saved["positions"], "momenta": saved["momenta"]}

    def save(self, atoms: Atoms, rng_state: dict, frame: int, rows: list[dict], fingerprint: dict) -> None:
        meta = {"fingerprint": fingerprint, "frame": frame, "rows": rows, "rng": rng_state,
                "trajectory_bytes": self.trajectory.stat().st_size}
        with atomic_path(self.state, suffix=".npz") as tmp, open(tmp, "wb") as handle:
            np.savez(handle, positions=atoms.get_positions(), momenta=atoms.get_momenta(),
                     meta=np.array(json.dumps(meta)))

    def append_frame(self, atoms: Atoms, row: dict) -> None:
        snapshot = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc,
                         momenta=atoms.get_momenta())
        snapshot.info.update(time_ps=row["time_ps"], target_T=row["target_T"])
        with open(self.trajectory, "a") as handle:
            ase.io.write(handle, snapshot, format="extxyz")


def fingerprint(atoms: Atoms, protocol: HeatingProtocol, cutoff: float, high: int, integrator: str) -> dict:
    """What must be equal for a saved state to be resumed."""
    return {"protocol": dataclasses.asdict(protocol), "cutoff": cutoff, "high": high, "n_atoms": len(atoms),
            "integrator": integrator,
            "start_sha256": hashlib.sha256(np.ascontiguousarray(atoms.positions).tobytes()).hexdigest()}


class AseEngine:
    """MD through an ASE calculator (`md.engine` eager, openequivariance, aotinductor): ASE's
    Langevin, the structure on the host every step."""

    integrator = "ase-langevin"

    def __init__(self, calc):
        self.calc = calc

    def start(self, atoms: Atoms, protocol: HeatingProtocol, rng: np.random.Generator, saved: dict | None
              ) -> AseLangevin:
        return AseLangevin(atoms, self.calc, protocol, rng, saved)


class AseLangevin:
    """The stepper of `run` for ASE: `atoms` carries the state; the thermostat draws from `rng`
    (the generator that drew the initial momenta; its state is what checkpoints keep)."""

    def __init__(self, atoms: Atoms, calc, protocol: HeatingProtocol, rng: np.random.Generator, saved: dict | None):
        self.atoms, self.protocol, self.rng = atoms, protocol, rng
        self.frames = 0 if saved is None else saved["frame"]
        if saved is not None:
            rng.bit_generator.state = saved["rng"]
        atoms.calc = wrapped_positions(calc)  # any calculator: KIM's is wrong for atoms far outside the cell
        atoms.set_constraint(FixCom())
        self.dyn = Langevin(atoms, timestep=protocol.timestep_fs * units.fs, temperature_K=protocol.T_start,
                            friction=1.0 / (protocol.damping_ps * 1000 * units.fs), fixcm=False, rng=rng)

    def advance(self, n_steps: int) -> None:
        """One frame's n_steps, the target temperature moved along the ramp before each."""
        p = self.protocol
        self.frames += 1
        time_ps = self.frames * p.frame_every_ps
        for step in range(n_steps):
            self.dyn.set_temperature(temperature_K=p.temperature(time_ps - p.frame_every_ps
                                                                 + (step + 1) * p.timestep_fs / 1000))
            self.dyn.run(1)

    @property
    def energy(self) -> float:
        return float(self.atoms.get_potential_energy())

    def forces_finite(self) -> bool:
        return bool(np.all(np.isfinite(self.atoms.get_forces())))

    def rng_state(self) -> dict:
        return self.rng.bit_generator.state


def run(atoms: Atoms, engine, protocol: HeatingProtocol, cutoff: float, high: int = 5,
        collapse_distance: float = 0.5, progress=None, checkpoint: Checkpoint | None = None
        ) -> tuple[list[dict], dict]:
    """Heat and hold `atoms` with `engine` (an `AseEngine`, a `md_device.DeviceEngine`, or an ASE
    calculator: ASE's Langevin); return per-frame rows and a summary.

    The start is the same for every engine: momenta drawn at T_start (numpy, the protocol's seed),
    total momentum zeroed.  A stepper (`engine.start`) advances the state one frame at a time and
    leaves positions and momenta in `atoms` for the analysis.  The run stops early (completed =
    False) if atoms come closer than `collapse_distance` or the energy or forces stop being finite:
    the potential has broken down.
    With a `checkpoint`, every frame is appended to its trajectory and the run resumes from its last
    saved state."""
    if not hasattr(engine, "start"):
        engine = AseEngine(engine)
    key = fingerprint(atoms, protocol, cutoff, high, engine.integrator)
    atoms = atoms.copy()
    rng = np.random.default_rng(protocol.seed)
    thermalize_momenta(atoms, temperature_K=protocol.T_start, rng=rng)
    Stationary(atoms)  # momentum zeroed, and kept so by the integrator
    saved = checkpoint.load(key) if checkpoint else None
    if saved is not None:
        atoms.set_positions(saved["positions"])
        atoms.set_momenta(saved["momenta"])
        rows, first_frame = saved["rows"], saved["frame"] + 1
        with open(checkpoint.trajectory, "r+b") as handle:  # drop frames written after the save
            handle.truncate(saved["trajectory_bytes"])
    stepper = engine.start(atoms, protocol, rng, saved)
    steps_per_frame = max(1, int(round(protocol.frame_every_ps * 1000 / protocol.timestep_fs)))
    n_frames = int(round((protocol.ramp_ps + protocol.hold_ps) / protocol.frame_every_ps))
    save_every = max(1, int(round(checkpoint.every_ps / protocol.frame_every_ps))) if checkpoint else 0
    if saved is None:
        rows, first_frame = [analyse_frame(atoms, 0.0, protocol.T_start, stepper.energy, cutoff, high)], 1
        if checkpoint:
            checkpoint.trajectory.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.trajectory.write_text("")
            checkpoint.append_frame(atoms, rows[-1])
    elif progress is not None:
        progress.update(first_frame - 1)
    completed, steps, start = True, 0, time.perf_counter()
    for frame in range(first_frame, n_frames + 1):
        time_ps = frame * protocol.frame_every_ps
        stepper.advance(steps_per_frame)
        steps += steps_per_frame
        energy = stepper.energy
        if not (np.isfinite(energy) and stepper.forces_finite()):
            completed = False
            break
        rows.append(analyse_frame(atoms, time_ps, protocol.temperature(time_ps), energy, cutoff, high))
        if checkpoint:
            checkpoint.append_frame(atoms, rows[-1])
            if frame % save_every == 0:
                checkpoint.save(atoms, stepper.rng_state(), frame, rows, key)
        if progress is not None:
            progress.update(1)
        if rows[-1]["min_distance"] < collapse_distance:
            completed = False
            break
    seconds = time.perf_counter() - start
    summary = summarise(rows, protocol, completed)
    summary.update(resumed_at_ps=(first_frame - 1) * protocol.frame_every_ps if saved else None,
                   steps_this_attempt=steps, steps_per_s=round(steps / seconds, 2) if seconds > 0 else None,
                   integrator=engine.integrator)
    return rows, summary
