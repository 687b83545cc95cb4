"""Snakemake script: evaluate one packaged model on one test set (a test set other than the one
its training job evaluated it on, or a pre-trained model), on the CPU, through the same runner as
the training jobs (forked from the warm server where it is usable: `synpretrain.warm`)."""
import tempfile
from pathlib import Path

from synpretrain.evaluation import evaluation_record
from synpretrain.io import read_json, write_json
from synpretrain.runlog import rule_log
from synpretrain.training import run_nequip

with rule_log(snakemake.log[0], snakemake.threads) as log, tempfile.TemporaryDirectory() as scratch:
    package, metrics = Path(snakemake.input.package), Path(scratch) / "metrics.json"
    run_nequip(package.parent, package, [], snakemake.threads, log, [(snakemake.input.test, metrics)],
               only_evaluate=True, warm=snakemake.config["resources"]["warm_start"], device="cpu")
    result = evaluation_record(snakemake.params.meta, read_json(metrics), snakemake.input.test,
                               read_json(snakemake.input.summary))
    write_json(snakemake.output[0], result)
    print(result)
