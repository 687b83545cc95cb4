"""Benchmark: parse + filter + split a C-SYNTH-23M-sized zip (not a test; run by hand).

    .venv/bin/python tests/benchmarks/bench_c_synth_parse.py [--files 546] [--frames 210] [--atoms 200]

Writes a zip in the published layout (546 `results/density-{d}-T-{T}.extxyz` files x 210 frames
x 200 atoms with per-atom `gap17_energy` and `gap17_forces`; ~23M atoms), then times
`synpretrain.datasets.split_trajectories` on it and reports wall time and peak memory (RSS).
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from synpretrain.datasets import split_trajectories, zip_streams


def frame_text(rng: np.random.Generator, n_atoms: int, density: float, anneal_T: float, run_id: int,
               t: int) -> str:
    length = 11.0
    head = (f'{n_atoms}\nLattice="{length} 0.0 0.0 0.0 {length} 0.0 0.0 0.0 {length}" '
            "Properties=species:S:1:pos:R:3:gap17_energy:R:1:gap17_forces:R:3 "
            f'density={density} anneal_T={anneal_T} run_id={run_id} time={t} pbc="T T T"\n')
    values = np.column_stack([rng.uniform(0, length, (n_atoms, 3)), rng.normal(-7, 0.1, n_atoms),
                              rng.normal(0, 1, (n_atoms, 3))])
    body = "\n".join("C " + " ".join(f"{v:.8f}" for v in row) for row in values)
    return head + body + "\n"


def make_zip(path: Path, n_files: int, n_frames: int, n_atoms: int) -> None:
    rng = np.random.default_rng(0)
    densities = np.round(np.linspace(1.0, 3.5, 26), 1)
    temperatures = np.linspace(2000, 4000, 21)
    grid = [(d, t) for d in densities for t in temperatures][:n_files]
    # One trajectory's text is reused for every file (with its own header keys) to keep the
    # set-up short; the parser cannot tell.
    template = [frame_text(rng, n_atoms, 0.0, 0.0, 0, t) for t in range(n_frames)]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for run_id, (d, temp) in enumerate(grid):
            text = "".join(f.replace("density=0.0 anneal_T=0.0 run_id=0",
                                     f"density={d:g} anneal_T={temp:g} run_id={run_id}") for f in template)
            archive.writestr(f"results/density-{d:g}-T-{temp:g}.extxyz", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=546)
    parser.add_argument("--frames", type=int, default=210)
    parser.add_argument("--atoms", type=int, default=200)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        archive = tmp / "carbon-data-v1.0.zip"
        start = time.perf_counter()
        make_zip(archive, args.files, args.frames, args.atoms)
        print(f"made {archive.stat().st_size / 1e9:.2f} GB zip ({args.files} x {args.frames} x {args.atoms}) "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
        outputs = {name: tmp / f"{name}.extxyz" for name in ("train", "val", "test")}
        start = time.perf_counter()
        summary = split_trajectories(zip_streams(archive), outputs, min_time=10)  # PROTOCOL sizes: 1000 / 100 at full scale
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"parse + filter + split: {seconds:.0f} s, {summary['n_frames_read']} frames read, "
              f"{summary['n_kept']} kept ({summary['n_atoms_kept'] / 1e6:.1f}M atoms), "
              f"counts {summary['counts']}, peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
