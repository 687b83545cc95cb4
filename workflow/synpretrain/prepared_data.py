"""Training data prepared once: NequIP's LMDB dataset with types and neighbour lists stored.

Read from extxyz, NequIP maps species to types and builds each structure's neighbour list on
every access, in every epoch (`NeighborListTransform`); for the paper's 200-atom cells that, not
the GPU, bounds a training job's speed.  `prepare` applies both transforms once, in float64 as
NequIP itself reads data, and writes the result with NequIP's own `NequIPLMDBDataset` writer; a
training config then reads it with no transform at all (`nequip_config.training_data`).

A neighbour list holds the edges within `r_max`, so a prepared file belongs to one cut-off: its
name says which (`prepared_file`).

The `prepare_data` rule runs this module (`python -m synpretrain.prepared_data`), forked from the
warm server where it can (`synpretrain.warm`): importing torch and NequIP is most of such a job
(~7 of its ~9 s on 2 cores for a training file of a few structures).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import ase.io

from .io import atomic_path

SUFFIX = ".lmdb"


def prepared_file(extxyz: str, r_max: float | str) -> str:
    """`labels/x/train_n10.extxyz` at r_max 4 -> `labels/x/train_n10.r4.lmdb` (a wildcard such
    as "{rmax}" for r_max gives the rule's pattern)."""
    stem = extxyz[: -len(".extxyz")] if extxyz.endswith(".extxyz") else extxyz
    cutoff = r_max if isinstance(r_max, str) and r_max.startswith("{") else f"{float(r_max):g}"
    return f"{stem}.r{cutoff}{SUFFIX}"


def _shrink(path: Path) -> None:
    """Cut an LMDB file written with `writemap` (as long as its map_size) to the pages it uses."""
    import lmdb

    env = lmdb.open(str(path), subdir=False, readonly=True, lock=False)
    used = (env.info()["last_pgno"] + 1) * env.stat()["psize"]
    env.close()
    os.truncate(path, used)


def prepare(extxyz: str | os.PathLike, output: str | os.PathLike, type_names: list[str], r_max: float,
            progress=None) -> int:
    """Write `extxyz` as a NequIP LMDB dataset with atom types and neighbour lists within
    `r_max`; return the number of structures.  The file appears only when complete."""
    import torch
    from nequip.data import from_ase
    from nequip.data.dataset import NequIPLMDBDataset
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

    extxyz, output = Path(extxyz), Path(output)
    transforms = [ChemicalSpeciesToAtomTypeMapper(model_type_names=list(type_names),
                                                  chemical_species_to_atom_type_map={s: s for s in type_names}),
                  NeighborListTransform(r_max=float(r_max))]
    count = 0
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # NequIP keeps data in float64 whatever the model's dtype

    def items():
        nonlocal count
        for index, atoms in enumerate(ase.io.iread(extxyz, format="extxyz")):  # one at a time
            unknown = set(atoms.get_chemical_symbols()) - set(type_names)
            if unknown:
                raise ValueError(f"{extxyz}: structure {index} has elements {sorted(unknown)} that are not "
                                 f"among the model's types {list(type_names)}")
            data = from_ase(atoms)
            for transform in transforms:
                data = transform(data)
            count += 1
            if progress is not None:
                progress.update(1)
            yield data

    try:
        # The database is a sparse file: map_size bounds it, the disk holds only what is written.
        map_size = max(1 << 30, 64 * extxyz.stat().st_size)
        with atomic_path(output, suffix=SUFFIX) as tmp:
            try:
                NequIPLMDBDataset.save_from_iterator(str(tmp), items(), map_size=map_size)
                _shrink(tmp)
            finally:
                Path(f"{tmp}-lock").unlink(missing_ok=True)
    finally:
        torch.set_default_dtype(previous)
    return count


def main(argv: list[str] | None = None) -> None:
    """`python -m synpretrain.prepared_data EXTXYZ OUTPUT R_MAX TYPE...`: `prepare`, with a
    progress bar on stderr (the rule's log)."""
    from .io import count_frames
    from .runlog import progress

    parser = argparse.ArgumentParser(prog="python -m synpretrain.prepared_data", description=main.__doc__)
    parser.add_argument("extxyz")
    parser.add_argument("output")
    parser.add_argument("r_max", type=float)
    parser.add_argument("types", nargs="+")
    args = parser.parse_args(argv)
    bar = progress(count_frames(args.extxyz), "structures", sys.stderr)
    count = prepare(args.extxyz, args.output, args.types, args.r_max, progress=bar)
    bar.close()
    print(f"{count} structures, types {args.types}, neighbour lists within {args.r_max:g} Å")


if __name__ == "__main__":
    main()
