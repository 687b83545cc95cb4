"""Snakemake script: the run's compute ledger (results/tables/compute.csv)."""
from pathlib import Path

from synpretrain.io import atomic_path
from synpretrain.ledger import job_rows, ledger, on_gpu_models, rounded
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0], snakemake.threads):
    jobs = job_rows(Path(snakemake.params.benchmarks), snakemake.params.config, on_gpu_models(snakemake.input.trainings))
    table = rounded(ledger(jobs, snakemake.params.config))
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
    print(table.to_string(index=False))
