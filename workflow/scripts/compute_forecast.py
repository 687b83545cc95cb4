"""Snakemake script: what the config's training and MD will cost on a bench's GPU."""
from synpretrain.io import atomic_path, read_json
from synpretrain.ledger import forecast, rounded
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0], snakemake.threads):
    table = rounded(forecast(snakemake.params.config, read_json(snakemake.input.bench)))
    for difference in set(table["bench_model_differs"]) - {""}:
        print(f"WARNING: {snakemake.input.bench} measured another model: {difference}", flush=True)
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
    print(table.to_string(index=False))
