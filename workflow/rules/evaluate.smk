# Evaluation of every model on a labelled test set: energy meV/atom, force eV/Å, counts, timings.
# A fine-tuned or direct model on its own target's test set is evaluated by its training job
# (train.smk); these rules evaluate pre-trained models and the other test sets (Fig 4's general).


ruleorder: finetune > evaluate_finetune


ruleorder: direct > evaluate_direct


rule evaluate_direct:
    input:
        package=f"{RESULTS}/models/direct/{{target}}/n{{n}}/seed{{seed}}/model.nequip.zip",
        summary=f"{RESULTS}/models/direct/{{target}}/n{{n}}/seed{{seed}}/training.json",
        test=lambda wc: test_file(wc.testset),
    output:
        f"{RESULTS}/eval/direct/{{target}}/n{{n}}/seed{{seed}}/{{testset}}.json",
    params:
        meta=lambda wc: eval_meta(direct_job(wc), wc.testset),
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
        meta=lambda wc: eval_meta(finetune_job(wc), wc.testset),
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
        meta=lambda wc: eval_meta(pretrain_job(wc), wc.testset),
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
