"""Evaluate a packaged NequIP model on a labelled test set through its ASE calculator."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from ase import Atoms

from .acquire import sha256
from .io import atomic_path
from .metrics import force_component_rmse, per_atom_energy_rmse_mev


def load_calculator(package: str | Path, device: str = "cpu"):
    """The NequIP ASE calculator of a `nequip-package` zip (eager mode: no compilation)."""
    from nequip.integrations.ase import NequIPCalculator

    return NequIPCalculator._from_saved_model(str(package), device=device, chemical_species_to_atom_type_map=True)


MD_ENGINES = ("torch", "eager", "openequivariance", "aotinductor")


def default_device() -> str:
    import torch  # imported late: CUDA must not start before a GPU has been chosen

    return "cuda" if torch.cuda.is_available() else "cpu"


def compile_for_ase(package: str | Path, output: str | Path, device: str, log=None) -> Path:
    """`nequip-compile --mode aotinductor --target ase` of a package, into `output` (a
    `.nequip.pt2`, kept next to the MD outputs: compiling takes a minute or two, MD hours).
    AOTInductor compiles for the device (and GPU model) it runs on."""
    from nequip.scripts.compile import main as nequip_compile

    output = Path(output)
    if not output.exists():
        with atomic_path(output, suffix=".nequip.pt2") as tmp:
            args = [str(package), str(tmp), "--mode", "aotinductor", "--device", device, "--target", "ase"]
            if log is not None:
                log.write(f"$ nequip-compile {' '.join(args)}\n")
                log.flush()
            nequip_compile(args)
    return output


def md_engine(package: str | Path, engine: str, work_dir: str | Path, log=None, compiled: bool | str | None = "auto",
              kernel: str = "auto"):
    """What an MD run steps with (`md_stability.run`; docs/cost.md has the speeds):
    `torch`            the whole state on the model's device, BAOAB Langevin, a CUDA graph per step on
                       a GPU (`md_device`); the model with OpenEquivariance kernels where usable;
    `eager`            ASE's Langevin around the package's ASE calculator;
    `openequivariance` the same, with NequIP's fused OpenEquivariance tensor products (CUDA);
    `aotinductor`      the same, `nequip-compile --mode aotinductor` first (cached next to the MD outputs).
    `compiled` (`md.compile`; torch only): the model compiled by Inductor for the run's fixed shapes,
    `auto` where CUDA graphs replay it.  `kernel` (torch, openequivariance): `auto` (OpenEquivariance
    where usable) or `e3nn`.  Returns (engine, description)."""
    from .md_device import DeviceEngine
    from .md_stability import AseEngine
    from .nequip_models import OPENEQUIVARIANCE, openequivariance_usable

    if engine not in MD_ENGINES:
        raise ValueError(f"md.engine: {engine!r} is not one of {', '.join(MD_ENGINES)}")
    if kernel not in ("auto", "e3nn"):
        raise ValueError(f"md kernel: {kernel!r} is not auto or e3nn")
    device = default_device()
    if engine == "aotinductor":
        from nequip.integrations.ase import NequIPCalculator

        compiled = compile_for_ase(package, Path(work_dir) / f"model.{sha256(package)[:12]}.{device}.nequip.pt2",
                                   device, log)
        calc = NequIPCalculator.from_compiled_model(str(compiled), device=device,
                                                    chemical_species_to_atom_type_map=True)
        return AseEngine(calc), f"aotinductor on {device}"
    calc = load_calculator(package, device)
    kernels = engine == "openequivariance" or (engine == "torch" and kernel == "auto" and openequivariance_usable())
    if kernels:
        from nequip.model import modify

        try:
            calc.model = modify(calc.model, OPENEQUIVARIANCE).to(device)
        except ModuleNotFoundError as error:  # a package made where openequivariance was not installed
            if engine != "torch":
                raise
            kernels = False
            if log is not None:
                log.write(f"OpenEquivariance kernels cannot modify this package ({error}); e3nn kernels\n")
    if engine == "torch":
        stepper = DeviceEngine(calc, log=log, compiled=None if compiled == "auto" else bool(compiled))
        return stepper, f"torch on {device}{' (OpenEquivariance)' if kernels else ''}"
    return AseEngine(calc), f"{engine} on {device}"


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


def evaluation_record(meta: dict, metrics: dict, test_file: str, training: dict) -> dict:
    """One row of the learning-curve table: which model on which test set (`meta`), the metrics,
    and the training facts the figures flag (epochs run, divergence)."""
    return {**meta, **metrics, "test_file": str(test_file),
            "epochs": training.get("epochs"), "best_epoch": training.get("best_epoch"),
            "nan_in_validation": training.get("nan_in_validation"),
            "train_wall_time_s": training.get("wall_time_s")}


def constant_predictors(e_true: np.ndarray, f_true: list[np.ndarray], n_atoms: np.ndarray) -> dict:
    """The metrics of the trivial models every trained one must beat: each structure given the
    test set's mean energy per atom (the RMSE is the spread of the per-atom energies), and zero force
    (the RMS force component)."""
    mean = np.mean(np.asarray(e_true, dtype=float) / n_atoms)
    return {"energy_rmse_mean_predictor_mev_per_atom": per_atom_energy_rmse_mev(mean * n_atoms, e_true, n_atoms),
            "force_rmse_zero_predictor_ev_per_a": force_component_rmse([np.zeros_like(f) for f in f_true], f_true)}


def evaluate(package: str | Path, frames: list[Atoms], device: str = "cpu", progress=None) -> dict:
    """Energy RMSE (meV/atom) and force component RMSE (eV/Angstrom) on `frames`, and the same
    metrics of the constant predictors (`constant_predictors`) on them."""
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
        **constant_predictors(e_true, f_true, n_atoms),
        "n_structures": int(len(frames)),
        "n_atoms": int(n_atoms.sum()),
        "finite_predictions": finite,
        "predict_seconds": round(seconds, 3),
        "seconds_per_structure": round(seconds / len(frames), 5),
    }
