"""Snakemake script: Fig 6, fine-tuning strategies against forgetting."""
from synpretrain.aggregate import read_table
from synpretrain.figures import fig6, source_style
from synpretrain.io import atomic_path
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    curves = read_table(snakemake.input.curves)
    source = p.sources[0]
    names = p.names  # test sets by their targets' display names (`targets.<name>.display`), else keys
    strategies = dict(p.strategies)  # name -> settings (type and parameter: what the legend calls it)
    with atomic_path(snakemake.output[0], suffix=".pdf") as tmp:
        fig6(curves, p.target, p.general, source, p.npre, strategies,
             source_style(source, p.displays.get(source), 0), str(tmp), note=p.note, names=names)
    print(curves.to_string())
