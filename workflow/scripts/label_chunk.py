"""Snakemake script: label one chunk of a split with one labeller (absolute caps applied here)."""
from synpretrain import label_gates, labellers
from synpretrain.io import read_extxyz, read_json, write_extxyz, write_json
from synpretrain.labelling import chunk_bounds, isolated_atom_energies, label
from synpretrain.runlog import progress, rule_log

if "snakemake" not in globals():  # run by hand: python workflow/scripts/label_chunk.py dataset=c-synth labeller=lcbop split=val chunk=0
    from synpretrain.mock import script_main

    snakemake = script_main("label_chunk")

with rule_log(snakemake.log[0], snakemake.threads) as log:
    options = dict(snakemake.params.options)
    if snakemake.input.get("potential"):
        options["path"] = snakemake.input.potential
    name, split = snakemake.wildcards.labeller, snakemake.wildcards.split
    n_total = read_json(snakemake.input.counts)["counts"][split]
    start, stop = chunk_bounds(n_total, int(snakemake.params.n_chunks), int(snakemake.wildcards.chunk))
    print(f"labeller {name} ({options['type']}): structures {start}..{stop - 1} of {n_total}", flush=True)
    gates = label_gates.settings(name, options)
    calc = labellers.make_calculator(options["type"], options)
    if getattr(calc, "backend", None):
        print(f"backend: {calc.backend}", flush=True)
    frames = read_extxyz(snakemake.input.frames, index=f"{start}:{stop}") if stop > start else []
    symbols = {s for atoms in frames for s in atoms.get_chemical_symbols()}
    e_iso = isolated_atom_energies(calc, symbols)
    print(f"isolated-atom energies (eV): {e_iso}", flush=True)
    bar = progress(stop - start, f"labelling with {name}", log)
    result = label(frames, calc, e_iso, first_index=start, progress=bar, gates=gates)
    bar.close()
    for drop in result.dropped:
        print(f"DROPPED structure {drop['index']}: {drop['reason']}", flush=True)
    print(f"labelled {len(result.frames)}, dropped {len(result.dropped)} {result.summary()['drop_counts']}", flush=True)
    label_gates.check_drop_fraction(
        f"labeller {name}, dataset {snakemake.wildcards.dataset}, split {split}, chunk {snakemake.wildcards.chunk} "
        f"(structures {start}..{stop - 1})", name, stop - start, result.dropped, gates, result.kept)
    write_extxyz(snakemake.output.frames, result.frames)
    write_json(snakemake.output.summary, {**result.summary(), "labeller": name, "n_input": stop - start,
                                          "backend": getattr(calc, "backend", options["type"])})
