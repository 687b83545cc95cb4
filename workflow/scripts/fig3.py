"""Snakemake script: Fig 3, learning curves per synthetic label source."""
from synpretrain.aggregate import read_table
from synpretrain.figures import fig3
from synpretrain.io import atomic_path
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    curves = read_table(snakemake.input.curves)
    names = p.names  # test sets by their targets' display names (`targets.<name>.display`), else keys
    with atomic_path(snakemake.output[0], suffix=".pdf") as tmp:
        fig3(curves, p.target, p.npre, p.sources, p.displays, str(tmp), note=p.note, names=names)
    print(curves.to_string())
