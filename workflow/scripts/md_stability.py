"""Snakemake script: MD stability of one packaged model (Fig 4d)."""
import ase.io
import numpy as np
import pandas as pd

from synpretrain.evaluation import load_calculator
from synpretrain.gpus import claim_gpu
from synpretrain.io import atomic_path, read_extxyz, write_json
from synpretrain.md_stability import HeatingProtocol, run
from synpretrain.runlog import progress, rule_log

with rule_log(snakemake.log[0], snakemake.threads) as log:
    md = dict(snakemake.params.md)
    frames = read_extxyz(snakemake.input.structures)
    target = md["structure"].get("density")
    index = 0 if target is None else int(np.argmin([abs(a.info.get("density", np.inf) - target) for a in frames]))
    start = frames[index]
    protocol = HeatingProtocol(**{k: md[k] for k in ("timestep_fs", "T_start", "T_end", "ramp_ps", "hold_ps",
                                                    "damping_ps", "frame_every_ps", "seed") if k in md})
    print(f"start: structure {index} of {snakemake.input.structures} ({len(start)} atoms, "
          f"density {start.info.get('density')}); {protocol}", flush=True)
    n_frames = int(round((protocol.ramp_ps + protocol.hold_ps) / protocol.frame_every_ps))
    bar = progress(n_frames, "MD frames", log)
    with atomic_path(snakemake.output.trajectory) as tmp:
        def save(atoms, row):
            snapshot = atoms.copy()
            snapshot.calc = None
            snapshot.info.update(time_ps=row["time_ps"], target_T=row["target_T"])
            ase.io.write(tmp, snapshot, format="extxyz", append=True)

        with claim_gpu():
            import torch  # only now: CUDA must not start before the GPU is chosen

            calc = load_calculator(snakemake.input.package, device="cuda" if torch.cuda.is_available() else "cpu")
            rows, summary = run(start, calc, protocol, cutoff=md.get("coordination_cutoff", 1.85),
                                high=md.get("high_coordination", 5), progress=bar, on_frame=save)
    bar.close()
    with atomic_path(snakemake.output.frames) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
    summary.update(model=snakemake.wildcards.model, start_index=index, n_atoms=len(start))
    write_json(snakemake.output.summary, summary)
    print(summary)
