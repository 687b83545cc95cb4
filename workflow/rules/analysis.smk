# Analyses behind Figs 4 and 5: MD stability runs and maps of atomic environments.


rule md_stability:
    """NVT heating ramp then hold with one packaged model; coordination, first unphysical event, drift."""
    input:
        package=model_file_pattern(RESULTS),
        structures=lambda wc: md_structure_file(),
    output:
        **{name: md_pattern(RESULTS, name) for name in ("summary", "frames", "trajectory")},
    log:
        "logs/md/{model}.log",
    benchmark:
        "benchmarks/md/{model}.tsv"
    conda:
        "../../envs/nequip.yaml"
    threads: THREADS
    resources:
        **gpu_resources("md"),
    params:
        md=lambda wc: config["md"],  # optional: only Fig 4 runs MD
        jobs_per_gpu=plan.jobs_per_gpu(config),
    script:
        "../scripts/md_stability.py"


rule environment_map:
    """SOAP vectors (quippy) of sampled environments, UMAP (umap-learn) fitted on the reference sets."""
    input:
        unpack(umap_inputs),
    output:
        L.umap("{figure}"),
    log:
        "logs/analysis/umap/{figure}.log",
    benchmark:
        "benchmarks/analysis/umap/{figure}.tsv"
    conda:
        "../../envs/label.yaml"
    params:
        spec=lambda wc: config["figures"][wc.figure]["umap"],
        reference=lambda wc: config["figures"][wc.figure]["umap"]["reference"],
        projected=lambda wc: config["figures"][wc.figure]["umap"]["projected"],
    script:
        "../scripts/environment_map.py"
