"""The training jobs a config plans, read from its `experiments` alone (no data, no Snakemake).

One list serves three purposes: packing K training jobs onto one GPU (`packs`), the compute
forecast (`synpretrain.ledger`), and the tests that count a config's jobs.  A job is named by its
parameters, and `model_dir` is the one place that spells out where its model lives.
"""
from __future__ import annotations

import dataclasses

from .config import finetune_model, source_model, stage_training


@dataclasses.dataclass(frozen=True, order=True)
class TrainingJob:
    stage: str                   # pretrain | finetune | direct
    n: int                       # training structures (npre for pre-training)
    source: str | None = None    # pre-training source (pretrain, finetune)
    npre: int | None = None      # parent's pre-training size (finetune)
    target: str | None = None    # real data set (finetune, direct)
    seed: int | None = None      # fine-tuning / direct seed

    @property
    def model(self) -> str:
        """The model's path below `results/models/` (and `results/eval/`, `results/md/`)."""
        if self.stage == "pretrain":
            return f"pretrain/{self.source}/n{self.n}"
        if self.stage == "finetune":
            return f"finetune/{self.source}/n{self.npre}/{self.target}/n{self.n}/seed{self.seed}"
        return f"direct/{self.target}/n{self.n}/seed{self.seed}"

    def model_dir(self, results: str) -> str:
        return f"{results}/models/{self.model}"

    @property
    def home_testset(self) -> str | None:
        """The test set of the real data it was trained on, evaluated by the training job itself
        (the model is already in memory there); None for a pre-trained model."""
        return None if self.stage == "pretrain" else self.target

    def eval_file(self, results: str, testset: str) -> str:
        return f"{results}/eval/{self.model}/{testset}.json"

    def eval_meta(self, testset: str, pretrain_seed: int) -> dict:
        """What identifies one evaluation (a row of the learning-curve table)."""
        return {"kind": self.stage, "source": self.source if self.stage != "direct" else "direct",
                "npre": self.npre if self.stage == "finetune" else (self.n if self.stage == "pretrain" else 0),
                "target": self.target, "n": 0 if self.stage == "pretrain" else self.n,
                "seed": pretrain_seed if self.stage == "pretrain" else self.seed, "testset": testset}


def planned_jobs(config: dict) -> list[TrainingJob]:
    """Every training job of every experiment, once each, in a stable order."""
    jobs = set()
    for spec in config["experiments"].values():
        target = spec["target"]
        finetune_seeds = spec.get("finetune_seeds", spec["seeds"])
        for source in spec["sources"]:
            for npre in spec["pretrain_sizes"]:
                jobs.add(TrainingJob("pretrain", npre, source=source))
                jobs.update(TrainingJob("finetune", n, source=source, npre=npre, target=target, seed=seed)
                            for n in spec["sizes"] for seed in finetune_seeds)
        jobs.update(TrainingJob("direct", n, target=target, seed=seed) for n in spec["sizes"] for seed in spec["seeds"])
    return sorted(jobs, key=lambda j: (("pretrain", "finetune", "direct").index(j.stage), j.n, j.model))


def experiment_jobs(config: dict, experiment: str) -> list[TrainingJob]:
    return planned_jobs({**config, "experiments": {experiment: config["experiments"][experiment]}})


def experiment_evals(config: dict, experiment: str, results: str, pretrained: bool = True) -> list[str]:
    """Every evaluation an experiment needs: each of its models (`pretrained`: the pre-trained
    ones too) on each of its test sets (default: its target's)."""
    spec = config["experiments"][experiment]
    jobs = [job for job in experiment_jobs(config, experiment) if pretrained or job.stage != "pretrain"]
    return [job.eval_file(results, testset) for testset in spec.get("testsets", [spec["target"]]) for job in jobs]


def jobs_per_gpu(config: dict) -> int:
    return int(config.get("resources", {}).get("jobs_per_gpu", 1))


def experiments_of(config: dict) -> dict[str, tuple[str, ...]]:
    """model path -> the experiments (figures) that need it."""
    users: dict[str, list[str]] = {}
    for name in config["experiments"]:
        for job in experiment_jobs(config, name):
            users.setdefault(job.model, []).append(name)
    return {model: tuple(names) for model, names in users.items()}


def packs(config: dict) -> dict[str, list[TrainingJob]]:
    """Training jobs in packs of `resources.jobs_per_gpu` that share one GPU allocation.

    A pack holds jobs of one stage that the same experiments need (so asking for one figure
    trains nothing another figure alone needs), similar sizes together (so that its jobs end
    at about the same time).  Names are `<stage>-<index>`; with one job per GPU there are none."""
    k = jobs_per_gpu(config)
    if k <= 1:
        return {}
    users, jobs = experiments_of(config), planned_jobs(config)
    result = {}
    for stage in ("pretrain", "finetune", "direct"):
        by_users: dict[tuple[str, ...], list[TrainingJob]] = {}
        for job in jobs:
            if job.stage == stage:
                by_users.setdefault(users[job.model], []).append(job)
        chunks = [group[i: i + k] for group in by_users.values() for i in range(0, len(group), k)]
        result.update({f"{stage}-{index}": chunk for index, chunk in enumerate(chunks)})
    return result


def experiment_packs(config: dict, experiment: str) -> list[str]:
    """The packs whose jobs an experiment needs (every job of each is needed by it)."""
    users = experiments_of(config)
    return [name for name, members in packs(config).items() if experiment in users[members[0].model]]


def pack_of(config: dict) -> dict[str, str]:
    """model path -> its pack's name."""
    return {job.model: name for name, members in packs(config).items() for job in members}


def training_settings(config: dict, job: TrainingJob) -> tuple[dict, dict]:
    """(model architecture, training block) a job is trained with."""
    if job.stage == "pretrain":
        model = source_model(config, job.source)
    elif job.stage == "finetune":
        model = finetune_model(config, job.source)
    else:
        model = config["model"]
    return model, stage_training(config, job.stage)
