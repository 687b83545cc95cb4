"""Snakemake script: `snakemake --report` for the reported figures and tables (a nested, lock-free
Snakemake run that only reads: the report is Snakemake's own, not re-implemented)."""
import subprocess
import sys

from synpretrain.io import atomic_path
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]) as log:
    with atomic_path(snakemake.output[0], suffix=".html") as tmp:
        command = [sys.executable, "-m", "snakemake", "--snakefile", snakemake.params.snakefile, "--nolock",
                   "--report", str(tmp), "--configfiles", *snakemake.params.configfiles, "--", *snakemake.input]
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True)
