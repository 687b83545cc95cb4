"""Snakemake script: concatenate labelled chunks in order, less the split's robust outliers, and sum
up what was dropped."""
from synpretrain import label_gates
from synpretrain.io import read_json, write_json
from synpretrain.labelling import merge
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    name, split = snakemake.wildcards.labeller, snakemake.wildcards.split
    gates = label_gates.settings(name, {"gates": dict(snakemake.params.gates)})
    summary = merge(snakemake.input.frames, [read_json(path) for path in snakemake.input.summaries], gates, name,
                    f"labeller {name}, dataset {snakemake.wildcards.dataset}, split {split}", snakemake.output.frames)
    print(f"robust bounds: {summary['bounds']}")
    write_json(snakemake.output.summary, summary)
    print(f"{summary['n_labelled']} labelled structures, {summary['n_dropped']} dropped {summary['drop_counts']}")
