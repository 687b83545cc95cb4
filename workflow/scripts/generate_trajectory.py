"""Snakemake script: one melt-quench-anneal trajectory -> extxyz."""
from synpretrain import labellers
from synpretrain.generation import n_frames, protocol_of, run_seeds, synthetic_trajectory
from synpretrain.io import write_extxyz
from synpretrain.runlog import progress, rule_log
from synpretrain.structure_gates import Gates, check_trajectory, describe

if "snakemake" not in globals():  # run by hand: python workflow/scripts/generate_trajectory.py dataset=c-synth density=1.5 temperature=2000
    from synpretrain.mock import script_main

    snakemake = script_main("generate_trajectory")

with rule_log(snakemake.log[0], snakemake.threads) as log:
    # the params hold what decides the trajectory; the gates only judge it (read from the config)
    spec = snakemake.config["datasets"][snakemake.wildcards.dataset]
    gen = snakemake.params.generate
    density, temperature = float(snakemake.wildcards.density), float(snakemake.wildcards.temperature)
    run_id, seed = run_seeds(gen)[(density, temperature)]
    protocol = protocol_of(gen)
    composition = gen.get("composition", snakemake.params.element)
    print(f"{snakemake.wildcards.dataset}: density {density} g/cm3, anneal {temperature} K, "
          f"run {run_id}, seed {seed}, {gen['n_atoms']} atoms of {composition}, "
          f"driven by {gen['driving_potential']}", flush=True)
    driver = gen["driving_potential"]
    # {labeller: NAME}: ASE MD with that labeller's calculator (any registry labeller; slower)
    calculator = None
    if isinstance(driver, dict) and "labeller" in driver:
        options = snakemake.params.driver
        calculator = labellers.make_calculator(options["type"], options)
    bar = progress(n_frames(protocol) - 1, "MD frames", log)
    frames = synthetic_trajectory(gen["n_atoms"], density, temperature, run_id, seed,
                                  potential=gen["driving_potential"], element=composition,
                                  min_distance=gen["min_distance"], protocol=protocol, progress=bar,
                                  calculator=calculator)
    bar.close()
    # Judged before anything is written: a collapsed trajectory fails here, not as garbage labels.
    where = (f"datasets.{snakemake.wildcards.dataset}: trajectory density {density} g/cm3, anneal "
             f"{temperature} K (run {run_id}, seed {seed})")
    failed = check_trajectory(frames, Gates.of(spec), density, where)
    for index, failure in failed:
        print(f"structure gates: {describe(index, frames[index], failure)} (assembly drops it)", flush=True)
    write_extxyz(snakemake.output[0], frames)
    print(f"wrote {len(frames)} frames", flush=True)
