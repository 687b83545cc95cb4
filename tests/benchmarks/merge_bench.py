"""Merge bench_training.py JSON files of one machine and one model into one (a benchmark tool).

    python tests/benchmarks/merge_bench.py a.json b.json ... --out resources/benchmarks/h200.json --note "..."

Runs of the bench split by case (e.g. tests/benchmarks/gpu_session.sh, each step capped in time)
give one JSON each; the compute forecast (`compute.bench`) reads one. The files must agree on the
device, the model and the cells (else their rows are not comparable, and this refuses); their cases
and MD rows are concatenated (a case name twice is an error), their errors kept under the file's
name. Files that are missing are skipped with a message (a step that never started).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

SAME = ("device", "model", "atoms", "train", "val", "epochs", "workers", "tf32")


def merge(results: dict[str, dict], note: str = "") -> dict:
    """`results`: file name -> bench JSON.  One JSON with every case, MD row and error."""
    if not results:
        raise ValueError("no bench results to merge")
    first_name, first = next(iter(results.items()))
    merged = {**first, "cases": [], "md": [], "errors": {}, "sources": list(results)}
    for name, result in results.items():
        for key in SAME:
            if result.get(key) != first.get(key):
                raise ValueError(f"{name}: {key} = {result.get(key)!r}, but {first_name} has {first.get(key)!r}")
        merged["cases"] += result.get("cases", [])
        merged["md"] += result.get("md", [])
        merged["errors"].update({f"{name}: {what}": error for what, error in result.get("errors", {}).items()})
        merged["prepare_s"] = max(merged.get("prepare_s") or 0.0, result.get("prepare_s") or 0.0)
    names = [case["case"] for case in merged["cases"]]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"case names measured twice: {', '.join(twice)} (run the bench with --tag)")
    merged["total_s"] = round(sum(result.get("total_s") or 0.0 for result in results.values()), 1)
    if note:
        merged["note"] = note
    return merged


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--note", default="", help="where and how they were measured")
    args = parser.parse_args(argv)
    results = {}
    for path in args.files:
        if not path.exists():
            print(f"merge_bench: {path} missing, skipped")
            continue
        results[str(path)] = json.loads(path.read_text())
    merged = merge(results, args.note)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(json.dumps(merged, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"merge_bench: {len(merged['cases'])} cases, {len(merged['md'])} MD rows, {len(merged['errors'])} errors "
          f"from {len(results)} files -> {args.out}")
    return merged


if __name__ == "__main__":
    try:
        main()
    except ValueError as error:
        sys.exit(f"merge_bench: {error}")
