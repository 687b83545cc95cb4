# Tables and figures, each drawn from exactly the evaluations of its experiment.


rule table1:
    """Table 1: energy RMSE mean ± std over seeds, by pre-training source and n."""
    input:
        evals=lambda wc: experiment_evals("fig3", pretrained=False),
        packs=lambda wc: pack_records("fig3"),
    output:
        csv=report(f"{RESULTS}/tables/table1.csv", caption="../report/table1.rst", category="Tables"),
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
        evals=lambda wc: experiment_evals("fig3", pretrained=False),
        packs=lambda wc: pack_records("fig3"),
    output:
        report(f"{RESULTS}/fig3.pdf", caption="../report/fig3.rst", category="Figures"),
    params:
        **experiment_params("fig3"),
        note=config.get("figure_note", ""),
    log:
        "logs/figures/fig3.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig3.py"


rule fig2:
    """Fig 2: learning curves per number of pre-training structures vs direct training."""
    input:
        evals=lambda wc: experiment_evals("fig2", pretrained=False),
        packs=lambda wc: pack_records("fig2"),
    output:
        report(f"{RESULTS}/fig2.pdf", caption="../report/fig2.rst", category="Figures"),
    params:
        **experiment_params("fig2"),
        pretrain_sizes=EXPERIMENTS.get("fig2", {}).get("pretrain_sizes", []),
        note=config.get("figure_note", ""),
    log:
        "logs/figures/fig2.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig2.py"


rule fig4:
    """Fig 4: specialised fine-tuning, its general-test error, environment map and MD stability."""
    input:
        evals=lambda wc: experiment_evals("fig4"),
        packs=lambda wc: pack_records("fig4"),
        umap=f"{RESULTS}/analysis/umap/fig4.csv",
        md_frames=lambda wc: list(md_files("csv").values()),
        md_summaries=lambda wc: list(md_files("json").values()),
    output:
        report(f"{RESULTS}/fig4.pdf", caption="../report/fig4.rst", category="Figures"),
    params:
        **experiment_params("fig4"),
        general=FIGURES.get("fig4", {}).get("general_testset"),
        md_names=lambda wc: list(md_files("csv")),
        note=config.get("figure_note", ""),
    log:
        "logs/figures/fig4.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig4.py"


rule fig5:
    """Fig 5: alchemical pre-training (C -> Si) at two settings, environment map, bars at one n."""
    input:
        evals=lambda wc: experiment_evals("fig5", pretrained=False),
        packs=lambda wc: pack_records("fig5"),
        umap=f"{RESULTS}/analysis/umap/fig5.csv",
    output:
        report(f"{RESULTS}/fig5.pdf", caption="../report/fig5.rst", category="Figures"),
    params:
        **experiment_params("fig5"),
        pretrain_sizes=EXPERIMENTS.get("fig5", {}).get("pretrain_sizes", []),
        bars_n=FIGURES.get("fig5", {}).get("bars_n") or max(EXPERIMENTS.get("fig5", {}).get("sizes", [0])),
        umap_sets=FIGURES.get("fig5", {}).get("umap", {}),
        note=config.get("figure_note", ""),
    log:
        "logs/figures/fig5.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/fig5.py"
