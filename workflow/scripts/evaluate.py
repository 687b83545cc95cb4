"""Snakemake script: evaluate one packaged model on one test set (a test set other than the one
its training job evaluated it on, or a pre-trained model)."""
from synpretrain.evaluation import evaluate, evaluation_record
from synpretrain.io import read_extxyz, read_json, write_json
from synpretrain.runlog import progress, rule_log

with rule_log(snakemake.log[0], snakemake.threads) as log:
    frames = read_extxyz(snakemake.input.test)
    bar = progress(len(frames), "predicting", log)
    metrics = evaluate(snakemake.input.package, frames, progress=bar)
    bar.close()
    result = evaluation_record(snakemake.params.meta, {**metrics, "device": "cpu"}, snakemake.input.test,
                               read_json(snakemake.input.summary))
    write_json(snakemake.output[0], result)
    print(result)
