# Wildcard constraints and input functions. Paths come from synpretrain.layout, what a config
# plans (models, evaluations, packs, figure parameters, final targets) from synpretrain.plan.
import re
from pathlib import Path

from synpretrain import plan
from synpretrain.config import (
    REFERENCE,
    SCHEDULING,
    check_config,
    elements_of,
    finetune_model,
    labeller_params,
    source_model,
    training_params,
    without,
)
from synpretrain.gpus import job_resources
from synpretrain.input_files import check_inputs
from synpretrain.layout import ALL, Layout, ModelId, md_pattern, model_file_pattern, model_regex
from synpretrain.prepared_data import prepared_file
from synpretrain.user_data import extxyz_files

check_config(config)
if workflow.is_main_process:  # not again in each job that a cluster's node parses the workflow for
    check_inputs(config)  # every file the config names, and a user's extxyz data, before any job runs
plan.check_sizes(config)

RESULTS = config["results"]
L = Layout(RESULTS, config["downloads"])
DATASETS = config["datasets"]
LABELLERS = config["labellers"]
SOURCES = config["pretrain"]["sources"]
TARGETS = config["targets"]
EXPERIMENTS = config["experiments"]
THREADS = config["threads_per_job"]
PRETRAIN_SEED = config["pretrain"]["seed"]
# computed once per parse: packing looks at every planned job
PACKS = plan.packs(config)
PACK_OF = plan.pack_of(config)
PACK_RECORDS = {name: [L.pack(p) for p in plan.experiment_packs(config, name)] for name in EXPERIMENTS}
MD_PACKS = plan.md_packs(config)
MD_PACK_OF = {model.path: name for name, models in MD_PACKS.items() for model in models}


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
    model=model_regex(),
    density=r"[0-9.]+",
    temperature=r"[0-9.]+",
    stem=r"(data|labels)/[^.]+",
    rmax=r"[0-9.]+",
    pack=_alternatives(PACKS),
    md_pack=_alternatives(MD_PACKS),
    strategy=_alternatives(config["strategies"]),


# --- data (data.smk) ------------------------------------------------------------


def trajectory_files(dataset):
    gen = DATASETS[dataset]["generate"]
    return [L.trajectory(dataset, d, t) for d in gen["densities"] for t in gen["anneal_temperatures"]]


def source_of(spec):
    """Where a published file comes from (what an acquire job's output depends on)."""
    return {key: spec.get(key) for key in ("url", "path", "sha256")}


def driving_labeller(dataset):
    """The labeller block a `driving_potential: {labeller: NAME}` runs ASE MD with (what decides
    its forces), else None."""
    driver = DATASETS[dataset]["generate"]["driving_potential"]
    return labeller_params(LABELLERS[driver["labeller"]]) if isinstance(driver, dict) and "labeller" in driver else None


def raw_file(dataset):
    """A downloaded dataset's file: cached under downloads/ (a local `path:` of your own extxyz data
    is read in place: the file, or every *.extxyz / *.xyz file of the folder)."""
    spec = DATASETS[dataset]
    if spec.get("format") == "extxyz" and spec.get("path") and not spec.get("url"):
        return [str(p) for p in extxyz_files(Path(spec["path"]).expanduser())]
    return L.raw(dataset, Path(spec.get("url") or spec["path"]).name)


def assemble_inputs(wildcards):
    spec = DATASETS[wildcards.dataset]
    if spec["source"] == "generate":
        return {"trajectories": trajectory_files(wildcards.dataset)}
    if spec["source"] == "download":
        return {"raw": raw_file(wildcards.dataset)}
    parent = spec["derived"]
    return {split: L.labels(parent["from"], parent["labeller"], split) for split in ("train", "val", "test")}


# --- labels (label.smk) ---------------------------------------------------------


def n_chunks(dataset, labeller, split):
    """Parallel jobs for a split: `chunks` for the (large) train split, one for val and test; never
    more than the structures the split can hold, where the config decides that (no empty jobs)."""
    if split != "train":
        return 1
    planned = plan.split_sizes(config, dataset)
    return max(1, min(LABELLERS[labeller]["chunks"], planned["train"])) if planned else LABELLERS[labeller]["chunks"]


def potential_file(labeller):
    """A labeller's parameter file, when the workflow downloads it (`url:`); a `path:` is used in place."""
    url = LABELLERS[labeller].get("url")
    return L.potential(labeller, Path(url).name) if url else None


def label_inputs(wildcards):
    inputs = {
        "frames": L.split(wildcards.dataset, wildcards.split),
        "counts": L.split_summary(wildcards.dataset),
    }
    if potential_file(wildcards.labeller):
        inputs["potential"] = potential_file(wildcards.labeller)
    return inputs


def label_chunks(ext):
    def files(wildcards):
        chunks = range(n_chunks(wildcards.dataset, wildcards.labeller, wildcards.split))
        return [L.label_chunk(wildcards.dataset, wildcards.labeller, wildcards.split, c, ext) for c in chunks]

    return files


# --- training (train.smk) -------------------------------------------------------


def source_dataset(source):
    return SOURCES[source].get("dataset", config["pretrain"]["dataset"])


def type_names(dataset):
    """NequIP type names of the models trained on a dataset: its elements, sorted."""
    return elements_of(DATASETS, dataset)


def training_inputs(dataset, labeller, n, r_max):
    """A training job's data: `train` and `val` as the trainer reads them (prepared LMDB files at
    the model's r_max, or extxyz when `training.prepare_data` is off) and the labelled extxyz
    `labels` they come from (counted and hashed into the model's provenance)."""
    files = {"labels": L.train_subset(dataset, labeller, n), "val_labels": L.labels(dataset, labeller, "val")}
    if not config["training"]["prepare_data"]:
        return {**files, "train": files["labels"], "val": files["val_labels"]}
    return {**files, "train": prepared_file(files["labels"], r_max), "val": prepared_file(files["val_labels"], r_max)}


def target_files(target, n, r_max):
    spec = TARGETS[target]
    return training_inputs(spec["dataset"], spec["labeller"], n, r_max)


def finetune_files(wc):
    """A fine-tuning job's data (`target_files`), and for a replay strategy the parent's
    pre-training set (`replay`, at the fine-tuning cut-off)."""
    r_max = finetune_model(config, wc.source)["r_max"]
    files = target_files(wc.target, wc.n, r_max)
    strategy = plan.strategy_spec(config, wc.get("strategy", ALL))
    if strategy["type"] == "replay":
        pool = training_inputs(source_dataset(wc.source), SOURCES[wc.source]["labeller"], wc.npre, r_max)
        files.update(replay=pool["train"], replay_labels=pool["labels"])
    return files


def source_files(source, npre):
    return training_inputs(
        source_dataset(source), SOURCES[source]["labeller"], npre, source_model(config, source)["r_max"]
    )


def prepared_types(stem):
    """Type names of a prepared file: the elements of the dataset in its path."""
    return type_names(stem.split("/")[1])


def gpu_resources(stage, **override):
    return job_resources(config, stage, lambda: workflow.non_local_exec, **override)


def pack_group(stage):
    """The job group of a training job: its pack, when K > 1 jobs share a GPU (else none)."""
    return lambda wildcards: PACK_OF.get(ModelId.from_wildcards(stage, wildcards).path)


def pack_records(experiment):
    """The records of an experiment's packs: asking for its figure forms its packs (a pack's
    record needs all its jobs, which is what ties them into one job group)."""
    return PACK_RECORDS.get(experiment, [])


def bench_file():
    """`compute.bench` as given, or (a relative path not found there) the copy in this repository."""
    path = Path(config["compute"]["bench"])
    return str(path if path.is_absolute() or path.exists() else Path(workflow.basedir) / path)


# --- evaluation (evaluate.smk) --------------------------------------------------


def test_file(testset):
    spec = TARGETS[testset]
    return L.labels(spec["dataset"], spec["labeller"], "test")


def eval_meta(stage, home=False):
    """The identity of an evaluation: on the `testset` wildcard, or (`home`) on the target's own."""
    return lambda wc: ModelId.from_wildcards(stage, wc).eval_meta(wc.target if home else wc.testset, PRETRAIN_SEED)


def all_evals():
    return sorted({f for name in EXPERIMENTS for f in plan.experiment_evals(config, name, RESULTS)})


# --- analyses and figures (analysis.smk, figures.smk) ---------------------------


def md_structure_file():
    spec = config["md"]["structure"]
    return L.split(spec["dataset"], spec["split"])


def md_files(output):
    return {name: model.md_file(RESULTS, output) for name, model in plan.md_models(config).items()}


def umap_inputs(wildcards):
    spec = config["figures"][wildcards.figure]["umap"]
    return {
        "reference": [L.split(d, spec["split"]) for d in spec["reference"]],
        "projected": [L.split(d, spec["split"]) for d in spec["projected"]],
    }
