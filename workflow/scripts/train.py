"""Snakemake script: train one NequIP model (pre-train, fine-tune or direct)."""
from pathlib import Path

from synpretrain import nequip_config, training
from synpretrain.acquire import sha256
from synpretrain.gpus import claim_gpu
from synpretrain.io import count_frames
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0], snakemake.threads) as log:
    out_dir = Path(snakemake.output.package).parent
    parent = snakemake.input.get("parent")
    config = nequip_config.render(
        train_file=snakemake.input.train, val_file=snakemake.input.val,
        symbols=list(snakemake.params.symbols), model=snakemake.params.model,
        training=snakemake.params.training, seed=snakemake.params.seed,
        out_dir=str(out_dir.resolve()), parent_package=parent,
        parent_r_max=snakemake.params.get("parent_r_max"))
    provenance = {
        "stage": snakemake.params.stage, "seed": snakemake.params.seed,
        "n_train": count_frames(snakemake.input.train),
        "n_val": count_frames(snakemake.input.val),
        "train_file": str(snakemake.input.train), "train_sha256": sha256(snakemake.input.train),
        "parent_package": parent, "parent_sha256": sha256(parent) if parent else None,
        "wildcards": dict(snakemake.wildcards),
    }
    with claim_gpu() as gpu:  # one GPU per job on a multi-GPU machine; CPU where there is none
        print(f"GPU: {gpu}", flush=True)
        summary = training.train(out_dir, config, snakemake.output.package, snakemake.output.summary,
                                 snakemake.threads, log, extra={**provenance, "gpu": gpu})
    print({k: summary[k] for k in ("epochs", "best_epoch", "best_val_forces_rmse", "wall_time_s")})
