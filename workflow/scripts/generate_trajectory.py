"""Snakemake script: one melt-quench-anneal trajectory -> extxyz."""
from synpretrain import labellers
from synpretrain.generation import MeltQuenchAnneal, n_frames, run_seeds, synthetic_trajectory
from synpretrain.io import write_extxyz
from synpretrain.runlog import progress, rule_log

if "snakemake" not in globals():  # run by hand: python workflow/scripts/generate_trajectory.py dataset=c-synth density=1.5 temperature=2000
    from synpretrain.mock import script_main

    snakemake = script_main("generate_trajectory")

with rule_log(snakemake.log[0], snakemake.threads) as log:
    spec = snakemake.params.spec
    gen = spec["generate"]
    density, temperature = float(snakemake.wildcards.density), float(snakemake.wildcards.temperature)
    run_id, seed = run_seeds(gen)[(density, temperature)]
    protocol = MeltQuenchAnneal(melt_T=gen["melt_T"], melt_ps=gen["melt_ps"], quench_ps=gen["quench_ps"],
                                anneal_ps=gen["anneal_ps"], timestep_fs=gen["timestep_fs"])
    composition = gen.get("composition", spec["element"])
    print(f"{snakemake.wildcards.dataset}: density {density} g/cm3, anneal {temperature} K, "
          f"run {run_id}, seed {seed}, {gen['n_atoms']} atoms of {composition}, "
          f"driven by {gen['driving_potential']}", flush=True)
    driver = gen["driving_potential"]
    # {labeller: NAME}: ASE MD with that labeller's calculator (any registry labeller; slower)
    calculator = None
    if isinstance(driver, dict) and "labeller" in driver:
        options = snakemake.params.labellers[driver["labeller"]]
        calculator = labellers.make_calculator(options["type"], options)
    bar = progress(n_frames(protocol) - 1, "MD frames", log)
    frames = synthetic_trajectory(gen["n_atoms"], density, temperature, run_id, seed,
                                  potential=gen["driving_potential"], element=composition,
                                  min_distance=gen["min_distance"], protocol=protocol, progress=bar,
                                  calculator=calculator)
    bar.close()
    write_extxyz(snakemake.output[0], frames)
    print(f"wrote {len(frames)} frames", flush=True)
