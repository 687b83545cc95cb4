"""Small files in the exact layouts of the published datasets (made here, never downloaded).

- C-SYNTH-23M: a zip of `results/density-{d}-T-{T}.extxyz`, frames every ps with info keys
  `density`, `anneal_T`, `run_id`, `time` and per-atom `gap17_energy`, `gap17_forces`;
- C-GAP-17: one extxyz, per-structure `energy`, `config_type`, `split` (`train`/`test`), per-atom `forces`;
- C-GAP-20U: one extxyz, `config_type`, `energy`/`forces` and the U labels `energy_U`/`force_U`;
- Si-GAP-18: the silicon-testing-framework zip, `.../models/GAP/gp_iter6_sparse9k.xml.xyz` with
  `dft_energy`/`DFT_energy` and `dft_force`/`DFT_force` (the file mixes both spellings).
"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

# A NequIP model and CPU training settings small enough for tests that really train.
TINY_MODEL = {"num_layers": 1, "num_features": 4, "l_max": 1, "parity": True, "r_max": 3.0, "num_bessels": 8,
              "bessel_trainable": True, "polynomial_cutoff_p": 6, "radial_mlp_depth": 1, "radial_mlp_width": 8,
              "model_dtype": "float32"}
TINY_TRAINING = {"lr": 0.01, "batch_size": 2, "val_batch_size": 4, "max_epochs": 4, "ema_decay": 0.99,
                 "energy_weight": 4.0, "force_weight": 1.0, "accelerator": "cpu", "deterministic": True,
                 "early_stopping": {"patience": 100, "min_delta": 0.0},
                 "checkpoint_every_s": 0}    # last.ckpt every epoch: the resume tests kill after a few

SI_MEMBER = "libAtoms-silicon-testing-framework-fc252cb/models/GAP/gp_iter6_sparse9k.xml.xyz"


def random_atoms(symbol: str, n: int, length: float, rng: np.random.Generator) -> Atoms:
    return Atoms(symbol * n, positions=rng.uniform(0, length, (n, 3)), cell=[length] * 3, pbc=True)


def extxyz_text(frames: list[Atoms]) -> str:
    buffer = io.StringIO()
    ase.io.write(buffer, frames, format="extxyz")
    return buffer.getvalue()


def c_synth_trajectory(density: float, anneal_T: float, run_id: int, n_frames: int, n_atoms: int = 6,
                       seed: int = 0) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    frames = []
    for time in range(n_frames):
        atoms = random_atoms("C", n_atoms, 5.0, rng)
        atoms.info.update(density=density, anneal_T=anneal_T, run_id=run_id, time=time)
        atoms.arrays["gap17_energy"] = rng.normal(-7.0, 0.1, n_atoms)
        atoms.arrays["gap17_forces"] = rng.normal(0, 1, (n_atoms, 3))
        frames.append(atoms)
    return frames


def c_synth_zip(path: Path, grid=((1.5, 2000), (2.2, 3000), (3.2, 2500)), n_frames: int = 14) -> Path:
    """A carbon-data-v1.0.zip look-alike: one trajectory per (density, temperature)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("carbon-data/README.md", "C-SYNTH-23M look-alike for tests\n")
        for run_id, (density, temperature) in enumerate(grid):
            frames = c_synth_trajectory(density, temperature, run_id, n_frames, seed=run_id)
            archive.writestr(f"carbon-data/results/density-{density:g}-T-{temperature:g}.extxyz",
                             extxyz_text(frames))
    return path


def c_gap_17(path: Path, n_train: int = 30, n_test: int = 8, n_dimers: int = 3) -> Path:
    rng = np.random.default_rng(17)
    frames = []
    for i in range(n_train + n_test + n_dimers):
        if i < n_dimers:
            atoms = Atoms("C2", positions=[[0, 0, 0], [0, 0, 1.0 + 0.2 * i]], cell=[20] * 3, pbc=True)
            atoms.info.update(config_type="dimer", split="train")
        else:
            atoms = random_atoms("C", 4 + i % 3, 6.0, rng)
            atoms.info.update(config_type="bulk_amo", split="test" if i >= n_dimers + n_train else "train")
        atoms.info["energy"] = -148.314002 * len(atoms) - 7.0 * len(atoms) + 0.01 * i
        atoms.arrays["forces"] = rng.normal(0, 1, (len(atoms), 3))
        frames.append(atoms)
    path.write_text(extxyz_text(frames))
    return path


def c_gap_20u(path: Path, n_cnt: int = 20, n_other: int = 10) -> Path:
    rng = np.random.default_rng(20)
    frames = []
    for i in range(n_cnt + n_other):
        atoms = random_atoms("C", 5, 7.0, rng)
        kind = ("Nanotubes", "Fullerenes")[i % 2] if i < n_cnt else "Graphite"
        atoms.info.update(config_type=kind, energy=-1000.0 - i, energy_U=-7.5 * len(atoms) + 0.1 * i)
        atoms.arrays["forces"] = np.full((len(atoms), 3), 99.0)
        atoms.arrays["force_U"] = rng.normal(0, 1, (len(atoms), 3))
        frames.append(atoms)
    path.write_text(extxyz_text(frames))
    return path


def si_gap_18_zip(path: Path, n: int = 24) -> Path:
    """Structures 0 (a free atom) and 1 (one atom 7 A away from the rest) must be dropped."""
    rng = np.random.default_rng(18)
    frames = []
    for i in range(n):
        if i == 0:
            atoms = Atoms("Si", positions=[[0, 0, 0]], cell=[20] * 3, pbc=True)
        elif i == 1:
            atoms = Atoms("Si3", positions=[[0, 0, 0], [2.3, 0, 0], [9.3, 0, 0]], cell=[30] * 3, pbc=False)
        else:
            atoms = random_atoms("Si", 4, 6.0, rng)
        upper = i % 2 == 0  # the real file mixes both spellings
        atoms.info["DFT_energy" if upper else "dft_energy"] = -158.54496821 * len(atoms) - 4.5 * len(atoms) + 0.01 * i
        atoms.arrays["DFT_force" if upper else "dft_force"] = rng.normal(0, 1, (len(atoms), 3))
        atoms.info["config_type"] = "isolated_atom" if i == 0 else "liq"
        frames.append(atoms)
    text = "".join(extxyz_text([atoms]) for atoms in frames)  # per-frame headers, as in the file
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("libAtoms-silicon-testing-framework-fc252cb/README.md", "look-alike\n")
        archive.writestr(SI_MEMBER, text)
    return path


def lcbop_training_split(folder: Path, n_train: int, n_val: int, repeat=(1, 1, 1)) -> Path:
    """train.extxyz + val.extxyz in `folder`: rattled diamond cells labelled by LCBOP (LAMMPS),
    energies referenced to the isolated atom, as the workflow writes labels."""
    from ase.build import bulk

    from synpretrain import labellers
    from synpretrain.labelling import isolated_atom_energies, label

    calc = labellers.make_calculator("lammps", {"pair_style": "lcbop", "potential": "C.lcbop"})
    frames = []
    for i in range(n_train + n_val):
        atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat(repeat)
        atoms.rattle(0.1, seed=i)
        frames.append(atoms)
    labelled = label(frames, calc, isolated_atom_energies(calc, ["C"])).frames
    ase.io.write(folder / "train.extxyz", labelled[:n_train], format="extxyz")
    ase.io.write(folder / "val.extxyz", labelled[n_train:], format="extxyz")
    return folder
