# Evaluation of every model on a labelled test set: energy meV/atom, force eV/Å, counts, timings.
# A fine-tuned or direct model on its own target's test set is evaluated by its training job
# (train.smk); these rules evaluate pre-trained models and the other test sets (Fig 4's general).


ruleorder: finetune > evaluate_finetune
ruleorder: finetune_strategy > evaluate_finetune_strategy
ruleorder: direct > evaluate_direct


rule evaluate_direct:
    input:
        package=DIRECT.package(RESULTS),
        summary=DIRECT.summary(RESULTS),
        test=lambda wc: test_file(wc.testset),
    output:
        DIRECT.eval_file(RESULTS, "{testset}"),
    log:
        DIRECT.eval_log(RESULTS, "{testset}"),
    benchmark:
        DIRECT.eval_benchmark(RESULTS, "{testset}")
    conda:
        "../../envs/nequip.yaml"
    threads: THREADS
    params:
        meta=eval_meta("direct"),
    script:
        "../scripts/evaluate.py"


use rule evaluate_direct as evaluate_finetune with:
    input:
        package=FINETUNED.package(RESULTS),
        summary=FINETUNED.summary(RESULTS),
        test=lambda wc: test_file(wc.testset),
    output:
        FINETUNED.eval_file(RESULTS, "{testset}"),
    log:
        FINETUNED.eval_log(RESULTS, "{testset}"),
    benchmark:
        FINETUNED.eval_benchmark(RESULTS, "{testset}")
    params:
        meta=eval_meta("finetune"),


use rule evaluate_direct as evaluate_finetune_strategy with:
    input:
        package=FINETUNED_BY_STRATEGY.package(RESULTS),
        summary=FINETUNED_BY_STRATEGY.summary(RESULTS),
        test=lambda wc: test_file(wc.testset),
    output:
        FINETUNED_BY_STRATEGY.eval_file(RESULTS, "{testset}"),
    log:
        FINETUNED_BY_STRATEGY.eval_log(RESULTS, "{testset}"),
    benchmark:
        FINETUNED_BY_STRATEGY.eval_benchmark(RESULTS, "{testset}")
    params:
        meta=eval_meta("finetune"),


use rule evaluate_direct as evaluate_pretrain with:
    input:
        package=PRETRAINED.package(RESULTS),
        summary=PRETRAINED.summary(RESULTS),
        test=lambda wc: test_file(wc.testset),
    output:
        PRETRAINED.eval_file(RESULTS, "{testset}"),
    log:
        PRETRAINED.eval_log(RESULTS, "{testset}"),
    benchmark:
        PRETRAINED.eval_benchmark(RESULTS, "{testset}")
    params:
        meta=eval_meta("pretrain"),


rule experiment_table:
    """One experiment's evaluations (runs, divergence flags) and learning-curve points: what its
    figure and tables draw."""
    input:
        evals=lambda wc: plan.figure_evals(config, wc.figure, RESULTS),
    output:
        runs=L.experiment_table("{figure}", "runs"),
        curves=L.experiment_table("{figure}", "curves"),
    log:
        L.log("tables/experiments/{figure}"),
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/learning_curves.py"


rule learning_curves:
    """Every evaluation in one tidy table (one row per model and test set)."""
    input:
        evals=all_evals(),
    output:
        runs=L.table("learning_curve_runs"),
        curves=L.table("learning_curves"),
    log:
        L.log("tables/learning_curves"),
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/learning_curves.py"
