"""Where every file of the workflow lives: the one module that spells out paths.

Rules take their output patterns from here (a `ModelId` or `Layout` called with wildcard
placeholders such as "{dataset}" formats the pattern), input functions the concrete paths, and
the compute ledger reads benchmark paths back.  Change a layout here and every rule, script and
table follows.

    results/data/<dataset>/{train,val,test}.extxyz, split.json, trajectories/density-<d>-T-<T>.extxyz
    results/labels/<dataset>/<labeller>/{train,val,test}.extxyz (+ .json), train_n<n>.extxyz
    results/models/<model>/model.nequip.zip, training.json      <model>: `ModelId.path`
    results/eval/<model>/<testset>.json
    results/md/<model>/stability.{json,csv}, trajectory.extxyz
    results/packs/<stage>-<i>.json, results/tables/*.csv, results/fig<k>.pdf
    results/logs/<kind>/...log, results/benchmarks/<kind>/...tsv  one per job (two configs with
                                                                 their own `results` never share one)
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from .config import REFERENCE, STAGES
PACKAGE = "model.nequip.zip"
SUMMARY = "training.json"
MD_OUTPUTS = {"summary": "stability.json", "frames": "stability.csv", "trajectory": "trajectory.extxyz"}
ALL = "all"  # the fine-tuning strategy of the paper: every weight trained on the real data


def fmt_number(x) -> str:
    """1.5 -> '1.5', 2000.0 -> '2000' (as in C-SYNTH file names)."""
    return f"{float(x):g}"


@dataclasses.dataclass(frozen=True, order=True)
class ModelId:
    """One trained model: what it was trained on, and so where each of its files lives."""
    stage: str                   # pretrain | finetune | direct
    n: int                       # training structures (npre for pre-training)
    source: str | None = None    # pre-training source (pretrain, finetune)
    npre: int | None = None      # parent's pre-training size (finetune)
    target: str | None = None    # real data set (finetune, direct)
    seed: int | None = None      # fine-tuning / direct seed
    strategy: str = ALL          # fine-tuning strategy (a name under `strategies:`; ALL: every weight)

    @classmethod
    def pattern(cls, stage: str, strategy: str = ALL) -> "ModelId":
        """The model of a rule's wildcards: its paths are the rule's patterns (`strategy="{strategy}"`:
        the fine-tuning rules of the strategies other than ALL)."""
        if stage == "pretrain":
            return cls(stage, "{npre}", source="{source}")
        if stage == "finetune":
            return cls(stage, "{n}", source="{source}", npre="{npre}", target="{target}", seed="{seed}",
                       strategy=strategy)
        return cls(stage, "{n}", target="{target}", seed="{seed}")

    @classmethod
    def from_wildcards(cls, stage: str, wildcards) -> "ModelId":
        get = getattr(wildcards, "get", None) or (lambda key, default=None: wildcards[key] if key in wildcards
                                                  else default)
        if stage == "pretrain":
            return cls(stage, int(get("npre")), source=get("source"))
        if stage == "finetune":
            return cls(stage, int(get("n")), source=get("source"), npre=int(get("npre")),
                       target=get("target"), seed=int(get("seed")), strategy=get("strategy", None) or ALL)
        return cls(stage, int(get("n")), target=get("target"), seed=int(get("seed")))

    @property
    def path(self) -> str:
        """The model's folder below `results/models/` (and `results/eval/`, `results/md/`); a
        strategy other than ALL is a folder below the target's, so the paper's paths stay as they were."""
        if self.stage == "pretrain":
            return f"pretrain/{self.source}/n{self.n}"
        if self.stage == "finetune":
            strategy = "" if self.strategy == ALL else f"{self.strategy}/"
            return f"finetune/{self.source}/n{self.npre}/{self.target}/{strategy}n{self.n}/seed{self.seed}"
        return f"direct/{self.target}/n{self.n}/seed{self.seed}"

    model = path  # the name the packing and the ledger use

    @property
    def parent(self) -> "ModelId | None":
        """The pre-trained model a fine-tuning starts from."""
        return ModelId("pretrain", self.npre, source=self.source) if self.stage == "finetune" else None

    def model_dir(self, results: str) -> str:
        return f"{results}/models/{self.path}"

    def package(self, results: str) -> str:
        return f"{self.model_dir(results)}/{PACKAGE}"

    def summary(self, results: str) -> str:
        return f"{self.model_dir(results)}/{SUMMARY}"

    def log(self, results: str) -> str:
        return f"{results}/logs/train/{self.path}.log"

    def benchmark(self, results: str) -> str:
        return f"{results}/benchmarks/train/{self.path}.tsv"

    @property
    def home_testset(self) -> str | None:
        """The test set of the real data it was trained on, evaluated by the training job itself
        (the model is already in memory there); None for a pre-trained model."""
        return None if self.stage == "pretrain" else self.target

    def eval_file(self, results: str, testset: str) -> str:
        return f"{results}/eval/{self.path}/{testset}.json"

    def eval_log(self, results: str, testset: str) -> str:
        return f"{results}/logs/eval/{self.path}/{testset}.log"

    def eval_benchmark(self, results: str, testset: str) -> str:
        return f"{results}/benchmarks/eval/{self.path}/{testset}.tsv"

    def eval_meta(self, testset: str, pretrain_seed: int) -> dict:
        """What identifies one evaluation (a row of the learning-curve table)."""
        return {"kind": self.stage, "source": self.source if self.stage != "direct" else "direct",
                "npre": self.npre if self.stage == "finetune" else (self.n if self.stage == "pretrain" else 0),
                "target": self.target, "n": 0 if self.stage == "pretrain" else self.n,
                "seed": pretrain_seed if self.stage == "pretrain" else self.seed, "testset": testset,
                "strategy": self.strategy}

    def md_file(self, results: str, output: str) -> str:
        """`output`: a key of MD_OUTPUTS (summary, frames, trajectory)."""
        return md_pattern(results, output).replace("{model}", self.path)


def model_regex() -> str:
    """The `{model}` wildcard (MD rules): any model path `ModelId.path` can write."""
    parts = []
    for stage, strategy in [(stage, ALL) for stage in STAGES] + [("finetune", "{strategy}")]:
        path = re.escape(ModelId.pattern(stage, strategy).path)
        path = re.sub(r"\\\{(npre|n|seed)\\\}", r"\\d+", path)
        parts.append(re.sub(r"\\\{\w+\\\}", r"[^/]+", path))
    return "|".join(parts)


def md_pattern(results: str, output: str) -> str:
    return f"{results}/md/{{model}}/{MD_OUTPUTS[output]}"


def model_file_pattern(results: str, name: str = PACKAGE) -> str:
    return f"{results}/models/{{model}}/{name}"


def benchmark_model(relative: Path) -> str | None:
    """The model a job's benchmark file (relative to `benchmarks/`) is about, or None:
    `train/finetune/a/n8/t/n4/seed1.tsv` -> `finetune/a/n8/t/n4/seed1`."""
    parts = relative.with_suffix("").parts
    if parts[0] in ("train", "md"):
        return "/".join(parts[1:])
    if parts[0] == "eval":
        return "/".join(parts[1:-1])
    return None


@dataclasses.dataclass(frozen=True)
class Layout:
    """Paths of data, labels, packs, tables and figures below `results` (and `downloads`)."""
    results: str = "results"
    downloads: str = "resources/data"

    # --- structures ---
    def trajectory(self, dataset: str, density, temperature) -> str:
        d, t = (x if str(x).startswith("{") else fmt_number(x) for x in (density, temperature))
        return f"{self.results}/data/{dataset}/trajectories/density-{d}-T-{t}.extxyz"

    def split(self, dataset: str, split: str) -> str:
        return f"{self.results}/data/{dataset}/{split}.extxyz"

    def split_summary(self, dataset: str) -> str:
        return f"{self.results}/data/{dataset}/split.json"

    def raw(self, dataset: str, filename: str) -> str:
        """Where a downloaded (or user-supplied) raw file is cached, named as published."""
        return f"{self.downloads}/{dataset}/{filename}"

    def potential(self, labeller: str, filename: str) -> str:
        return f"{self.downloads}/potentials/{labeller}/{filename}"

    # --- labels ---
    def labels(self, dataset: str, labeller: str, split: str) -> str:
        """Structures with energy + forces from `labeller` (REFERENCE: the dataset's own)."""
        if labeller == REFERENCE:
            return self.split(dataset, split)
        return f"{self.results}/labels/{dataset}/{labeller}/{split}.extxyz"

    def labels_summary(self, dataset: str, labeller: str, split: str) -> str:
        """The JSON next to a labelled split: how many structures it holds (and dropped)."""
        if labeller == REFERENCE:
            return self.split_summary(dataset)
        return f"{self.results}/labels/{dataset}/{labeller}/{split}.json"

    def label_chunk(self, dataset: str, labeller: str, split: str, chunk, ext: str) -> str:
        return f"{self.results}/labels/{dataset}/{labeller}/chunks/{split}.{chunk}.{ext}"

    def train_subset(self, dataset: str, labeller: str, n) -> str:
        return f"{self.results}/labels/{dataset}/{labeller}/train_n{n}.extxyz"

    # --- models (see ModelId), packs, analyses, tables, figures ---
    def pack(self, name: str) -> str:
        return f"{self.results}/packs/{name}.json"

    def umap(self, figure: str) -> str:
        return f"{self.results}/analysis/umap/{figure}.csv"

    def experiment_table(self, experiment: str, kind: str) -> str:
        """One experiment's evaluations (`runs`) and learning-curve points (`curves`): what its
        figure and tables are drawn from."""
        return f"{self.results}/tables/experiments/{experiment}.{kind}.csv"

    def table(self, name: str, ext: str = "csv") -> str:
        return f"{self.results}/tables/{name}.{ext}"

    def figure(self, name: str) -> str:
        return f"{self.results}/{name}.pdf"

    def effective_config(self) -> str:
        return f"{self.results}/config.yaml"

    def report(self, ext: str = "html") -> str:
        return f"{self.results}/report.{ext}"

    # --- one log and one benchmark file per job, inside the run's folder ---
    def log(self, name: str) -> str:
        return f"{self.results}/logs/{name}.log"

    def benchmark(self, name: str) -> str:
        return f"{self.results}/benchmarks/{name}.tsv"

    @property
    def benchmarks(self) -> str:
        """The folder of every job's benchmark file (what the compute ledger reads)."""
        return f"{self.results}/benchmarks"

    @property
    def third_party_logs(self) -> str:
        """Where tools that log into the working directory (the KIM API's kim.log) write instead."""
        return f"{self.results}/logs/third-party"
