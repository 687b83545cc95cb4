# Analyses behind Figs 4 and 5: MD stability runs and maps of atomic environments.


rule md_stability:
    """NVT heating ramp then hold with one packaged model; coordination, first unphysical event, drift."""
    input:
        package=model_file_pattern(RESULTS),
        structures=lambda wc: md_structure_file(),
    output:
        **{name: md_pattern(RESULTS, name) for name in ("summary", "frames", "trajectory")},
    log:
        L.log("md/{model}"),
    benchmark:
        L.benchmark("md/{model}")
    group:
        lambda wc: MD_PACK_OF.get(wc.model)
    conda:
        "../../envs/nequip.yaml"
    threads: THREADS
    resources:
        **gpu_resources("md"),
    params:
        md=lambda wc: without(config["md"], SCHEDULING["md"]),  # optional: only Fig 4 runs MD
    script:
        "../scripts/md_stability.py"


rule md_pack:
    """The MD runs that shared one GPU allocation (`resources.jobs_per_gpu`, like training packs):
    the record of their pack, which also ties them into one job group."""
    input:
        lambda wc: [model.md_file(RESULTS, "summary") for model in MD_PACKS[wc.md_pack]],
    output:
        L.pack("{md_pack}"),
    log:
        L.log("packs/{md_pack}"),
    group:
        lambda wc: wc.md_pack
    conda:
        "../../envs/analysis.yaml"
    resources:
        **gpu_resources("pack", runtime=1, mem_mb=200, gpu=1),
    script:
        "../scripts/gpu_pack.py"


rule environment_map:
    """SOAP vectors (quippy) of sampled environments, UMAP (umap-learn) fitted on the reference sets."""
    input:
        unpack(umap_inputs),
    output:
        L.umap("{figure}"),
    log:
        L.log("analysis/umap/{figure}"),
    benchmark:
        L.benchmark("analysis/umap/{figure}")
    conda:
        "../../envs/label.yaml"
    params:
        spec=lambda wc: without(config["figures"][wc.figure]["umap"], ["colors"]),
        reference=lambda wc: config["figures"][wc.figure]["umap"]["reference"],
        projected=lambda wc: config["figures"][wc.figure]["umap"]["projected"],
    script:
        "../scripts/environment_map.py"
