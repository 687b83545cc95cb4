"""Snakemake script: concatenate labelled chunks in order and sum up what was dropped."""
from synpretrain.io import concatenate, read_json, write_json
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    concatenate(snakemake.input.frames, snakemake.output.frames)
    summaries = [read_json(path) for path in snakemake.input.summaries]
    dropped = [d for s in summaries for d in s["dropped"]]
    e_iso = {k: v for s in summaries for k, v in s["e_iso"].items()}
    summary = {"labeller": summaries[0]["labeller"], "backend": summaries[0].get("backend"), "e_iso": e_iso,
               "n_input": sum(s["n_input"] for s in summaries),
               "n_labelled": sum(s["n_labelled"] for s in summaries),
               "n_dropped": len(dropped), "dropped": dropped}
    write_json(snakemake.output.summary, summary)
    print(f"{summary['n_labelled']} labelled structures, {len(dropped)} dropped")
