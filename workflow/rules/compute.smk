# What the run cost and what a config will cost (GPU-hours, kWh, kg CO2): docs/cost.md.


rule compute_ledger:
    """Job-, CPU- and GPU-hours, kWh and kg CO2 of this run, per stage and per figure, from the
    `<results>/benchmarks/` files of its jobs (written after everything else of `all`)."""
    input:
        after=plan.ledger_after(config, L),
        trainings=[job.summary(RESULTS) for job in plan.planned_jobs(config)],
    output:
        report(L.table("compute"), caption="../report/compute.rst", category="Tables"),
    log:
        L.log("tables/compute"),
    conda:
        "../../envs/analysis.yaml"
    params:
        benchmarks=L.benchmarks,
        config=config,  # a changed config (watts, packing, experiments) rewrites the ledger
    script:
        "../scripts/compute_ledger.py"


rule compute_forecast:
    """GPU-hours the config's training and MD jobs will take on the GPU of a bench JSON."""
    input:
        bench=bench_file(),
    output:
        report(L.table("compute_forecast"), caption="../report/compute_forecast.rst", category="Tables"),
    log:
        L.log("tables/compute_forecast"),
    conda:
        "../../envs/analysis.yaml"
    params:
        config=config,  # the forecast is of this config: another one rewrites it
    script:
        "../scripts/compute_forecast.py"
