# NequIP training: pre-training on synthetic labels, fine-tuning and direct training on real data.
# Every model folder holds config.yaml (what nequip-train ran), best.ckpt/last.ckpt, the CSV log,
# model.nequip.zip (self-contained) and training.json (summary + provenance + speed).  Fine-tuned
# and direct models are evaluated on their target's test set by their training job (one process:
# no second start-up, and on the training's GPU); evaluate.smk covers the other evaluations.
PRETRAINED = ModelId.pattern("pretrain")
FINETUNED = ModelId.pattern("finetune")
FINETUNED_BY_STRATEGY = ModelId.pattern("finetune", "{strategy}")  # strategies other than `all`
DIRECT = ModelId.pattern("direct")


rule prepare_data:
    """Types and neighbour lists of one labelled file computed once, at one cut-off (NequIP LMDB)."""
    input:
        f"{RESULTS}/{{stem}}.extxyz",
    output:
        prepared_file(f"{RESULTS}/{{stem}}.extxyz", "{rmax}"),
    log:
        L.log("prepare/{stem}.r{rmax}"),
    benchmark:
        L.benchmark("prepare/{stem}.r{rmax}")
    conda:
        "../../envs/nequip.yaml"
    params:
        symbols=lambda wc: prepared_types(wc.stem),
    script:
        "../scripts/prepare_data.py"


rule pretrain:
    """Pre-train on npre structures labelled by one synthetic source (seed from pretrain.seed)."""
    input:
        unpack(lambda wc: source_files(wc.source, wc.npre)),
    output:
        package=PRETRAINED.package(RESULTS),
        summary=PRETRAINED.summary(RESULTS),
    log:
        PRETRAINED.log(RESULTS),
    benchmark:
        PRETRAINED.benchmark(RESULTS)
    group:
        pack_group("pretrain")
    conda:
        "../../envs/nequip.yaml"
    threads: THREADS
    resources:
        **gpu_resources("pretrain"),
    params:
        stage="pretrain",
        seed=PRETRAIN_SEED,
        symbols=lambda wc: type_names(source_dataset(wc.source)),
        model=lambda wc: source_model(config, wc.source),
        training=training_params(config, "pretrain"),
    script:
        "../scripts/train.py"


rule finetune:
    """Fine-tune a pre-trained model on n real structures: all weights (this rule), or with a
    strategy against forgetting (`finetune_strategy`)."""
    input:
        unpack(finetune_files),
        parent=PRETRAINED.package(RESULTS),
        test=lambda wc: test_file(wc.target),
    output:
        package=FINETUNED.package(RESULTS),
        summary=FINETUNED.summary(RESULTS),
        evaluation=FINETUNED.eval_file(RESULTS, "{target}"),
    log:
        FINETUNED.log(RESULTS),
    benchmark:
        FINETUNED.benchmark(RESULTS)
    group:
        pack_group("finetune")
    conda:
        "../../envs/nequip.yaml"
    threads: THREADS
    resources:
        **gpu_resources("finetune"),
    params:
        stage="finetune",
        seed=lambda wc: int(wc.seed),
        symbols=lambda wc: type_names(TARGETS[wc.target]["dataset"]),
        model=lambda wc: finetune_model(config, wc.source),  # the parent's architecture
        training=training_params(config, "finetune"),
        eval_meta=eval_meta("finetune", home=True),
        strategy=lambda wc: plan.strategy_spec(config, wc.get("strategy", ALL)),
    script:
        "../scripts/train.py"


use rule finetune as finetune_strategy with:
    output:
        package=FINETUNED_BY_STRATEGY.package(RESULTS),
        summary=FINETUNED_BY_STRATEGY.summary(RESULTS),
        evaluation=FINETUNED_BY_STRATEGY.eval_file(RESULTS, "{target}"),
    log:
        FINETUNED_BY_STRATEGY.log(RESULTS),
    benchmark:
        FINETUNED_BY_STRATEGY.benchmark(RESULTS)


rule direct:
    """Train from random weights on the same n real structures (the baseline)."""
    input:
        unpack(lambda wc: target_files(wc.target, wc.n, config["model"]["r_max"])),
        test=lambda wc: test_file(wc.target),
    output:
        package=DIRECT.package(RESULTS),
        summary=DIRECT.summary(RESULTS),
        evaluation=DIRECT.eval_file(RESULTS, "{target}"),
    log:
        DIRECT.log(RESULTS),
    benchmark:
        DIRECT.benchmark(RESULTS)
    group:
        pack_group("direct")
    conda:
        "../../envs/nequip.yaml"
    threads: THREADS
    resources:
        **gpu_resources("direct"),
    params:
        stage="direct",
        seed=lambda wc: int(wc.seed),
        symbols=lambda wc: type_names(TARGETS[wc.target]["dataset"]),
        model=config["model"],
        training=training_params(config, "direct"),
        eval_meta=eval_meta("direct", home=True),
    script:
        "../scripts/train.py"


rule gpu_pack:
    """K training jobs that shared one GPU allocation (`resources.jobs_per_gpu`): one SLURM job
    runs them side by side; this record lists them with their times and allocations."""
    input:
        lambda wc: [job.summary(RESULTS) for job in PACKS[wc.pack]],
    output:
        L.pack("{pack}"),
    log:
        L.log("packs/{pack}"),
    group:
        lambda wc: wc.pack
    conda:
        "../../envs/analysis.yaml"
    resources:
        **gpu_resources("pack", runtime=1, mem_mb=200, gpu=1),
    script:
        "../scripts/gpu_pack.py"
