# Structures: generated (melt-quench-anneal MD), downloaded (with checksums) or derived from
# another dataset's labelled frames; filtered and split into train/val/test.


rule generate_trajectory:
    """One C-SYNTH-style melt-quench-anneal trajectory (LAMMPS), one frame per ps."""
    output:
        L.trajectory("{dataset}", "{density}", "{temperature}"),
    log:
        L.log("generate/{dataset}/density-{density}-T-{temperature}"),
    benchmark:
        L.benchmark("generate/{dataset}/density-{density}-T-{temperature}")
    conda:
        "../../envs/md.yaml"
    threads: 1
    params:
        generate=lambda wc: without(DATASETS[wc.dataset]["generate"], ["gates"]),
        element=lambda wc: DATASETS[wc.dataset]["element"],
        driver=lambda wc: driving_labeller(wc.dataset),
    script:
        "../scripts/generate_trajectory.py"


rule acquire_dataset:
    """A published raw file: copied from the user's `path`, or downloaded from `url`; SHA-256 checked."""
    output:
        L.raw("{dataset}", "{filename}"),
    log:
        L.log("acquire/{dataset}/{filename}"),
    wildcard_constraints:
        filename=r"[^/]+",
    conda:
        "../../envs/analysis.yaml"
    params:
        spec=lambda wc: source_of(DATASETS[wc.dataset]),
        what=lambda wc: f"datasets.{wc.dataset}",
    script:
        "../scripts/acquire.py"


rule assemble_dataset:
    """Parse, filter and split a dataset (docs/protocol.md): train/val/test extxyz + split.json."""
    input:
        unpack(assemble_inputs),
    output:
        train=L.split("{dataset}", "train"),
        val=L.split("{dataset}", "val"),
        test=L.split("{dataset}", "test"),
        summary=L.split_summary("{dataset}"),
    log:
        L.log("assemble/{dataset}"),
    benchmark:
        L.benchmark("assemble/{dataset}")
    conda:
        "../../envs/analysis.yaml"
    params:
        spec=lambda wc: DATASETS[wc.dataset],
    script:
        "../scripts/assemble_dataset.py"
