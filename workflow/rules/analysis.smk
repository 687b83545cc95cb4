# Analyses behind Figs 4 and 5: MD stability runs and maps of atomic environments.


rule md_stability:
    """NVT heating ramp then hold with one packaged model; coordination, first unphysical event, drift."""
    input:
        package=f"{RESULTS}/models/{{model}}/model.nequip.zip",
        structures=lambda wc: md_structure_file(),
    output:
        summary=f"{RESULTS}/md/{{model}}/stability.json",
        frames=f"{RESULTS}/md/{{model}}/stability.csv",
        trajectory=f"{RESULTS}/md/{{model}}/trajectory.extxyz",
    params:
        md=MD,
        jobs_per_gpu=jobs_per_gpu(config),
    log:
        "logs/md/{model}.log",
    benchmark:
        "benchmarks/md/{model}.tsv"
    threads: config.get("threads_per_job", 1)
    resources:
        **gpu_resources("md"),
    conda:
        "../../envs/nequip.yaml"
    script:
        "../scripts/md_stability.py"


rule environment_map:
    """SOAP vectors (quippy) of sampled environments, UMAP (umap-learn) fitted on the reference sets."""
    input:
        unpack(umap_inputs),
    output:
        f"{RESULTS}/analysis/umap/{{figure}}.csv",
    params:
        spec=lambda wc: FIGURES[wc.figure]["umap"],
        reference=lambda wc: FIGURES[wc.figure]["umap"]["reference"],
        projected=lambda wc: FIGURES[wc.figure]["umap"]["projected"],
    log:
        "logs/analysis/umap/{figure}.log",
    benchmark:
        "benchmarks/analysis/umap/{figure}.tsv"
    conda:
        "../../envs/label.yaml"
    script:
        "../scripts/environment_map.py"
