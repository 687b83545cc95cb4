"""Snakemake script: train one NequIP model (pre-train, fine-tune or direct).

Its settings come from the config (`training`, with how the job runs: workers, checkpoints,
kernels, GPU sharing); the rule's params hold only the part that decides the model."""
import os
from pathlib import Path

from synpretrain import nequip_config, training
from synpretrain.config import stage_training
from synpretrain.acquire import sha256
from synpretrain.evaluation import evaluation_record
from synpretrain.gpus import claim_gpu, shared_gpu
from synpretrain.io import count_frames, read_json, write_json
from synpretrain.plan import jobs_per_gpu, uses_mps
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0], snakemake.threads) as log:
    out_dir = Path(snakemake.output.package).parent
    parent = snakemake.input.get("parent")
    n_train = count_frames(snakemake.input.labels)
    strategy = dict(snakemake.params.get("strategy") or {"type": "all"})
    if strategy["type"] == "replay":   # the parent's pre-training set, force-only (finetune_strategies)
        strategy.update(pool_file=snakemake.input.replay, n_pool=count_frames(snakemake.input.replay_labels),
                        n_real=n_train)
    config = nequip_config.render(
        train_file=snakemake.input.train, val_file=snakemake.input.val,
        symbols=list(snakemake.params.symbols), model=snakemake.params.model,
        training=stage_training(snakemake.config, snakemake.params.stage), seed=snakemake.params.seed,
        out_dir=str(out_dir.resolve()), parent_package=parent, strategy=strategy)
    provenance = {
        "stage": snakemake.params.stage, "seed": snakemake.params.seed,
        "n_train": n_train,
        "n_val": count_frames(snakemake.input.val_labels),
        "train_file": str(snakemake.input.labels), "train_sha256": sha256(snakemake.input.labels),
        "prepared_data": str(snakemake.input.train).endswith(".lmdb"),
        "parent_package": parent, "parent_sha256": sha256(parent) if parent else None, "strategy": strategy,
        "wildcards": dict(snakemake.wildcards),
    }
    # the model's own test set, evaluated in the training process (finetune, direct)
    evaluation = snakemake.output.get("evaluation")
    metrics = out_dir / "evaluation.metrics.json"
    evaluations = [(snakemake.input.test, metrics)] if evaluation else []
    # a slot on one GPU (K jobs per GPU) on a multi-GPU machine; the allocation's GPU under SLURM;
    # with resources.mps the K jobs' kernels run side by side through an MPS daemon
    with claim_gpu(jobs_per_gpu=jobs_per_gpu(snakemake.config)) as gpu, \
            shared_gpu(gpu, uses_mps(snakemake.config)) as mps:
        slurm_job = os.environ.get("SLURM_JOB_ID")
        print(f"GPU: {gpu}; MPS: {mps}; SLURM job: {slurm_job}", flush=True)
        summary = training.train(out_dir, config, snakemake.output.package, snakemake.output.summary,
                                 snakemake.threads, log, extra={**provenance, "gpu": gpu, "mps": mps,
                                                                "slurm_job_id": slurm_job},
                                 evaluations=evaluations, warm=snakemake.config["resources"]["warm_start"])
    if evaluation:
        write_json(evaluation, evaluation_record(snakemake.params.eval_meta, read_json(metrics),
                                                 snakemake.input.test, summary))
        metrics.unlink()
    print({k: summary[k] for k in ("epochs", "best_epoch", "best_val_forces_rmse", "wall_time_s")})
