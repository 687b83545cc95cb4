# The HTML report: Snakemake's own `--report`, run on the figures and tables of this config.


rule report:
    """Every figure and table with its caption (workflow/report/*.rst), the config and the run stats."""
    input:
        REPORTED,
    output:
        f"{RESULTS}/report.html",
    params:
        configfiles=[str(Path(f).resolve()) for f in workflow.configfiles],
        snakefile=workflow.main_snakefile,
    log:
        "logs/report.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/report.py"
