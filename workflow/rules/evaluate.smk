# Evaluation of every model on a labelled test set: energy meV/atom, force eV/Å, counts, timings.


rule evaluate_direct:
    input:
        package=f"{RESULTS}/models/direct/{{target}}/n{{n}}/seed{{seed}}/model.nequip.zip",
        summary=f"{RESULTS}/models/direct/{{target}}/n{{n}}/seed{{seed}}/training.json",
        test=lambda wc: test_file(wc.testset),
    output:
        f"{RESULTS}/eval/direct/{{target}}/n{{n}}/seed{{seed}}/{{testset}}.json",
    params:
        meta=lambda wc: {"kind": "direct", "source": "direct", "npre": 0, "target": wc.target,
                         "n": int(wc.n), "seed": int(wc.seed), "testset": wc.testset},
    log:
        "logs/eval/direct/{target}/n{n}/seed{seed}/{testset}.log",
    benchmark:
        "benchmarks/eval/direct/{target}/n{n}/seed{seed}/{testset}.tsv"
    threads: config.get("threads_per_job", 1)
    conda:
        "../../envs/nequip.yaml"
    script:
        "../scripts/evaluate.py"


use rule evaluate_direct as evaluate_finetune with:
    input:
        package=f"{RESULTS}/models/finetune/{{source}}/n{{npre}}/{{target}}/n{{n}}/seed{{seed}}/model.nequip.zip",
        summary=f"{RESULTS}/models/finetune/{{source}}/n{{npre}}/{{target}}/n{{n}}/seed{{seed}}/training.json",
        test=lambda wc: test_file(wc.testset),
    output:
        f"{RESULTS}/eval/finetune/{{source}}/n{{npre}}/{{target}}/n{{n}}/seed{{seed}}/{{testset}}.json",
    params:
        meta=lambda wc: {"kind": "finetune", "source": wc.source, "npre": int(wc.npre),
                         "target": wc.target, "n": int(wc.n), "seed": int(wc.seed),
                         "testset": wc.testset},
    log:
        "logs/eval/finetune/{source}/n{npre}/{target}/n{n}/seed{seed}/{testset}.log",
    benchmark:
        "benchmarks/eval/finetune/{source}/n{npre}/{target}/n{n}/seed{seed}/{testset}.tsv"


use rule evaluate_direct as evaluate_pretrain with:
    input:
        package=f"{RESULTS}/models/pretrain/{{source}}/n{{npre}}/model.nequip.zip",
        summary=f"{RESULTS}/models/pretrain/{{source}}/n{{npre}}/training.json",
        test=lambda wc: test_file(wc.testset),
    output:
        f"{RESULTS}/eval/pretrain/{{source}}/n{{npre}}/{{testset}}.json",
    params:
        meta=lambda wc: {"kind": "pretrain", "source": wc.source, "npre": int(wc.npre),
                         "target": None, "n": 0, "seed": PRETRAIN.get("seed", 42),
                         "testset": wc.testset},
    log:
        "logs/eval/pretrain/{source}/n{npre}/{testset}.log",
    benchmark:
        "benchmarks/eval/pretrain/{source}/n{npre}/{testset}.tsv"


rule learning_curves:
    """Every evaluation in one tidy table (one row per model and test set)."""
    input:
        all_evals(),
    output:
        runs=f"{RESULTS}/tables/learning_curve_runs.csv",
        curves=f"{RESULTS}/tables/learning_curves.csv",
    log:
        "logs/tables/learning_curves.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/learning_curves.py"
