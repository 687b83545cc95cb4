"""Snakemake script: Fig 4, specialised fine-tuning, environment map and MD stability."""
import pandas as pd

from synpretrain.aggregate import read_table
from synpretrain.figures import fig4, source_style
from synpretrain.io import atomic_path, read_json
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    curves = read_table(snakemake.input.curves)
    names = p.names  # test sets by their targets' display names (`targets.<name>.display`), else keys
    md = {name: (pd.read_csv(frames), read_json(summary))
          for name, frames, summary in zip(p.md_names, snakemake.input.md_frames, snakemake.input.md_summaries)}
    source = p.sources[0]
    with atomic_path(snakemake.output[0], suffix=".pdf") as tmp:
        fig4(curves, p.target, p.general, source, p.npre, source_style(source, p.displays.get(source), 0),
             pd.read_csv(snakemake.input.umap), md, str(tmp), note=p.note, names=names)
    print(curves.to_string())
    for name, (_, summary) in md.items():
        print(name, summary)
