# Tables and figures.

FIG3 = config["figures"].get("fig3", {})


def fig3_evals():
    """The evaluations Fig 3 and Table 1 draw on, and nothing more."""
    target, npre = FIG3["target"], FIG3["pretrain_size"]
    spec = TARGETS[target]
    files = []
    for n in spec["sizes"]:
        for seed in spec["seeds"]:
            files.append(eval_file(direct_dir(target, n, seed), target))
            for source in PRETRAIN["sources"]:
                files.append(eval_file(finetune_dir(source, npre, target, n, seed), target))
    return files


def displays():
    return {name: spec.get("display", {}) for name, spec in LABELLERS.items()}


rule table1:
    """Table 1: energy RMSE mean ± std over seeds, by pre-training source and n."""
    input:
        fig3_evals(),
    output:
        csv=f"{RESULTS}/tables/table1.csv",
        md=f"{RESULTS}/tables/table1.md",
        tex=f"{RESULTS}/tables/table1.tex",
    params:
        target=FIG3.get("target"),
        npre=FIG3.get("pretrain_size"),
        sources=PRETRAIN["sources"],
        displays=displays(),
    log:
        "logs/tables/table1.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/table1.py"


rule fig3:
    """Fig 3: learning curves per synthetic label source vs direct training."""
    input:
        fig3_evals(),
    output:
        f"{RESULTS}/fig3.pdf",
    params:
        target=FIG3.get("target"),
        npre=FIG3.get("pretrain_size"),
        sources=PRETRAIN["sources"],
        displays=displays(),
        note=config.get("figure_note", ""),
    log:
        "logs/figures/fig3.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig3.py"
