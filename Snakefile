# Synthetic pre-training of NequIP interatomic potentials (Gardner, Baker & Deringer 2023).
#   snakemake --cores 2 all                          the demo (config/config.yaml), offline
#   snakemake --cores 2 results/fig3.pdf             one figure and only what it needs
#   snakemake --configfile config/paper.yaml ...     the paper's experiments
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/label.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/figures.smk"


rule all:
    input:
        FINAL_TARGETS,
    default_target: True
