"""Per-stage time of a finished run, from Snakemake's `benchmark:` files (not a test).

    .venv/bin/python tests/benchmarks/stage_times.py [results/benchmarks/] [--wall SECONDS]

Sums each rule family's job wall times (`s` column) and, given the run's wall time, reports how
busy the cores were. Jobs ran side by side, so the stage sums add up to more than the wall time.
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import pandas as pd

STAGES = {  # benchmark folder (first one or two levels) -> stage name
    "generate": "structures: MD generation", "assemble": "structures: filter + split",
    "label": "labels", "train/pretrain": "pre-training", "train/finetune": "fine-tuning",
    "train/direct": "direct training", "eval": "evaluation", "md": "MD stability", "analysis": "SOAP + UMAP",
}


def stage_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).parts
    for key in (f"{parts[0]}/{parts[1]}", parts[0]):
        if key in STAGES:
            return STAGES[key]
    return parts[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", default="results/benchmarks")
    parser.add_argument("--wall", type=float, help="the run's wall time in seconds")
    args = parser.parse_args()
    root = Path(args.folder)
    seconds, jobs = defaultdict(float), defaultdict(int)
    for path in root.rglob("*.tsv"):
        stage = stage_of(path, root)
        seconds[stage] += float(pd.read_csv(path, sep="\t")["s"].iloc[-1])
        jobs[stage] += 1
    total = sum(seconds.values())
    print(f"{'stage':28s} {'jobs':>5s} {'job-seconds':>12s} {'s/job':>7s}")
    for stage in sorted(seconds, key=seconds.get, reverse=True):
        print(f"{stage:28s} {jobs[stage]:5d} {seconds[stage]:12.0f} {seconds[stage] / jobs[stage]:7.1f}")
    print(f"{'all':28s} {sum(jobs.values()):5d} {total:12.0f}")
    if args.wall:
        print(f"wall {args.wall:.0f} s: on average {total / args.wall:.2f} jobs running")


if __name__ == "__main__":
    main()
