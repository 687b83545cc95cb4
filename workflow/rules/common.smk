# Paths, wildcard constraints and config look-ups: the only place that knows the layout.
import re
from pathlib import Path

from synpretrain.config import REFERENCE, check_config, finetune_model, source_model, stage_training

check_config(config)

RESULTS = config.get("results", "results")
DOWNLOADS = config.get("downloads", "resources/data")
DATASETS = config["datasets"]
LABELLERS = config["labellers"]
PRETRAIN = config["pretrain"]
SOURCES = PRETRAIN["sources"]
TARGETS = config["targets"]
EXPERIMENTS = config["experiments"]
FIGURES = config.get("figures", {})
MD = config.get("md", {})


def _alternatives(names):
    return "|".join(sorted(re.escape(str(n)) for n in names)) or "(?!)"


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    labeller=_alternatives(list(LABELLERS) + [REFERENCE]),
    source=_alternatives(SOURCES),
    target=_alternatives(TARGETS),
    testset=_alternatives(TARGETS),
    split="train|val|test",
    n=r"\d+",
    npre=r"\d+",
    seed=r"\d+",
    chunk=r"\d+",
    figure=r"fig\d+",
    model=r"direct/[^/]+/n\d+/seed\d+|finetune/[^/]+/n\d+/[^/]+/n\d+/seed\d+|pretrain/[^/]+/n\d+",
    density=r"[0-9.]+",
    temperature=r"[0-9.]+",


def fmt_number(x):
    """1.5 -> '1.5', 2000.0 -> '2000' (as in C-SYNTH file names)."""
    return f"{float(x):g}"


# --- data ---------------------------------------------------------------------------------------


def trajectory_files(dataset):
    gen = DATASETS[dataset]["generate"]
    return [
        f"{RESULTS}/data/{dataset}/trajectories/density-{fmt_number(d)}-T-{fmt_number(t)}.extxyz"
        for d in gen["densities"]
        for t in gen["anneal_temperatures"]
    ]


def raw_file(dataset):
    """Where a downloaded (or user-supplied) raw file is cached, named as published."""
    spec = DATASETS[dataset]
    name = Path(spec.get("url") or spec["path"]).name
    return f"{DOWNLOADS}/{dataset}/{name}"


def labelled_file(dataset, labeller, split):
    """Structures with energy + forces from `labeller` (`reference`: the dataset's own)."""
    if labeller == REFERENCE:
        return f"{RESULTS}/data/{dataset}/{split}.extxyz"
    return f"{RESULTS}/labels/{dataset}/{labeller}/{split}.extxyz"


def train_subset(dataset, labeller, n):
    return f"{RESULTS}/labels/{dataset}/{labeller}/train_n{n}.extxyz"


def source_dataset(source):
    return SOURCES[source].get("dataset", PRETRAIN["dataset"])


def element_of(dataset):
    return DATASETS[dataset]["element"]


# --- models and evaluations ---------------------------------------------------------------------


def pretrain_dir(source, npre):
    return f"{RESULTS}/models/pretrain/{source}/n{npre}"


def finetune_dir(source, npre, target, n, seed):
    return f"{RESULTS}/models/finetune/{source}/n{npre}/{target}/n{n}/seed{seed}"


def direct_dir(target, n, seed):
    return f"{RESULTS}/models/direct/{target}/n{n}/seed{seed}"


def eval_file(model_dir, testset):
    return str(Path(model_dir.replace(f"{RESULTS}/models/", f"{RESULTS}/eval/", 1)) / f"{testset}.json")


def experiment_evals(name, pretrained=True):
    """Every evaluation an experiment needs: direct and fine-tuned models for each n and seed,
    and (`pretrained`) the pre-trained models themselves, on each of its test sets."""
    spec = EXPERIMENTS[name]
    target = spec["target"]
    testsets = spec.get("testsets", [target])
    finetune_seeds = spec.get("finetune_seeds", spec["seeds"])
    files = []
    for testset in testsets:
        for n in spec["sizes"]:
            files += [eval_file(direct_dir(target, n, seed), testset) for seed in spec["seeds"]]
            files += [
                eval_file(finetune_dir(source, npre, target, n, seed), testset)
                for source in spec["sources"]
                for npre in spec["pretrain_sizes"]
                for seed in finetune_seeds
            ]
        files += [
            eval_file(pretrain_dir(source, npre), testset)
            for source in spec["sources"]
            for npre in spec["pretrain_sizes"]
            if pretrained
        ]
    return files


def all_evals():
    return sorted({f for name in EXPERIMENTS for f in experiment_evals(name)})


def display(source):
    """How figures and tables show a pre-training source (its own display, else its labeller's)."""
    spec = SOURCES[source]
    return {**LABELLERS.get(spec["labeller"], {}).get("display", {}), **spec.get("display", {})}


# --- data (data.smk) ------------------------------------------------------------


def assemble_inputs(wildcards):
    spec = DATASETS[wildcards.dataset]
    if spec["source"] == "generate":
        return {"trajectories": trajectory_files(wildcards.dataset)}
    if spec["source"] == "download":
        return {"raw": raw_file(wildcards.dataset)}
    parent = spec["derived"]
    return {split: labelled_file(parent["from"], parent["labeller"], split) for split in ("train", "val", "test")}


# --- labels (label.smk) ---------------------------------------------------------


def n_chunks(labeller, split):
    """Parallel jobs for a split: `chunks` for the (large) train split, one for val and test."""
    return LABELLERS[labeller].get("chunks", 1) if split == "train" else 1


def potential_file(labeller):
    """A labeller's parameter file, when the workflow downloads it (`url:`); a `path:` is used in place."""
    url = LABELLERS[labeller].get("url")
    return f"{DOWNLOADS}/potentials/{labeller}/{Path(url).name}" if url else None


def label_inputs(wildcards):
    inputs = {
        "frames": f"{RESULTS}/data/{wildcards.dataset}/{wildcards.split}.extxyz",
        "counts": f"{RESULTS}/data/{wildcards.dataset}/split.json",
    }
    if potential_file(wildcards.labeller):
        inputs["potential"] = potential_file(wildcards.labeller)
    return inputs


def labels_summary(dataset, labeller, split):
    """The JSON next to a labelled split: how many structures it holds (and dropped)."""
    if labeller == REFERENCE:
        return f"{RESULTS}/data/{dataset}/split.json"
    return f"{RESULTS}/labels/{dataset}/{labeller}/{split}.json"


# --- training (train.smk) -------------------------------------------------------


def target_files(target, n):
    spec = TARGETS[target]
    return {
        "train": train_subset(spec["dataset"], spec["labeller"], n),
        "val": labelled_file(spec["dataset"], spec["labeller"], "val"),
    }


def source_files(source, npre):
    dataset, labeller = source_dataset(source), SOURCES[source]["labeller"]
    return {
        "train": train_subset(dataset, labeller, npre),
        "val": labelled_file(dataset, labeller, "val"),
    }


def gpu_resources(stage):
    """Training jobs hold one GPU each (on CPU-only machines the job simply runs on the CPU)."""
    spec = config.get("resources", {}).get(stage, {})
    return {"gpu": spec.get("gpu", 1), "runtime": spec.get("runtime", 60), "mem_mb": spec.get("mem_mb", 4000)}


# --- evaluation (evaluate.smk) --------------------------------------------------


def test_file(testset):
    spec = TARGETS[testset]
    return labelled_file(spec["dataset"], spec["labeller"], "test")


# --- figures and tables (figures.smk) -------------------------------------------


def experiment_params(name):
    spec = EXPERIMENTS.get(name, {})
    return {
        "target": spec.get("target"),
        "npre": max(spec.get("pretrain_sizes", [0])),
        "sources": spec.get("sources", []),
        "displays": {source: display(source) for source in spec.get("sources", [])},
    }


# --- analysis and figures beyond Fig 3 (analysis.smk, figures.smk) ---------------------------


def md_structure_file():
    spec = MD["structure"]
    return f"{RESULTS}/data/{spec['dataset']}/{spec.get('split', 'test')}.extxyz"


def fig4_md_models():
    """The two models whose MD stability Fig 4d compares: direct vs fine-tuned on the same data."""
    spec, experiment = FIGURES["fig4"], EXPERIMENTS["fig4"]
    n, seed = spec.get("md_n", max(experiment["sizes"])), spec.get("md_seed", experiment["seeds"][0])
    source, npre = experiment["sources"][0], max(experiment["pretrain_sizes"])
    return {
        "direct": direct_dir(experiment["target"], n, seed).replace(f"{RESULTS}/models/", "", 1),
        "finetune": finetune_dir(source, npre, experiment["target"], n, seed).replace(f"{RESULTS}/models/", "", 1),
    }


def md_files(kind):
    return {name: f"{RESULTS}/md/{model}/stability.{kind}" for name, model in fig4_md_models().items()}


def umap_inputs(wildcards):
    spec = FIGURES[wildcards.figure]["umap"]
    split = spec.get("split", "train")
    return {
        "reference": [f"{RESULTS}/data/{d}/{split}.extxyz" for d in spec["reference"]],
        "projected": [f"{RESULTS}/data/{d}/{split}.extxyz" for d in spec["projected"]],
    }


def figure_enabled(name):
    """A figure is built when its experiment is configured (and, for Figs 4-5, its settings)."""
    return name in EXPERIMENTS and (name in ("fig2", "fig3") or name in FIGURES)


REPORTED = [f"{RESULTS}/{name}.pdf" for name in ("fig2", "fig3", "fig4", "fig5") if figure_enabled(name)]
if "fig3" in EXPERIMENTS:
    REPORTED += [f"{RESULTS}/tables/table1.csv"]
FINAL_TARGETS = REPORTED + [f"{RESULTS}/tables/learning_curves.csv", f"{RESULTS}/report.html"]
if "fig3" in EXPERIMENTS:
    FINAL_TARGETS += [f"{RESULTS}/tables/table1.{ext}" for ext in ("md", "tex")]
