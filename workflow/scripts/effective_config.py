"""Snakemake script: the run's effective configuration (defaults filled in) as YAML."""
import yaml

from synpretrain.io import atomic_path
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    with atomic_path(snakemake.output[0]) as tmp:
        tmp.write_text(yaml.safe_dump(dict(snakemake.params.config), sort_keys=False))
