"""Snakemake script: Fig 5, alchemical pre-training."""
import pandas as pd

from synpretrain.aggregate import read_table
from synpretrain.figures import fig5
from synpretrain.io import atomic_path
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    runs, curves = read_table(snakemake.input.runs), read_table(snakemake.input.curves)
    names = p.names  # test sets by their targets' display names (`targets.<name>.display`), else keys
    colors = {**{name: "black" for name in p.umap_sets["projected"]}, **p.umap_sets.get("colors", {})}
    with atomic_path(snakemake.output[0], suffix=".pdf") as tmp:
        fig5(curves, runs, p.target, p.sources, p.pretrain_sizes, p.displays, pd.read_csv(snakemake.input.umap),
             colors, p.bars_n, str(tmp), note=p.note, names=names)
    print(curves.to_string())
