"""Snakemake script: Table 1 (energy RMSE mean ± std by source and n) as CSV, Markdown, LaTeX."""
from synpretrain.aggregate import read_table, table1, table_latex, table_markdown
from synpretrain.io import atomic_path
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    p = snakemake.params
    runs = read_table(snakemake.input.runs)
    labels = {s: p.displays.get(s, {}).get("label", s) for s in p.sources}
    table = table1(runs, p.target, p.npre, p.sources, labels)
    caption = (f"Per-atom energy RMSE (meV/atom) on the {p.target} test set, mean ± std over seeds; "
               f"fine-tuned models pre-trained on {p.npre} structures; * = one or more runs diverged")
    with atomic_path(snakemake.output.csv) as tmp:
        table.to_csv(tmp)
    with atomic_path(snakemake.output.md) as tmp:
        tmp.write_text(table_markdown(table, caption))
    with atomic_path(snakemake.output.tex) as tmp:
        tmp.write_text(table_latex(table, caption))
    print(table.to_string())
