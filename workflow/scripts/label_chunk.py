"""Snakemake script: label one chunk of a split with one labeller."""
import numpy as np

from synpretrain import labellers
from synpretrain.io import read_extxyz, write_extxyz, write_json
from synpretrain.labelling import isolated_atom_energies, label
from synpretrain.runlog import progress, rule_log

with rule_log(snakemake.log[0], snakemake.threads) as log:
    options = dict(snakemake.params.options)
    name = snakemake.wildcards.labeller
    chunk, n_chunks = int(snakemake.wildcards.chunk), int(snakemake.params.n_chunks)
    frames = read_extxyz(snakemake.input[0])
    bounds = np.linspace(0, len(frames), n_chunks + 1).astype(int)
    start, stop = bounds[chunk], bounds[chunk + 1]
    print(f"labeller {name} ({options['type']}): structures {start}..{stop - 1} of {len(frames)}", flush=True)
    calc = labellers.make_calculator(options["type"], options)
    symbols = {s for atoms in frames for s in atoms.get_chemical_symbols()}
    e_iso = isolated_atom_energies(calc, symbols)
    print(f"isolated-atom energies (eV): {e_iso}", flush=True)
    bar = progress(stop - start, f"labelling with {name}", log)
    result = label(frames[start:stop], calc, e_iso, first_index=start, progress=bar)
    bar.close()
    for drop in result.dropped:
        print(f"DROPPED structure {drop['index']}: {drop['reason']}", flush=True)
    print(f"labelled {len(result.frames)}, dropped {len(result.dropped)}", flush=True)
    write_extxyz(snakemake.output.frames, result.frames)
    write_json(snakemake.output.summary, {**result.summary(), "labeller": name, "n_input": int(stop - start)})
