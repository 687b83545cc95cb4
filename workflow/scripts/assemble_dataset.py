"""Snakemake script: a dataset's inputs -> filtered, split train/val/test files + split.json."""
from synpretrain.datasets import SPLITS, assemble
from synpretrain.io import write_json
from synpretrain.runlog import progress, rule_log

with rule_log(snakemake.log[0], snakemake.threads) as log:
    inputs = {key: value for key, value in snakemake.input.items()}
    outputs = {name: snakemake.output[name] for name in SPLITS}
    n_files = len(inputs.get("trajectories", [])) or None
    bar = progress(n_files, f"reading {snakemake.wildcards.dataset}", log)
    summary = assemble(snakemake.params.spec, inputs, outputs, progress=bar)
    bar.close()
    write_json(snakemake.output.summary, summary)
    print({k: v for k, v in summary.items() if k != "indices"})
