"""Snakemake script: Fig 2, learning curves per number of pre-training structures."""
from synpretrain.aggregate import read_table
from synpretrain.figures import fig2
from synpretrain.io import atomic_path
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    curves = read_table(snakemake.input.curves)
    names = p.names  # test sets by their targets' display names (`targets.<name>.display`), else keys
    with atomic_path(snakemake.output[0], suffix=".pdf") as tmp:
        source = p.sources[0]
        fig2(curves, p.target, source, p.pretrain_sizes, str(tmp), note=p.note, display=p.displays.get(source),
             names=names)
    print(curves.to_string())
