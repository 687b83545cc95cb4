"""Snakemake script: SOAP + UMAP map of environments (Figs 4b, 5c)."""
from synpretrain.environments import Soap, environment_map
from synpretrain.io import atomic_path, read_extxyz
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0], snakemake.threads):
    spec = snakemake.params.spec
    # Splits are shuffled, so their first frames are a random sample; C-SYNTH's train split is
    # far too big to read whole, and no more frames than environments are ever needed.
    first = f":{spec.get('n_environments', 2000)}"
    reference = {name: read_extxyz(path, first) for name, path in zip(snakemake.params.reference, snakemake.input.reference)}
    projected = {name: read_extxyz(path, first) for name, path in zip(snakemake.params.projected, snakemake.input.projected)}
    table = environment_map(reference, projected, Soap(**spec["soap"]), spec["n_environments"],
                            seed=spec["seed"])
    with atomic_path(snakemake.output[0]) as tmp:
        table.to_csv(tmp, index=False)
    print(table.groupby(["role", "set"]).size())
