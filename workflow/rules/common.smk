# Paths, wildcard constraints and config look-ups: the only place that knows the layout.
import re
from pathlib import Path

from synpretrain.config import REFERENCE, check_config, finetune_model, source_model, stage_training
from synpretrain import plan
from synpretrain.plan import TrainingJob, experiment_packs, jobs_per_gpu, pack_of, packs, planned_jobs
from synpretrain.prepared_data import prepared_file

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
    stem=r"(data|labels)/[^.]+",
    rmax=r"[0-9.]+",
    pack=r"(pretrain|finetune|direct)-\d+",


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


def experiment_evals(name, pretrained=True):
    return plan.experiment_evals(config, name, RESULTS, pretrained)


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


def training_inputs(dataset, labeller, n, r_max):
    """A training job's data: `train` and `val` as the trainer reads them (prepared LMDB files at
    the model's r_max, or extxyz when `training.prepare_data` is off) and the labelled extxyz
    `labels` they come from (counted and hashed into the model's provenance)."""
    files = {"labels": train_subset(dataset, labeller, n), "val_labels": labelled_file(dataset, labeller, "val")}
    if not config["training"].get("prepare_data", True):
        return {**files, "train": files["labels"], "val": files["val_labels"]}
    return {**files, "train": prepared_file(files["labels"], r_max), "val": prepared_file(files["val_labels"], r_max)}


def target_files(target, n, r_max):
    spec = TARGETS[target]
    return training_inputs(spec["dataset"], spec["labeller"], n, r_max)


def source_files(source, npre):
    return training_inputs(source_dataset(source), SOURCES[source]["labeller"], npre, source_model(config, source)["r_max"])


def prepared_types(stem):
    """Type names of a prepared file: the element of the dataset in its path."""
    return [element_of(stem.split("/")[1])]


# --- sharing a GPU (train.smk, analysis.smk) -------------------------------------------------

PACKS = packs(config)
PACK_OF = pack_of(config)
PACK_RECORDS = {name: [f"{RESULTS}/packs/{p}.json" for p in experiment_packs(config, name)] for name in EXPERIMENTS}


def gpu_resources(stage, **override):
    """runtime, mem_mb and the GPU of a training or MD job (config `resources.<stage>`).

    On one machine the GPU is a count (`gpu: 1`) that `--resources gpu=S` limits.  Under a cluster
    executor it is the GRES string `gpu:1`: Snakemake adds up numeric resources over the jobs of a
    group, but keeps one value of a string, so a pack of K jobs (`resources.jobs_per_gpu`) still
    asks SLURM for one GPU."""
    spec = {**config.get("resources", {}).get(stage, {}), **override}
    gpus = spec.get("gpu", 1)
    # callables: which executor runs the jobs is known when the DAG is built, not when this is read
    return {"runtime": spec.get("runtime", 60), "mem_mb": spec.get("mem_mb", 4000),
            "gpu": lambda wc: 0 if workflow.non_local_exec else gpus,
            "gres": lambda wc: f"gpu:{gpus}" if gpus and workflow.non_local_exec else ""}


def pretrain_job(wc):
    return TrainingJob("pretrain", int(wc.npre), source=wc.source)


def finetune_job(wc):
    return TrainingJob("finetune", int(wc.n), source=wc.source, npre=int(wc.npre), target=wc.target, seed=int(wc.seed))


def direct_job(wc):
    return TrainingJob("direct", int(wc.n), target=wc.target, seed=int(wc.seed))


def eval_meta(job, testset):
    return job.eval_meta(testset, PRETRAIN.get("seed", 42))


def pack_group(job):
    """The job group of a training job: its pack, when K > 1 jobs share a GPU (else none)."""
    return PACK_OF.get(job.model)


def bench_file():
    """`compute.bench` as given, or (a relative path not found there) the copy in this repository."""
    path = Path(config["compute"]["bench"])
    return str(path if path.is_absolute() or path.exists() else Path(workflow.basedir) / path)


def pack_records(experiment):
    """The records of an experiment's packs: asking for its figure forms its packs (a pack's
    record needs all its jobs, which is what ties them into one job group)."""
    return PACK_RECORDS.get(experiment, [])


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
# the ledger is written after every other output of `all`, so that it sees every job's benchmark
LEDGER_AFTER = REPORTED + [f"{RESULTS}/tables/learning_curves.csv"] + [f"{RESULTS}/packs/{p}.json" for p in PACKS]
REPORTED += [f"{RESULTS}/tables/compute.csv", f"{RESULTS}/tables/compute_forecast.csv"]
FINAL_TARGETS = REPORTED + LEDGER_AFTER + [f"{RESULTS}/report.html"]
if "fig3" in EXPERIMENTS:
    FINAL_TARGETS += [f"{RESULTS}/tables/table1.{ext}" for ext in ("md", "tex")]
