"""Snakemake script: the first n structures of a labelled training split (nested subsets)."""
from synpretrain.io import read_extxyz, read_json, write_extxyz
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    n = int(snakemake.wildcards.n)
    summary = read_json(snakemake.input.summary)  # a labeller's summary, or split.json for `reference`
    available = summary["n_labelled"] if "n_labelled" in summary else summary["counts"]["train"]
    if available < n:
        raise ValueError(f"{snakemake.input.frames} holds {available} labelled training structures, fewer "
                         f"than the {n} asked for: lower the size in the config (experiments.*.sizes / "
                         "pretrain_sizes) or make the dataset larger")
    write_extxyz(snakemake.output[0], read_extxyz(snakemake.input.frames, index=f":{n}"))
    print(f"wrote the first {n} of {available} training structures")
