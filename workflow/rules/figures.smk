# Tables and figures, each a pure function of its experiment's tables (evaluate.smk: experiment_table).


rule table1:
    """Table 1: energy RMSE mean ± std over seeds, by pre-training source and n."""
    input:
        runs=L.experiment_table("fig3", "runs"),
        packs=lambda wc: pack_records("fig3"),
    output:
        csv=report(L.table("table1"), caption="../report/table1.rst", category="Tables"),
        md=L.table("table1", "md"),
        tex=L.table("table1", "tex"),
    log:
        L.log("tables/table1"),
    conda:
        "../../envs/analysis.yaml"
    params:
        **plan.experiment_params(config, "fig3"),
    script:
        "../scripts/table1.py"


rule fig3:
    """Fig 3: learning curves per synthetic label source vs direct training."""
    input:
        curves=L.experiment_table("fig3", "curves"),
        packs=lambda wc: pack_records("fig3"),
    output:
        report(L.figure("fig3"), caption="../report/fig3.rst", category="Figures"),
    log:
        L.log("figures/fig3"),
    conda:
        "../../envs/analysis.yaml"
    params:
        **plan.experiment_params(config, "fig3"),
        note=config["figure_note"],
    script:
        "../scripts/fig3.py"


rule fig2:
    """Fig 2: learning curves per number of pre-training structures vs direct training."""
    input:
        curves=L.experiment_table("fig2", "curves"),
        packs=lambda wc: pack_records("fig2"),
    output:
        report(L.figure("fig2"), caption="../report/fig2.rst", category="Figures"),
    log:
        L.log("figures/fig2"),
    conda:
        "../../envs/analysis.yaml"
    params:
        **plan.experiment_params(config, "fig2"),
        pretrain_sizes=lambda wc: EXPERIMENTS["fig2"]["pretrain_sizes"],
        note=config["figure_note"],
    script:
        "../scripts/fig2.py"


rule fig4:
    """Fig 4: specialised fine-tuning, its general-test error, environment map and MD stability."""
    input:
        curves=L.experiment_table("fig4", "curves"),
        packs=lambda wc: pack_records("fig4") + [L.pack(name) for name in MD_PACKS],
        umap=L.umap("fig4"),
        md_frames=lambda wc: list(md_files("frames").values()),
        md_summaries=lambda wc: list(md_files("summary").values()),
    output:
        report(L.figure("fig4"), caption="../report/fig4.rst", category="Figures"),
    log:
        L.log("figures/fig4"),
    conda:
        "../../envs/analysis.yaml"
    params:
        **plan.experiment_params(config, "fig4"),
        general=lambda wc: config["figures"]["fig4"]["general_testset"],
        md_names=lambda wc: list(md_files("frames")),
        note=config["figure_note"],
    script:
        "../scripts/fig4.py"


rule fig6:
    """Fig 6: fine-tuning strategies, error on the specialised and on the general test set vs n."""
    input:
        curves=L.experiment_table("fig6", "curves"),
        packs=lambda wc: pack_records("fig6"),
    output:
        report(L.figure("fig6"), caption="../report/fig6.rst", category="Figures"),
    log:
        L.log("figures/fig6"),
    conda:
        "../../envs/analysis.yaml"
    params:
        **plan.experiment_params(config, "fig6"),
        general=lambda wc: config["figures"]["fig6"]["general_testset"],
        strategies=lambda wc: plan.strategy_specs(config, "fig6"),
        note=config["figure_note"],
    script:
        "../scripts/fig6.py"


rule fig5:
    """Fig 5: alchemical pre-training (C -> Si) at two settings, environment map, bars at one n."""
    input:
        runs=L.experiment_table("fig5", "runs"),
        curves=L.experiment_table("fig5", "curves"),
        packs=lambda wc: pack_records("fig5"),
        umap=L.umap("fig5"),
    output:
        report(L.figure("fig5"), caption="../report/fig5.rst", category="Figures"),
    log:
        L.log("figures/fig5"),
    conda:
        "../../envs/analysis.yaml"
    params:
        **plan.experiment_params(config, "fig5"),
        pretrain_sizes=lambda wc: EXPERIMENTS["fig5"]["pretrain_sizes"],
        bars_n=lambda wc: plan.bars_n(config),
        umap_sets=lambda wc: config["figures"]["fig5"]["umap"],
        note=config["figure_note"],
    script:
        "../scripts/fig5.py"


rule paper_comparison:
    """Our Table 1 against the paper's published numbers, and the paper's claims on ours."""
    input:
        table=L.table("table1"),
        paper=workflow.source_path("../../resources/paper/table1.csv"),
    output:
        cells=report(L.table("paper_comparison"), caption="../report/paper_comparison.rst", category="Tables"),
        claims=report(L.table("paper_claims"), caption="../report/paper_claims.rst", category="Tables"),
    log:
        L.log("tables/paper_comparison"),
    conda:
        "../../envs/analysis.yaml"
    params:
        empirical=lambda wc: plan.source_labels(config, "fig3", "empirical"),
        ml=lambda wc: plan.source_labels(config, "fig3", "ml"),
    script:
        "../scripts/paper_comparison.py"
