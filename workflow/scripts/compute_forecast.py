"""Snakemake script: what the config's training and MD will cost on a bench's GPU."""
from synpretrain.io import atomic_path, read_json
from synpretrain.ledger import bench_model_differences, forecast, rounded
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0], snakemake.threads):
    bench = read_json(snakemake.input.bench)
    for difference in bench_model_differences(snakemake.params.config, bench):
        print(f"WARNING: {snakemake.input.bench} measured another model: {difference}", flush=True)
    table = rounded(forecast(snakemake.params.config, bench))
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
    print(table.to_string(index=False))
