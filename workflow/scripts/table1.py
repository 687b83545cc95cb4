"""Snakemake script: Table 1 (energy RMSE mean ± std by source and n) as CSV, Markdown, LaTeX; the
runs worse than a constant predictor listed under the Markdown table and as warnings."""
import logging
import sys

import pandas as pd

from synpretrain.aggregate import read_table, table1, table1_columns, table_latex, table_markdown, \
    worse_than_constant_lines
from synpretrain.io import atomic_path
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    runs = read_table(snakemake.input.runs)
    labels = {s: p.displays.get(s, {}).get("label", s) for s in p.sources}
    table = table1(runs, p.target, p.npre, p.sources, labels)
    flagged = worse_than_constant_lines(pd.concat(table1_columns(runs, p.target, p.npre, p.sources, labels).values()))
    caption = (f"Per-atom energy RMSE (meV/atom) on the {p.target} test set, mean ± std over seeds; "
               f"fine-tuned models pre-trained on {p.npre} structures; * = one or more runs diverged; "
               "† = one or more runs worse than a constant predictor (the test set's mean energy per atom, "
               "or zero force)")
    with atomic_path(snakemake.output.csv) as tmp:
        table.to_csv(tmp)
    with atomic_path(snakemake.output.md) as tmp:
        tmp.write_text(table_markdown(table, caption, flagged))
    with atomic_path(snakemake.output.tex) as tmp:
        tmp.write_text(table_latex(table, caption))
    print(table.to_string())
    for line in flagged:
        logging.warning(f"worse than a constant predictor: {line}")
        print(f"WARNING: Table 1: worse than a constant predictor: {line}", file=sys.__stderr__)  # the console
