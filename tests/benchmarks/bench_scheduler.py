"""What Snakemake's own process costs while it runs jobs, with and without the work-around for its
self-multiplying wake-ups (`synpretrain.scheduler_timers`; a benchmark, not a test).

    .venv/bin/python tests/benchmarks/bench_scheduler.py                 # ~5 min on 2 cores
    .venv/bin/python tests/benchmarks/bench_scheduler.py --jobs 300 --repeats 1

A synthetic workflow: `--jobs` jobs that each sleep `--seconds` (so they cost no CPU) on `--cores`
cores, all ready from the start, every job with a resources function and an input file (what
Snakemake re-evaluates and stats for every waiting job on every pass of its loop). Runs alternate
between the two variants on the same machine; the table gives wall seconds, the CPU seconds of
Snakemake and its children (the jobs' `sleep` and shell cost ~2 ms each), and the most wake-up
timers Snakemake had pending at once (a watcher thread in the Snakefile).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "workflow"

SNAKEFILE = """
import sys, threading, time
if config["work_around"]:
    sys.path.insert(0, {library!r})
    from synpretrain.scheduler_timers import one_pending_reevaluation
    one_pending_reevaluation()

PEAK = [0]

def watch():
    while True:
        PEAK[0] = max(PEAK[0], sum(isinstance(t, threading.Timer) for t in threading.enumerate()))
        time.sleep(0.05)

threading.Thread(target=watch, daemon=True).start()

JOBS, SECONDS = {jobs}, {seconds}

rule all:
    input: expand("done/{{i}}.txt", i=range(JOBS))

rule seed:
    output: "seed/{{i}}.txt"
    shell: "touch {{output}}"

def memory(wildcards, attempt):
    return 1000 + int(wildcards.i) % 7

rule job:
    input: "seed/{{i}}.txt"
    output: "done/{{i}}.txt"
    resources: mem_mb=memory
    shell: "sleep {{SECONDS}}; touch {{output}}"

onsuccess:
    open("timers.txt", "w").write(str(PEAK[0]))
"""


def run_once(work_around: bool, jobs: int, seconds: float, cores: int) -> dict:
    """Run the synthetic workflow once in a temporary folder: wall and CPU seconds, most timers pending."""
    with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as folder:
        workdir = Path(folder)
        (workdir / "Snakefile").write_text(SNAKEFILE.format(
            library=str(LIBRARY), jobs=jobs, seconds=seconds))
        # the seeds first, so that the measured run has --jobs ready jobs from its start
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--quiet", "all", "--until", "seed",
                        "--config", "work_around=True"], cwd=workdir, check=True, capture_output=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet",
                        "--config", f"work_around={work_around}"], cwd=workdir, check=True, capture_output=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        timers = int((workdir / "timers.txt").read_text())
    return {"work_around": work_around, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "most_timers_pending": timers}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=1.0, help="each job's sleep")
    parser.add_argument("--cores", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    rows = []
    for _ in range(args.repeats):
        for work_around in (False, True):
            rows.append(run_once(work_around, args.jobs, args.seconds, args.cores))
            print(rows[-1], flush=True)
    print(f"\n{args.jobs} jobs of sleep {args.seconds} s on {args.cores} cores")
    print("| Snakemake | wall s | CPU s | most wake-up timers pending at once |\n| --- | --- | --- | --- |")
    for row in rows:
        name = "with the work-around" if row["work_around"] else "as is"
        print(f"| {name} | {row['wall_s']} | {row['cpu_s']} | {row['most_timers_pending']} |")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
