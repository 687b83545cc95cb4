# Synthetic (and demo "real") labels: one job per labeller and chunk, then merged in order.


rule acquire_potential:
    """A labeller's parameter file (GAP XML, ACE YAML), downloaded or copied, SHA-256 checked."""
    output:
        L.potential("{labeller}", "{filename}"),
    log:
        L.log("acquire/potentials/{labeller}/{filename}"),
    wildcard_constraints:
        filename=r"[^/]+",
    conda:
        "../../envs/analysis.yaml"
    params:
        spec=lambda wc: source_of(LABELLERS[wc.labeller]),
        what=lambda wc: f"labellers.{wc.labeller}",
    script:
        "../scripts/acquire.py"


rule label_chunk:
    """Energies (referenced to the labeller's isolated atom) and forces for one chunk, within the
    labeller's absolute caps (label_gates)."""
    input:
        unpack(label_inputs),
    output:
        frames=temp(L.label_chunk("{dataset}", "{labeller}", "{split}", "{chunk}", "extxyz")),
        summary=temp(L.label_chunk("{dataset}", "{labeller}", "{split}", "{chunk}", "json")),
    log:
        L.log("label/{dataset}/{labeller}/{split}.{chunk}"),
    benchmark:
        L.benchmark("label/{dataset}/{labeller}/{split}.{chunk}")
    conda:
        "../../envs/label.yaml"
    threads: 1
    params:
        options=lambda wc: labeller_params(LABELLERS[wc.labeller]),
        n_chunks=lambda wc: n_chunks(wc.dataset, wc.labeller, wc.split),
    script:
        "../scripts/label_chunk.py"


rule merge_labels:
    """Concatenate the chunks in order (as text: no re-parsing), less the split's robust outliers
    (label_gates); report dropped structures."""
    input:
        frames=label_chunks("extxyz"),
        summaries=label_chunks("json"),
    output:
        frames=L.labels("{dataset}", "{labeller}", "{split}"),
        summary=L.labels_summary("{dataset}", "{labeller}", "{split}"),
    log:
        L.log("label/{dataset}/{labeller}/{split}.merge"),
    conda:
        "../../envs/analysis.yaml"
    params:
        gates=lambda wc: LABELLERS[wc.labeller].get("gates") or {},
    script:
        "../scripts/merge_labels.py"


rule train_subset:
    """The first n labelled training structures (nested subsets, identical for every seed)."""
    input:
        frames=lambda wc: L.labels(wc.dataset, wc.labeller, "train"),
        summary=lambda wc: L.labels_summary(wc.dataset, wc.labeller, "train"),
    output:
        L.train_subset("{dataset}", "{labeller}", "{n}"),
    log:
        L.log("subset/{dataset}/{labeller}/train_n{n}"),
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/train_subset.py"
