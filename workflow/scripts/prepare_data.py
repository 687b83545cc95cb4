"""Snakemake script: one labelled extxyz file as a NequIP LMDB dataset at one cut-off."""
from synpretrain.io import count_frames
from synpretrain.prepared_data import prepare
from synpretrain.runlog import progress, rule_log

with rule_log(snakemake.log[0], snakemake.threads) as log:
    bar = progress(count_frames(snakemake.input[0]), "structures", log)
    n = prepare(snakemake.input[0], snakemake.output[0], list(snakemake.params.symbols),
                float(snakemake.wildcards.rmax), progress=bar)
    bar.close()
    print(f"{n} structures, types {list(snakemake.params.symbols)}, neighbour lists within {snakemake.wildcards.rmax} Å")
