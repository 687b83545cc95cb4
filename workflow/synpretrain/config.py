"""Cross-checks of the workflow config that a JSON schema cannot express.

The schema (config/schema.yaml) checks types, ranges and unknown keys; this module checks that
names refer to each other correctly, and fails with a message that names the offending key.
"""
from __future__ import annotations

from . import labellers as registry

STAGES = ("pretrain", "finetune", "direct")
REFERENCE = "reference"


class ConfigError(ValueError):
    pass


def check_config(config: dict) -> None:
    datasets, labellers = config["datasets"], config["labellers"]
    for name, spec in labellers.items():
        if spec["type"] not in registry.REGISTRY:
            raise ConfigError(f"labellers.{name}.type: unknown labeller type {spec['type']!r}; "
                              f"registered: {', '.join(sorted(registry.REGISTRY))}")
    for name, spec in datasets.items():
        if spec["source"] == "generate" and "generate" not in spec:
            raise ConfigError(f"datasets.{name}: source is `generate` but there is no `generate:` block")
    pretrain = config["pretrain"]
    if pretrain["dataset"] not in datasets:
        raise ConfigError(f"pretrain.dataset: {pretrain['dataset']!r} is not a key of `datasets`")
    for source in pretrain["sources"]:
        if source not in labellers:
            raise ConfigError(f"pretrain.sources: {source!r} is not a key of `labellers`")
    for name, target in config["targets"].items():
        if target["dataset"] not in datasets:
            raise ConfigError(f"targets.{name}.dataset: {target['dataset']!r} is not a key of `datasets`")
        if target["labeller"] != REFERENCE and target["labeller"] not in labellers:
            raise ConfigError(f"targets.{name}.labeller: {target['labeller']!r} is neither "
                              f"{REFERENCE!r} nor a key of `labellers`")
    fig3 = config["figures"].get("fig3")
    if fig3:
        if fig3["target"] not in config["targets"]:
            raise ConfigError(f"figures.fig3.target: {fig3['target']!r} is not a key of `targets`")
        if fig3["pretrain_size"] not in pretrain["sizes"]:
            raise ConfigError(f"figures.fig3.pretrain_size: {fig3['pretrain_size']} is not in pretrain.sizes")


def stage_training(config: dict, stage: str) -> dict:
    """The `training` block with the per-stage overrides applied (`training.<stage>`)."""
    if stage not in STAGES:
        raise ConfigError(f"unknown training stage {stage!r}")
    training = {k: v for k, v in config["training"].items() if k not in STAGES}
    training.update(config["training"].get(stage) or {})
    return training
