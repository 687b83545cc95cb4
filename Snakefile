# Synthetic pre-training of NequIP interatomic potentials (Gardner, Baker & Deringer 2023).
#   snakemake --cores 2 all                                   the demo (config/config.yaml), offline
#   snakemake --cores 2 results/fig3.pdf                      one figure and only what it needs
#   snakemake --cores 2 all --configfile config/paper.yaml    the paper's experiments
#   snakemake --report results/report.html                    then: figures, tables, config in one page
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

# The library lives in workflow/synpretrain. install.sh installs it, but putting it on the path
# here too means the workflow also runs from a bare snakemake (e.g. with --sdm conda), and every
# job (local, conda or SLURM) finds the same copy of the code.
LIBRARY = str(Path(workflow.basedir) / "workflow")
sys.path.insert(0, LIBRARY)
import synpretrain
from synpretrain.config import ConfigError, check_yaml, schema_error
from synpretrain.scheduler_timers import one_pending_reevaluation

synpretrain.share_with_jobs(LIBRARY)
# Snakemake 9's scheduler wakes itself more often with every job (synpretrain/scheduler_timers.py)
one_pending_reevaluation()


# The demo is the default. A --configfile replaces it instead of being merged into it, so that
# `--configfile config/paper.yaml` never inherits the demo's datasets or labellers.
if not workflow.overwrite_configfiles:
    check_yaml("config/config.yaml")  # an edit that breaks its syntax: file and line

    configfile: "config/config.yaml"


try:
    validate(config, "config/schema.yaml")  # and fills in the schema's defaults
except WorkflowError as error:  # a few lines, not the schema and the config
    raise ConfigError(schema_error(error)) from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/label.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/compute.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        plan.final_targets(config, L),
