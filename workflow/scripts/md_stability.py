"""Snakemake script: MD stability of one packaged model (Fig 4d), resumable.

The partial trajectory and the run's state live next to the outputs (`md.partial.extxyz`,
`md.state.npz`); a job killed at its time limit and started again continues from the last
saved state.  The outputs appear only when the run has ended."""
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from synpretrain.evaluation import md_engine
from synpretrain.gpus import claim_gpu, shared_gpu
from synpretrain.io import atomic_path, read_extxyz, write_json
from synpretrain.md_stability import Checkpoint, HeatingProtocol, run
from synpretrain.plan import jobs_per_gpu, uses_mps
from synpretrain.runlog import progress, rule_log

if "snakemake" not in globals():  # run by hand: python workflow/scripts/md_stability.py model=direct/c-dense/n15/seed1
    from synpretrain.mock import script_main

    snakemake = script_main("md_stability")

with rule_log(snakemake.log[0], snakemake.threads) as log:
    md = dict(snakemake.config["md"])  # the params hold the part that decides the run (config.SCHEDULING)
    frames = read_extxyz(snakemake.input.structures)
    target = md["structure"].get("density")
    index = 0 if target is None else int(np.argmin([abs(a.info.get("density", np.inf) - target) for a in frames]))
    start = frames[index]
    protocol = HeatingProtocol(**{k: md[k] for k in ("timestep_fs", "T_start", "T_end", "ramp_ps", "hold_ps",
                                                    "damping_ps", "frame_every_ps", "seed") if k in md})
    print(f"start: structure {index} of {snakemake.input.structures} ({len(start)} atoms, "
          f"density {start.info.get('density')}); {protocol}", flush=True)
    work = Path(snakemake.output.summary).parent
    checkpoint = Checkpoint(work / "md.state.npz", work / "md.partial.extxyz", md["checkpoint_every_ps"])
    n_frames = int(round((protocol.ramp_ps + protocol.hold_ps) / protocol.frame_every_ps))
    bar = progress(n_frames, "MD frames", log)
    started_unix, clock = time.time(), time.perf_counter()
    # K runs on one GPU (a slot on a workstation, a pack under SLURM), through MPS with resources.mps
    with claim_gpu(jobs_per_gpu=jobs_per_gpu(snakemake.config)) as gpu, \
            shared_gpu(gpu, uses_mps(snakemake.config)) as mps:
        print(f"GPU: {gpu}; MPS: {mps}; SLURM job: {os.environ.get('SLURM_JOB_ID')}", flush=True)
        engine, description = md_engine(snakemake.input.package, md["engine"], work, log, md["compile"])
        rows, summary = run(start, engine, protocol, cutoff=md["coordination_cutoff"],
                            high=md["high_coordination"], progress=bar, checkpoint=checkpoint)
    bar.close()
    with atomic_path(snakemake.output.frames) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    summary.update(model=snakemake.wildcards.model, start_index=index, n_atoms=len(start), engine=description,
                   compiled_model=getattr(engine, "ran_compiled", False), gpu=gpu,
                   mps=mps, slurm_job_id=os.environ.get("SLURM_JOB_ID"), started_unix=round(started_unix, 3),
                   finished_unix=round(time.time(), 3), wall_time_s=round(time.perf_counter() - clock, 2))
    os.replace(checkpoint.trajectory, snakemake.output.trajectory)
    write_json(snakemake.output.summary, summary)
    checkpoint.state.unlink(missing_ok=True)
    print(summary)
