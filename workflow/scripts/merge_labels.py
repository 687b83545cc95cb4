"""Snakemake script: concatenate labelled chunks in order and sum up what was dropped."""
from synpretrain.io import read_extxyz, read_json, write_extxyz, write_json
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    frames = [atoms for path in snakemake.input.frames for atoms in read_extxyz(path)]
    summaries = [read_json(path) for path in snakemake.input.summaries]
    dropped = [d for s in summaries for d in s["dropped"]]
    write_extxyz(snakemake.output.frames, frames)
    write_json(snakemake.output.summary, {
        "labeller": summaries[0]["labeller"], "e_iso": summaries[0]["e_iso"],
        "n_input": sum(s["n_input"] for s in summaries), "n_labelled": len(frames),
        "n_dropped": len(dropped), "dropped": dropped})
    print(f"{len(frames)} labelled structures, {len(dropped)} dropped")
