"""Snakemake script: evaluate one packaged model on one test set."""
from synpretrain.evaluation import evaluate
from synpretrain.io import read_extxyz, read_json, write_json
from synpretrain.runlog import progress, rule_log

with rule_log(snakemake.log[0], snakemake.threads) as log:
    frames = read_extxyz(snakemake.input.test)
    bar = progress(len(frames), "predicting", log)
    metrics = evaluate(snakemake.input.package, frames, progress=bar)
    bar.close()
    trained = read_json(snakemake.input.summary)
    result = {**snakemake.params.meta, **metrics,
              "test_file": str(snakemake.input.test),
              "epochs": trained.get("epochs"), "best_epoch": trained.get("best_epoch"),
              "nan_in_validation": trained.get("nan_in_validation"),
              "train_wall_time_s": trained.get("wall_time_s")}
    write_json(snakemake.output[0], result)
    print(result)
