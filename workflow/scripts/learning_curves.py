"""Snakemake script: evaluations (all, or one experiment's) -> per-run table and per-point learning curves."""
import logging

from synpretrain.aggregate import learning_curves, load_evaluations, worse_than_constant_lines
from synpretrain.io import atomic_path
from synpretrain.runlog import rule_log

with rule_log(snakemake.log[0]):
    runs = load_evaluations(snakemake.input.evals)
    curves = learning_curves(runs)
    for frame, path in ((runs, snakemake.output.runs), (curves, snakemake.output.curves)):
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
    print(f"{len(runs)} runs ({int(runs['diverged'].sum())} diverged, {int(runs['worse_than_constant'].sum())} "
          f"worse than a constant predictor), {len(curves)} learning-curve points")
    for line in worse_than_constant_lines(runs):
        logging.warning(f"worse than a constant predictor: {line}")
