"""Snakemake script: evaluate one packaged model on one test set (a test set other than the one
its training job evaluated it on, or a pre-trained model), on the CPU, in a process forked from
the warm server where it is usable (`synpretrain.warm`)."""
import tempfile
from pathlib import Path

from synpretrain.evaluation import evaluation_record
from synpretrain.io import read_json, write_json
from synpretrain.runlog import rule_log
from synpretrain.training import RUNNER, thread_env
from synpretrain.warm import run_module

with rule_log(snakemake.log[0], snakemake.threads) as log, tempfile.TemporaryDirectory() as scratch:
    package, metrics = Path(snakemake.input.package), Path(scratch) / "metrics.json"
    args = [str(package.parent), str(package), "--only-evaluate", "--device", "cpu",
            "--evaluate", snakemake.input.test, str(metrics)]
    code = run_module(RUNNER, args, log, env=thread_env(snakemake.threads), threads=snakemake.threads,
                      warm=snakemake.config["resources"]["warm_start"])
    if code != 0:
        raise RuntimeError(f"evaluating {package} on {snakemake.input.test} failed (exit code {code})")
    result = evaluation_record(snakemake.params.meta, read_json(metrics), snakemake.input.test,
                               read_json(snakemake.input.summary))
    write_json(snakemake.output[0], result)
    print(result)
