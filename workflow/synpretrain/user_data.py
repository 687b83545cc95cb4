"""A user's own DFT data: extxyz files -> filter -> check -> split -> energy reference.

One config block points the workflow at a new material.  Its keys (all optional):

- `energy_key` ("energy"), `forces_key` ("forces"): where the labels are.  The energy is read from
  `atoms.info[energy_key]`, else from the calculator results (`atoms.calc.results[energy_key]`);
  the forces from `atoms.arrays[forces_key]`, else `atoms.calc.results[forces_key]`.  **info/arrays
  win** over the calculator.  ASE's extxyz reader (3.29) moves the standard `energy` and `forces`
  columns into a SinglePointCalculator, so for the default keys the calculator is what holds them;
  custom keys (`dft_energy`, `dft_forces`) stay in info/arrays.
- `filter`: {info key: [allowed values]}; a frame without the key or with another value is dropped
  (counted per key, the first key a frame fails).
- `element`: the allowed element symbols (the dataset's `element`); a frame with another element is
  an error.
- `split_key`: an info key holding `train`/`test` (or `train`/`val`/`test`) on every frame.  Without
  `val`, validation is taken from the shuffled train part as for flagged sets (`split.val_size`,
  default the rule min(N_train//10, 100)); with `val`, the given parts are kept as they are.  Without
  `split_key`: the protocol's random split (`split.test_size`, else `split.test_fraction` of N, else
  the rule min(1000, N//10); `split.val_size`, else the rule).  `split.seed` defaults to SHUFFLE_SEED.
  The train part is always in shuffled order, so the first n training structures are nested.
- `energy_reference`: {symbol: E0 in eV}; absent (or null) or "fit": E0 fitted by least squares of the
  total energy on the element counts of the *training* split only; {} uses the energies as they are.
  Stored energy = E - sum_i E0(Z_i); forces are never changed.
- `keep_info`: info keys copied to the output frames (default `config_type`, the `split_key` and the
  `filter` keys); every frame also gets `source_file` and `source_index` (its index in that file).

Frames come out as `datasets.labelled` writes them (`io.with_labels`: a SinglePointCalculator with
`energy` and `forces`, written by `io.write_extxyz` as the `energy` info key and `forces` column), so
the rest of the workflow reads them unchanged.  Every error is a ValueError naming the file, the
structure's index in that file and the config key involved.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
from ase import Atoms

from .acquire import sha256
from .io import read_extxyz, with_labels
from .splits import SHUFFLE_SEED, Split, default_val_size, flagged_split, random_split, shuffled

EXTENSIONS = (".extxyz", ".xyz")
SPLIT_VALUES = ("train", "val", "test")


def extxyz_files(path: str | os.PathLike) -> list[Path]:
    """The sorted *.extxyz / *.xyz files of a folder, or [path] for a file."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in EXTENSIONS)
        if not files:
            raise ValueError(f"{path}: folder holds no {' or '.join('*' + e for e in EXTENSIONS)} files")
        return files
    if not path.is_file():
        raise ValueError(f"{path}: no such file or folder")
    return [path]


# --- one frame ----------------------------------------------------------------------------------

def passes(info: dict, filters: dict) -> str | None:
    """The first `filter` key the frame fails (missing or not an allowed value), else None."""
    for key, allowed in filters.items():
        allowed = allowed if isinstance(allowed, (list, tuple, set)) else [allowed]
        if key not in info or info[key] not in allowed:
            return key
    return None


def _label(atoms: Atoms, store: dict, key: str, what: str, config_key: str, where: str):
    """`store[key]` (atoms.info or atoms.arrays), else the calculator's result `key`."""
    if key in store:
        return store[key]
    if atoms.calc is not None and key in atoms.calc.results:
        return atoms.calc.results[key]
    kind = "info key" if store is atoms.info else "per-atom array"
    results = sorted(atoms.calc.results) if atoms.calc is not None else []
    present = ", ".join(sorted(store) + [f"{r} (calculator)" for r in results if r not in store]) or "none"
    raise ValueError(f"{where} has no {what}: no {kind} or calculator result {key!r} (config key "
                     f"`{config_key}`; present: {present})")


def energy_label(atoms: Atoms, key: str, where: str) -> float:
    """`atoms.info[key]`, else the calculator's result `key`; finite."""
    value = _label(atoms, atoms.info, key, "energy label", "energy_key", where)
    try:
        energy = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: energy {key!r} = {value!r} is not a number (config key `energy_key`)") from None
    if not np.isfinite(energy):
        raise ValueError(f"{where}: energy {key!r} is {energy} (config key `energy_key`)")
    return energy


def forces_label(atoms: Atoms, key: str, where: str) -> np.ndarray:
    """`atoms.arrays[key]`, else the calculator's result `key`; shape (n_atoms, 3), finite."""
    forces = np.asarray(_label(atoms, atoms.arrays, key, "forces", "forces_key", where), dtype=float)
    if forces.shape != (len(atoms), 3):
        raise ValueError(f"{where}: forces {key!r} have shape {forces.shape}, expected ({len(atoms)}, 3) "
                         "(config key `forces_key`)")
    if not np.isfinite(forces).all():
        raise ValueError(f"{where}: forces {key!r} contain NaN or inf (config key `forces_key`)")
    return forces


def frame_labels(atoms: Atoms, spec: dict, where: str) -> tuple[float, np.ndarray]:
    """(energy, forces) of one structure that passed the filter, after the checks of the module
    docstring: elements within `element`, the `split_key` present, finite labels of the right shape."""
    allowed = spec.get("element")
    if allowed is not None:
        allowed = {allowed} if isinstance(allowed, str) else set(allowed)
        other = sorted(set(atoms.get_chemical_symbols()) - allowed)
        if other:
            raise ValueError(f"{where} contains element(s) {other}, not in `element` {sorted(allowed)}")
    split_key = spec.get("split_key")
    if split_key and split_key not in atoms.info:
        raise ValueError(f"{where} has no info key {split_key!r} (config key `split_key`)")
    return (energy_label(atoms, spec.get("energy_key", "energy"), where),
            forces_label(atoms, spec.get("forces_key", "forces"), where))


def nothing_left(files: Sequence, n_read: int, filters: dict, dropped: Counter) -> str:
    """Why a reader kept no structure: empty files, or what `filter` dropped."""
    names = ", ".join(map(str, files))
    if n_read == 0:
        return f"{names}: empty (holds no structures)"
    return (f"{names}: no structures left of {n_read} read: `filter` {filters} dropped them all "
            f"(per key: {dict(dropped)})")


def check_files(path: str | os.PathLike, spec: dict) -> list[str]:
    """What `read_user_dataset` would stop on, one line per kind of problem (its first structure
    and how many more): read before any job runs.  An empty list: the data can be read."""
    from .input_files import resolve

    try:
        files = extxyz_files(resolve(path))
    except ValueError as error:
        return [str(error)]
    filters = spec.get("filter") or {}
    first, count, dropped, n_read, n_kept = {}, Counter(), Counter(), 0, 0
    for file in files:
        try:
            frames = read_extxyz(file)
        except Exception as error:  # a syntax error: ASE names the line
            first.setdefault(("read", file), f"{file}: cannot be read as extxyz: {error}")
            count[("read", file)] += 1
            continue
        n_read += len(frames)
        if not frames:
            first.setdefault(("empty", file), f"{file}: empty (holds no structures)")
            count[("empty", file)] += 1
        for i, atoms in enumerate(frames):
            failed = passes(atoms.info, filters)
            if failed is not None:
                dropped[failed] += 1
                continue
            n_kept += 1
            where = f"{file}: structure {i}"
            try:
                frame_labels(atoms, spec, where)
            except ValueError as error:
                key = (str(error).replace(where, ""), file)  # the problem, without the place
                first.setdefault(key, str(error))
                count[key] += 1
    lines = [first[key] + (f" (and {count[key] - 1} more structures)" if count[key] > 1 else "") for key in first]
    if not lines and n_kept == 0:
        lines.append(nothing_left(files, n_read, filters, dropped))
    return lines


# --- splits and energy reference ----------------------------------------------------------------

def split_from_key(values: Sequence[str], key: str, where: Sequence[str], options: dict,
                   name: str) -> tuple[Split, str]:
    """Parts from the `split_key` values (see the module docstring); `where` names each structure,
    `name` the files."""
    for value, place in zip(values, where):
        if value not in SPLIT_VALUES:
            raise ValueError(f"{place} has {key}={value!r}, expected one of {list(SPLIT_VALUES)} "
                             "(config key `split_key`)")
    values = np.asarray(values, dtype=object)
    for needed in ("train", "test"):
        if not (values == needed).any():
            raise ValueError(f"{name}: no structure has {key}={needed!r} "
                             "(config key `split_key`)")
    seed = options.get("seed", SHUFFLE_SEED)
    if (values == "val").any():
        split = Split(train=shuffled(np.flatnonzero(values == "train"), seed),
                      val=np.flatnonzero(values == "val"), test=np.flatnonzero(values == "test"))
        return split, f"split_key {key!r} (train/val/test as given)"
    is_test = values == "test"
    val_size = options.get("val_size")
    val_size = default_val_size(int((~is_test).sum())) if val_size is None else int(val_size)
    return (flagged_split(is_test, seed=seed, val_size=val_size),
            f"split_key {key!r} (train/test as given; validation from the shuffled train part)")


def random_parts(n: int, options: dict) -> tuple[Split, str]:
    """The protocol's random split; `test_size`, else `test_fraction` of n, else the rule."""
    test_size = options.get("test_size")
    if test_size is None and options.get("test_fraction") is not None:
        test_size = int(round(options["test_fraction"] * n))
    return (random_split(n, seed=options.get("seed", SHUFFLE_SEED), test_size=test_size,
                         val_size=options.get("val_size")), "random")


def fit_e0(symbols: Sequence[Sequence[str]], energies: Sequence[float], train: np.ndarray,
           files: Sequence[str]) -> tuple[dict[str, float], float]:
    """Least-squares E0 per element from the training structures' total energies and element
    counts; returns (E0, RMS residual per atom).  Ill-posed fits are errors."""
    elements = sorted({s for frame in symbols for s in frame})
    counts = np.array([[Counter(symbols[i])[e] for e in elements] for i in train], dtype=float)
    target = np.asarray(energies, dtype=float)[train]
    advice = "give `energy_reference` {symbol: E0 in eV} in the config instead of fitting it"
    if len(train) < len(elements):
        raise ValueError(f"{', '.join(files)}: cannot fit `energy_reference` for {elements} from "
                         f"{len(train)} training structure(s): fewer than elements; {advice}")
    rank = np.linalg.matrix_rank(counts)
    if rank < len(elements):
        absent = [e for e, column in zip(elements, counts.T) if not column.any()]
        why = (f"{absent} never occur in the training split" if absent else
               "the training compositions do not determine them (e.g. all in the same ratio)")
        raise ValueError(f"{', '.join(files)}: cannot fit `energy_reference` for {elements}: the element "
                         f"counts of the training split are rank-deficient (rank {rank} < {len(elements)}), "
                         f"{why}; {advice}")
    e0, *_ = np.linalg.lstsq(counts, target, rcond=None)
    rms = float(np.sqrt(np.mean(((target - counts @ e0) / counts.sum(axis=1)) ** 2)))
    return {e: float(v) for e, v in zip(elements, e0)}, rms


# --- entry point --------------------------------------------------------------------------------

def read_user_dataset(paths: Sequence[str | os.PathLike], spec: dict) -> tuple[list[Atoms], Split, dict]:
    """Read, filter, check, split and reference a user's extxyz files (keys: module docstring).

    Returns (frames, split, provenance); provenance has the files with their SHA-256 and frame
    counts, n_read, n_kept, dropped_by_filter, the E0 used and whether it was fitted, and the split."""
    filters, split_key = spec.get("filter") or {}, spec.get("split_key")
    keep_info = spec.get("keep_info", ["config_type", *([split_key] if split_key else []), *filters])
    files = [f for path in ([paths] if isinstance(paths, (str, os.PathLike)) else paths) for f in extxyz_files(path)]

    kept, dropped, file_records = [], Counter(), []
    for path in files:
        raw = read_extxyz(path)
        file_records.append({"path": str(path), "sha256": sha256(path), "n_read": len(raw)})
        for i, atoms in enumerate(raw):
            failed = passes(atoms.info, filters)
            if failed is not None:
                dropped[failed] += 1
                continue
            where = f"{path}: structure {i}"
            kept.append((where, path, i, atoms, *frame_labels(atoms, spec, where)))
    n_read = sum(r["n_read"] for r in file_records)
    if not kept:
        raise ValueError(nothing_left(files, n_read, filters, dropped))

    where = [k[0] for k in kept]
    symbols = [k[3].get_chemical_symbols() for k in kept]
    energies = [k[4] for k in kept]
    options = spec.get("split") or {}
    if split_key:
        split, method = split_from_key([k[3].info[split_key] for k in kept], split_key, where, options,
                                       ", ".join(map(str, files)))
    else:
        split, method = random_parts(len(kept), options)

    reference, fitted, rms = spec.get("energy_reference"), False, None
    if reference is None or reference == "fit":
        reference, rms = fit_e0(symbols, energies, split.train, [str(f) for f in files])
        fitted = True
    for place, frame in zip(where, symbols):
        missing = sorted(set(frame) - set(reference)) if reference else []
        if missing:
            raise ValueError(f"{place} contains element(s) {missing} with no E0 in `energy_reference`")

    frames = []
    for (_, path, i, atoms, energy, forces), frame in zip(kept, symbols):
        e_ref = sum(reference[s] for s in frame) if reference else 0.0
        info = {k: atoms.info[k] for k in keep_info if k in atoms.info}
        out = with_labels(atoms, energy - e_ref, forces, {**info, "source_file": str(path), "source_index": i})
        frames.append(out)
    provenance = {"files": file_records, "n_read": n_read, "n_kept": len(frames),
                  "dropped_by_filter": dict(dropped), "energy_reference": dict(reference),
                  "energy_reference_fitted": fitted, "split_method": method,
                  "counts": {k: int(len(v)) for k, v in split.as_dict().items()}}
    if fitted:
        provenance["energy_reference_fit_rms_per_atom"] = rms
    return frames, split, provenance
