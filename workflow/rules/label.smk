# Synthetic (and demo "real") labels: one job per labeller and chunk, then merged in order.


def n_chunks(labeller):
    return LABELLERS[labeller].get("chunks", 1)


rule label_chunk:
    """Energies (referenced to the labeller's isolated atom) and forces for one chunk."""
    input:
        f"{RESULTS}/data/{{dataset}}/{{split}}.extxyz",
    output:
        frames=temp(f"{RESULTS}/labels/{{dataset}}/{{labeller}}/chunks/{{split}}.{{chunk}}.extxyz"),
        summary=temp(f"{RESULTS}/labels/{{dataset}}/{{labeller}}/chunks/{{split}}.{{chunk}}.json"),
    params:
        options=lambda wc: LABELLERS[wc.labeller],
        n_chunks=lambda wc: n_chunks(wc.labeller),
    log:
        "logs/label/{dataset}/{labeller}/{split}.{chunk}.log",
    benchmark:
        "benchmarks/label/{dataset}/{labeller}/{split}.{chunk}.tsv"
    threads: 1
    conda:
        "../../envs/label.yaml"
    script:
        "../scripts/label_chunk.py"


rule merge_labels:
    """Concatenate the chunks in order; report structures the labeller dropped."""
    input:
        frames=lambda wc: expand(
            f"{RESULTS}/labels/{wc.dataset}/{wc.labeller}/chunks/{wc.split}.{{chunk}}.extxyz",
            chunk=range(n_chunks(wc.labeller)),
        ),
        summaries=lambda wc: expand(
            f"{RESULTS}/labels/{wc.dataset}/{wc.labeller}/chunks/{wc.split}.{{chunk}}.json",
            chunk=range(n_chunks(wc.labeller)),
        ),
    output:
        frames=f"{RESULTS}/labels/{{dataset}}/{{labeller}}/{{split}}.extxyz",
        summary=f"{RESULTS}/labels/{{dataset}}/{{labeller}}/{{split}}.json",
    log:
        "logs/label/{dataset}/{labeller}/{split}.merge.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/merge_labels.py"


rule train_subset:
    """The first n labelled training structures (nested subsets, identical for every seed)."""
    input:
        lambda wc: labelled_file(wc.dataset, wc.labeller, "train"),
    output:
        f"{RESULTS}/labels/{{dataset}}/{{labeller}}/train_n{{n}}.extxyz",
    log:
        "logs/subset/{dataset}/{labeller}/train_n{n}.log",
    conda:
        "../../envs/analysis.yaml"
    script:
        "../scripts/train_subset.py"
