"""Snakemake script: our Table 1 next to the paper's (cells in common, in units of the paper's std)
and the paper's claims checked on our numbers."""
import pandas as pd

from synpretrain.io import atomic_path
from synpretrain.paper_comparison import claims, compare, read_paper_table1, table1_long
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    ours = table1_long(pd.read_csv(snakemake.input.table, index_col="n"))
    cells = compare(ours, read_paper_table1(snakemake.input.paper))
    checked = claims(ours, empirical=p.empirical, ml=p.ml)
    with atomic_path(snakemake.output.cells) as tmp:
        cells.to_csv(tmp, index=False)
    with atomic_path(snakemake.output.claims) as tmp:
        checked.to_csv(tmp)
    print(f"{len(cells)} cells in common with the paper's Table 1, {int(cells['disagrees'].sum())} beyond 2 sigma")
    print(checked.to_string())
