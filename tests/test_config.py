"""The shipped configs are valid, and bad ones fail with a message naming the key."""
import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from synpretrain.config import ConfigError, check_config, finetune_model, source_model

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "config" / "schema.yaml")
CONFIGS = ["config/config.yaml", "config/paper.yaml", "tests/data/tiny.yaml"]


def load(name):
    config = yaml.safe_load((REPO / name).read_text())
    validate(config, SCHEMA)
    return config


@pytest.mark.parametrize("name", CONFIGS)
def test_shipped_configs_are_valid(name):
    check_config(load(name))


def test_paper_config_has_the_protocol_numbers():
    config = load("config/paper.yaml")
    experiments = config["experiments"]
    assert experiments["fig3"]["sizes"] == [25, 50, 100, 200, 400, 800, 1600, 3200]
    assert experiments["fig3"]["pretrain_sizes"] == [10000]
    assert experiments["fig2"]["pretrain_sizes"] == [100, 330, 1000, 3300, 10000, 33000, 100000]
    assert experiments["fig4"]["sizes"] == [15, 30, 60, 120, 240]
    assert experiments["fig5"]["sizes"] == [25, 100, 400, 1600]
    assert all(e["seeds"] == [1, 2, 3, 4, 42] for e in experiments.values())
    assert config["datasets"]["c-gap-17"]["energy_reference"] == {"C": -148.314002}
    assert config["datasets"]["si-gap-18"]["energy_reference"] == {"Si": -158.54496821}
    assert config["datasets"]["c-synth"]["split"] == {"test_size": 1000, "val_size": 100, "seed": 42, "test_fraction": 0.1}
    assert (config["model"]["num_layers"], config["model"]["num_features"], config["model"]["r_max"]) == (4, 32, 4.0)
    assert source_model(config, "c-ace-si-r6")["r_max"] == 6.0 and source_model(config, "c-ace-si")["r_max"] == 4.0
    assert finetune_model(config, "c-ace-si-r6")["r_max"] == 4.0 and finetune_model(config, "c-ace-si")["r_max"] == 4.0


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["model"].update(num_layerz=2), "num_layerz"),
    (lambda c: c["training"].update(max_epochs="many"), "max_epochs"),
    (lambda c: c["datasets"]["c-synth"].update(source="ftp"), "ftp"),
])
def test_schema_errors_name_the_key(edit, message):
    config = load("tests/data/tiny.yaml")
    edit(config)
    with pytest.raises(Exception, match=message):
        validate(config, SCHEMA)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["labellers"]["lcbop"].update(type="gap-99"), "labellers.lcbop.type: unknown labeller type 'gap-99'"),
    (lambda c: c["pretrain"]["sources"].update(edip={"labeller": "edip"}), "pretrain.sources.edip.labeller"),
    (lambda c: c["experiments"]["fig3"].update(sources=["lcbop", "gap"]), "experiments.fig3.sources: 'gap'"),
    (lambda c: c["experiments"]["fig3"].update(target="c-gap-17"), "experiments.fig3.target"),
    (lambda c: c["targets"]["c-real"].update(labeller="reference"), "targets.c-real.labeller: 'c-real' carries no labels"),
    (lambda c: c["datasets"].update(si={"source": "derived", "element": "Si",
                                        "derived": {"from": "c-syn", "labeller": "lcbop",
                                                    "transform": {"type": "alchemical", "element": "Si", "scale": 1.5}}}),
     "datasets.si.derived.from: 'c-syn'"),
])
def test_cross_reference_errors_name_the_key(edit, message):
    config = copy.deepcopy(load("tests/data/tiny.yaml"))
    edit(config)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_config(config)


def test_a_carbon_model_cannot_be_fine_tuned_on_silicon():
    config = load("config/paper.yaml")
    config["experiments"]["fig5"]["sources"] = ["c-ace"]
    with pytest.raises(ConfigError, match="pre-trained on C but the target 'si' is Si"):
        check_config(config)
