"""Snakemake script: the first n structures of a labelled training split."""
from synpretrain.io import read_extxyz, write_extxyz
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    n = int(snakemake.wildcards.n)
    frames = read_extxyz(snakemake.input[0])
    if len(frames) < n:
        raise ValueError(f"{snakemake.input[0]} holds {len(frames)} labelled training structures, "
                         f"fewer than the {n} asked for: lower the size in the config "
                         "(targets.*.sizes / pretrain.sizes) or make the dataset larger")
    write_extxyz(snakemake.output[0], frames[:n])
    print(f"wrote the first {n} of {len(frames)} training structures")
