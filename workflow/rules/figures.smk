# Tables and figures, each drawn from exactly the evaluations of its experiment.


rule table1:
    """Table 1: energy RMSE mean ± std over seeds, by pre-training source and n."""
    input:
        lambda wc: experiment_evals("fig3", pretrained=False),
    output:
        csv=f"{RESULTS}/tables/table1.csv",
        md=f"{RESULTS}/tables/table1.md",
        tex=f"{RESULTS}/tables/table1.tex",
    params:
        **experiment_params("fig3"),
    log:
        "logs/tables/table1.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/table1.py"


rule fig3:
    """Fig 3: learning curves per synthetic label source vs direct training."""
    input:
        lambda wc: experiment_evals("fig3", pretrained=False),
    output:
        f"{RESULTS}/fig3.pdf",
    params:
        **experiment_params("fig3"),
        note=config.get("figure_note", ""),
    log:
        "logs/figures/fig3.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig3.py"
