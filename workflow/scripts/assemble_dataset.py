"""Snakemake script: trajectories -> filtered, pooled, split train/val/test files."""
from synpretrain.datasets import assemble
from synpretrain.io import read_extxyz, write_extxyz, write_json
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0], snakemake.threads):
    spec = snakemake.params.spec
    trajectories = [read_extxyz(path) for path in snakemake.input]
    split_cfg = spec.get("split", {})
    parts, split = assemble(trajectories, spec["min_time"], split_cfg.get("test_size"),
                            split_cfg.get("val_size"), split_cfg.get("seed", 42))
    for name, frames in parts.items():
        write_extxyz(snakemake.output[name], frames)
    summary = {name: len(frames) for name, frames in parts.items()}
    summary.update(n_trajectories=len(trajectories), min_time_ps=spec["min_time"],
                   indices={k: v.tolist() for k, v in split.as_dict().items()})
    write_json(snakemake.output.summary, summary)
    print({k: v for k, v in summary.items() if k != "indices"})
