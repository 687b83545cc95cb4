"""Atomic file output and extxyz helpers.

Every output a rule produces is written to a temporary file in the same folder and moved into
place with `os.replace`, so an interrupted job never leaves a half-written file that Snakemake
(or a user) could take as finished.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

import ase.io
import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator


UMASK = os.umask(0)
os.umask(UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; move it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes 0600; outputs get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_extxyz(path: str | os.PathLike, frames: Iterable[Atoms]) -> int:
    """Write frames as extended XYZ atomically; return how many were written."""
    frames = list(frames)
    with atomic_path(path, suffix=".extxyz") as tmp:
        ase.io.write(tmp, frames, format="extxyz")
    return len(frames)


def read_extxyz(path: str | os.PathLike, index: str = ":") -> list[Atoms]:
    """Read every frame of an extxyz file (an empty file is an empty list)."""
    if Path(path).stat().st_size == 0:
        return []
    return ase.io.read(path, index=index, format="extxyz")


def concatenate(parts: Iterable[str | os.PathLike], path: str | os.PathLike) -> None:
    """Join extxyz files into one, atomically, as bytes (a concatenation of extxyz is extxyz)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)


def count_frames(path: str | os.PathLike) -> int:
    """Frames in an extxyz file, counted from its headers without building Atoms."""
    from .extxyz_stream import blocks

    with open(path, "rb") as stream:
        return sum(1 for _ in blocks(stream, str(path)))


def json_safe(data):
    """`data` as valid JSON holds it: a NaN or infinite number becomes null (JSON has no NaN;
    Python's json writes a bare `NaN` that other readers reject), numpy scalars plain numbers."""
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(value) for value in data]
    if isinstance(data, (float, np.floating)):
        return float(data) if np.isfinite(data) else None
    if isinstance(data, np.integer):
        return int(data)
    if isinstance(data, np.bool_):
        return bool(data)
    return data


def write_json(path: str | os.PathLike, data) -> None:
    """`data` as JSON, atomically; NaN and infinities written as null (`json_safe`)."""
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_json(path: str | os.PathLike):
    return json.loads(Path(path).read_text())


def with_labels(atoms: Atoms, energy: float, forces, info: dict | None = None) -> Atoms:
    """A bare copy of `atoms` (species, positions, cell, pbc) carrying `energy` and `forces` as
    its single-point results and `info` (default: a copy of atoms.info); no other per-atom arrays
    travel along (e.g. C-SYNTH's gap17_energy columns)."""
    bare = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
    bare.info.update(dict(atoms.info) if info is None else info)
    bare.calc = SinglePointCalculator(bare, energy=float(energy), forces=np.asarray(forces, dtype=float))
    return bare
