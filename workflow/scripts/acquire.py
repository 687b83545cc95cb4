"""Snakemake script: a published file (dataset or potential parameters), copied from the config's
`path` or downloaded from its `url`, SHA-256 checked."""
from synpretrain.acquire import acquire
from synpretrain.runlog import progress, rule_log

with rule_log(snakemake.log[0]) as log:
    spec, what = snakemake.params.spec, snakemake.params.what
    bar = progress(None, f"acquiring {what}", log)
    print(acquire(snakemake.output[0], url=spec.get("url"), path=spec.get("path"),
                  sha256_expected=spec.get("sha256"), what=what, progress=bar))
    bar.close()
