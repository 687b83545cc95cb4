"""Snakemake script: one labelled extxyz file as a NequIP LMDB dataset at one cut-off
(`synpretrain.prepared_data`, forked from the warm server where it can)."""
from synpretrain.runlog import rule_log
from synpretrain.warm import exit_reason, run_module

with rule_log(snakemake.log[0], snakemake.threads) as log:
    args = [snakemake.input[0], snakemake.output[0], snakemake.wildcards.rmax, *snakemake.params.symbols]
    code = run_module("synpretrain.prepared_data", args, log, threads=snakemake.threads,
                      warm=snakemake.config["resources"]["warm_start"])
    if code != 0:
        raise RuntimeError(f"preparing {snakemake.input[0]} {exit_reason(code)}; see the log above")
