"""Cross-checks of the workflow config that a JSON schema cannot express.

The schema (config/schema.yaml) checks types, ranges and unknown keys; this module checks that
names refer to each other correctly, and fails with a message that names the offending key.
It never touches the file system: planning a paper-scale DAG must not need its data.
"""
from __future__ import annotations

from . import labellers as registry

STAGES = ("pretrain", "finetune", "direct")
REFERENCE = "reference"  # labeller name meaning "the dataset's own labels"
LABELLED_FORMATS = {"c-gap-17", "c-gap-20u", "si-gap-18"}


class ConfigError(ValueError):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def has_own_labels(datasets: dict, name: str) -> bool:
    spec = datasets[name]
    return spec["source"] == "derived" or spec.get("format") in LABELLED_FORMATS


def check_config(config: dict) -> None:
    datasets, labellers = config["datasets"], config["labellers"]
    _require(REFERENCE not in labellers, f"labellers.{REFERENCE}: the name is reserved for a dataset's own labels")
    for name, spec in labellers.items():
        _require(spec["type"] in registry.REGISTRY,
                 f"labellers.{name}.type: unknown labeller type {spec['type']!r}; "
                 f"registered: {', '.join(sorted(registry.REGISTRY))}")

    def labeller_of(key: str, dataset: str, labeller: str) -> None:
        if labeller == REFERENCE:
            _require(has_own_labels(datasets, dataset),
                     f"{key}: {dataset!r} carries no labels of its own, so it cannot use {REFERENCE!r}")
        else:
            _require(labeller in labellers, f"{key}: {labeller!r} is neither {REFERENCE!r} nor a key of `labellers`")

    for name, spec in datasets.items():
        if spec["source"] == "download":
            _require(bool(spec.get("url") or spec.get("path")),
                     f"datasets.{name}: a downloaded dataset needs `url:` or `path:`")
        if spec["source"] == "derived":
            parent = spec["derived"]["from"]
            _require(parent in datasets and parent != name,
                     f"datasets.{name}.derived.from: {parent!r} is not another key of `datasets`")
            labeller_of(f"datasets.{name}.derived.labeller", parent, spec["derived"]["labeller"])

    pretrain = config["pretrain"]
    _require(pretrain["dataset"] in datasets, f"pretrain.dataset: {pretrain['dataset']!r} is not a key of `datasets`")
    for name, source in pretrain["sources"].items():
        dataset = source.get("dataset", pretrain["dataset"])
        _require(dataset in datasets, f"pretrain.sources.{name}.dataset: {dataset!r} is not a key of `datasets`")
        labeller_of(f"pretrain.sources.{name}.labeller", dataset, source["labeller"])

    for name, target in config["targets"].items():
        _require(target["dataset"] in datasets,
                 f"targets.{name}.dataset: {target['dataset']!r} is not a key of `datasets`")
        labeller_of(f"targets.{name}.labeller", target["dataset"], target["labeller"])

    for name, experiment in config["experiments"].items():
        key = f"experiments.{name}"
        _require(experiment["target"] in config["targets"],
                 f"{key}.target: {experiment['target']!r} is not a key of `targets`")
        target_element = datasets[config["targets"][experiment["target"]]["dataset"]]["element"]
        for source in experiment["sources"]:
            _require(source in pretrain["sources"], f"{key}.sources: {source!r} is not a key of `pretrain.sources`")
            element = datasets[pretrain["sources"][source].get("dataset", pretrain["dataset"])]["element"]
            _require(element == target_element, f"{key}.sources: {source!r} is pre-trained on {element} but "
                     f"the target {experiment['target']!r} is {target_element}; use an alchemical dataset")
        for testset in experiment.get("testsets", []):
            _require(testset in config["targets"], f"{key}.testsets: {testset!r} is not a key of `targets`")
            element = datasets[config["targets"][testset]["dataset"]]["element"]
            _require(element == target_element, f"{key}.testsets: {testset!r} is {element}, but the models of "
                     f"{name} are trained on {target_element}")


def stage_training(config: dict, stage: str) -> dict:
    """The `training` block with the per-stage overrides applied (`training.<stage>`)."""
    if stage not in STAGES:
        raise ConfigError(f"unknown training stage {stage!r}")
    training = {k: v for k, v in config["training"].items() if k not in STAGES}
    training.update(config["training"].get(stage) or {})
    return training


def source_model(config: dict, source: str) -> dict:
    """The model block of a pre-training source (`pretrain.sources.<name>.model` overrides)."""
    return {**config["model"], **(config["pretrain"]["sources"][source].get("model") or {})}


def finetune_model(config: dict, source: str) -> dict:
    """The architecture a source's models are fine-tuned with: the parent's, at
    `pretrain.sources.<name>.finetune_r_max` where that is given (Fig 5a's r_max 6 -> 4)."""
    model = source_model(config, source)
    r_max = config["pretrain"]["sources"][source].get("finetune_r_max")
    return model if r_max is None else {**model, "r_max": float(r_max)}
