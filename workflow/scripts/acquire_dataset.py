"""Snakemake script: copy the user's local file or download the published one, checksum verified."""
from synpretrain.acquire import acquire
from synpretrain.runlog import progress, rule_log

with rule_log(snakemake.log[0]) as log:
    spec = snakemake.params.spec
    bar = progress(None, f"acquiring {snakemake.wildcards.dataset}", log)
    provenance = acquire(snakemake.output[0], url=spec.get("url"), path=spec.get("path"),
                         sha256_expected=spec.get("sha256"), what=f"datasets.{snakemake.wildcards.dataset}",
                         progress=bar)
    bar.close()
    print(provenance)
