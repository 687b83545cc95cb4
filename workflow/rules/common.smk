# Paths, wildcard constraints and config look-ups: the only place that knows the layout.
import json
import re
from pathlib import Path

from synpretrain.config import check_config, stage_training

RESULTS = config.get("results", "results")
check_config(config)

DATASETS = config["datasets"]
LABELLERS = config["labellers"]
PRETRAIN = config["pretrain"]
TARGETS = config["targets"]
REFERENCE = "reference"  # labeller name meaning "the dataset's own labels"


def _alternatives(names):
    return "|".join(sorted(re.escape(str(n)) for n in names)) or "(?!)"


wildcard_constraints:
    dataset=_alternatives(DATASETS),
    labeller=_alternatives(list(LABELLERS) + [REFERENCE]),
    source=_alternatives(LABELLERS),
    target=_alternatives(TARGETS),
    split="train|val|test",
    n=r"\d+",
    npre=r"\d+",
    seed=r"\d+",
    chunk=r"\d+",
    density=r"[0-9.]+",
    temperature=r"[0-9.]+",


def fmt_number(x):
    """1.5 -> '1.5', 2000.0 -> '2000' (as in C-SYNTH file names)."""
    return f"{float(x):g}"


def trajectory_files(dataset):
    gen = DATASETS[dataset]["generate"]
    return [
        f"{RESULTS}/data/{dataset}/trajectories/density-{fmt_number(d)}-T-{fmt_number(t)}.extxyz"
        for d in gen["densities"]
        for t in gen["anneal_temperatures"]
    ]


def labelled_file(dataset, labeller, split):
    """Structures with energy + forces from `labeller` (`reference`: the dataset's own)."""
    if labeller == REFERENCE:
        return f"{RESULTS}/data/{dataset}/{split}.extxyz"
    return f"{RESULTS}/labels/{dataset}/{labeller}/{split}.extxyz"


def train_subset(dataset, labeller, n):
    return f"{RESULTS}/labels/{dataset}/{labeller}/train_n{n}.extxyz"


def pretrain_dir(source, npre):
    return f"{RESULTS}/models/pretrain/{source}/n{npre}"


def finetune_dir(source, npre, target, n, seed):
    return f"{RESULTS}/models/finetune/{source}/n{npre}/{target}/n{n}/seed{seed}"


def direct_dir(target, n, seed):
    return f"{RESULTS}/models/direct/{target}/n{n}/seed{seed}"


def eval_file(model_dir, testset):
    return model_dir.replace(f"{RESULTS}/models/", f"{RESULTS}/eval/", 1) + f"/{testset}.json"


def learning_curve_evals():
    """Every evaluation the learning curves need: each model on its target's test set."""
    files = []
    for target, spec in TARGETS.items():
        for n in spec["sizes"]:
            for seed in spec["seeds"]:
                files.append(eval_file(direct_dir(target, n, seed), target))
                for source in PRETRAIN["sources"]:
                    for npre in PRETRAIN["sizes"]:
                        files.append(eval_file(finetune_dir(source, npre, target, n, seed), target))
        for source in PRETRAIN["sources"]:
            for npre in PRETRAIN["sizes"]:
                files.append(eval_file(pretrain_dir(source, npre), target))
    return files


FINAL_TARGETS = [
    f"{RESULTS}/fig3.pdf",
    f"{RESULTS}/tables/table1.csv",
    f"{RESULTS}/tables/table1.md",
    f"{RESULTS}/tables/table1.tex",
    f"{RESULTS}/tables/learning_curves.csv",
]
