"""Snakemake script: a labeller's parameter file, copied from `path` or downloaded from `url`."""
from synpretrain.acquire import acquire
from synpretrain.runlog import progress, rule_log

with rule_log(snakemake.log[0]) as log:
    spec = snakemake.params.spec
    bar = progress(None, f"acquiring the {snakemake.wildcards.labeller} parameters", log)
    print(acquire(snakemake.output[0], url=spec.get("url"), path=spec.get("path"), sha256_expected=spec.get("sha256"),
                  what=f"labellers.{snakemake.wildcards.labeller}", progress=bar))
    bar.close()
