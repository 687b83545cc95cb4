"""Snakemake script: the record of a pack of training or MD jobs that shared one GPU allocation."""
import os
from pathlib import Path

from synpretrain.io import read_json, write_json
from synpretrain.runlog import rule_log

SPEEDS = ("train_structures_per_s", "steps_per_s")  # a training job's, an MD run's

with rule_log(snakemake.log[0], snakemake.threads):
    members = []
    for path in snakemake.input:
        summary = read_json(path)
        members.append({"model": os.path.dirname(path), "slurm_job_id": summary.get("slurm_job_id"),
                        "gpu": summary.get("gpu"), "started_unix": summary.get("started_unix"),
                        "finished_unix": summary.get("finished_unix"), "wall_time_s": summary.get("wall_time_s"),
                        **{key: summary[key] for key in SPEEDS if key in summary}})
    starts = [m["started_unix"] for m in members if m["started_unix"]]
    ends = [m["finished_unix"] for m in members if m["finished_unix"]]
    record = {"pack": Path(snakemake.output[0]).stem, "jobs": len(members), "members": members,
              "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
              "overlap_s": round(min(ends) - max(starts), 2) if starts and ends else None}
    write_json(snakemake.output[0], record)
    print(record)
