"""The shipped configs are valid, and bad ones fail with a message naming the key."""
import copy
import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from synpretrain import labellers
from synpretrain.config import ConfigError, check_config, finetune_model, schema_error, source_model

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "config" / "schema.yaml")
CONFIGS = ["config/config.yaml", "config/paper.yaml", "tests/data/tiny.yaml", "tests/data/slurm.yaml"]
DEMO = "config/config.yaml"


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


# --- labeller options: closed per registry type in the schema --------------------------------

def test_schema_lists_the_options_of_exactly_the_registered_labeller_types():
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    branches = schema["properties"]["labellers"]["additionalProperties"]["allOf"]
    types = []
    for branch in branches:
        condition = branch["if"]["properties"]["type"]
        types += [condition["const"]] if "const" in condition else condition["enum"]
        assert {"type", "chunks", "display"} <= set(branch["then"]["propertyNames"]["enum"])
    assert sorted(types) == sorted(labellers.REGISTRY)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["labellers"]["tersoff"].update(kim_modle=c["labellers"]["tersoff"].pop("kim_model")),
     "labellers.tersoff.kim_modle: unknown key; did you mean `kim_model`? (allowed here: chunks, display, gates, "
     "kim_model, type)"),
    (lambda c: c["labellers"]["chgnet"].update(path="chgnet.pt"), "labellers.chgnet.path: unknown key"),
    (lambda c: c["labellers"]["lcbop"].pop("potential"), "labellers.lcbop: 'potential' is a required property"),
    (lambda c: c["labellers"]["xtb"].update(method="GFN1-XTB"),
     "labellers.xtb.method: 'GFN1-XTB' is not one of GFN1-xTB, GFN2-xTB, IPEA1-xTB; did you mean `GFN1-xTB`?"),
    (lambda c: c["figures"]["fig5"].pop("umap"), "figures.fig5: 'umap' is a required property"),
    (lambda c: c["md"]["structure"].pop("dataset"), "md.structure: 'dataset' is a required property"),
    (lambda c: c["md"]["structure"].update(split="training"), "md.structure.split: 'training' is not one of"),
    (lambda c: c.update(resultz="out"), "resultz: unknown key; did you mean `results`?"),
    (lambda c: c["training"].update(max_epoch=3), "training.max_epoch: unknown key; did you mean `max_epochs`?"),
    (lambda c: c["training"].update(max_epochs="many"), "training.max_epochs: 'many' is not of type integer"),
], ids=["labeller-option-typo", "option-of-another-type", "labeller-missing-option", "xtb-method",
        "fig5-needs-umap", "md-structure-needs-dataset", "md-structure-split", "top-level-typo", "training-typo",
        "wrong-type"])
def test_schema_errors_are_a_line_naming_the_key_and_what_is_allowed(edit, message):
    config = load(DEMO)
    edit(config)
    with pytest.raises(Exception) as error:
        validate(config, SCHEMA)
    short = schema_error(error.value)
    assert short.startswith(message) and len(short.splitlines()) == 1, short


def test_an_unknown_labeller_type_passes_the_schema_and_is_named_by_check_config():
    config = load(DEMO)
    config["labellers"]["lcbop"]["type"] = "lammsp"
    validate(config, SCHEMA)
    with pytest.raises(ConfigError, match="labellers.lcbop.type: unknown labeller type 'lammsp'"):
        check_config(config)


# --- figures and md: every name they use is checked at start ----------------------------------

def drop(mapping, key):
    mapping.pop(key)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["experiments"].update(fig7=c["experiments"]["fig3"]),
     "experiments.fig7: no figure draws an experiment of that name, so its models would be trained and never "
     "shown (known: fig2, fig3, fig4, fig5, fig6)"),
    (lambda c: drop(c["figures"], "fig5"), "experiments.fig5: drawing it needs a `figures.fig5` block"),
    (lambda c: drop(c["experiments"], "fig5"), "figures.fig5: there is no `experiments.fig5` to draw"),
    (lambda c: c["figures"]["fig4"].update(general_testset="c-rael"),
     "figures.fig4.general_testset: 'c-rael' is not a target (known: c-dense, c-real, si-real)"),
    (lambda c: c["experiments"]["fig4"].update(testsets=["c-dense"]),
     "figures.fig4.general_testset: 'c-real' is not among experiments.fig4.testsets (c-dense)"),
    (lambda c: c["figures"]["fig4"].update(md_n=20), "figures.fig4.md_n: 20 is not among experiments.fig4.sizes (5, 15)"),
    (lambda c: c["figures"]["fig4"].update(md_seed=3), "figures.fig4.md_seed: 3 is not among experiments.fig4.seeds (1, 2)"),
    (lambda c: c["experiments"]["fig4"].update(finetune_seeds=[2]),
     "figures.fig4.md_seed: 1 is not among experiments.fig4.finetune_seeds (2)"),
    (lambda c: (drop(c["figures"]["fig4"], "md_seed"), c["experiments"]["fig4"].update(seeds=[3, 4])),
     "figures.fig4.md_seed: 1 is not among experiments.fig4.seeds (3, 4); 1 is its default: set it"),
    (lambda c: drop(c, "md"), "figures.fig4: Fig 4d's MD runs need an `md` block with `md.structure`"),
    (lambda c: c["figures"]["fig5"].update(bars_n=7), "figures.fig5.bars_n: 7 is not among experiments.fig5.sizes (5, 15)"),
    (lambda c: c["figures"]["fig4"]["umap"].update(reference=["c-synht"]),
     "figures.fig4.umap.reference: 'c-synht' is not a key of `datasets`"),
    (lambda c: c["figures"]["fig5"]["umap"].update(projected=["si-rael"]),
     "figures.fig5.umap.projected: 'si-rael' is not a key of `datasets`"),
    (lambda c: c["figures"]["fig5"]["umap"]["colors"].update({"c-real": "red"}),
     "figures.fig5.umap.colors: 'c-real' is neither a reference nor a projected dataset of this map"),
    (lambda c: c["md"]["structure"].update(dataset="c-synht"), "md.structure.dataset: 'c-synht' is not a key of `datasets`"),
    (lambda c: c["md"]["structure"].update(split="training"), "md.structure.split: 'training' is not one of train, val, test"),
    (lambda c: c["md"]["structure"].update(dataset="si-real"),
     "md.structure.dataset: 'si-real' has Si, but the MD models of fig4 are trained on C"),
], ids=["unknown-experiment", "experiment-without-figure-block", "figure-block-without-experiment",
        "general-testset-not-a-target", "general-testset-not-evaluated", "md-n-not-a-size", "md-seed-not-a-seed",
        "md-seed-not-a-finetune-seed", "default-md-seed", "fig4-without-md", "bars-n-not-a-size",
        "umap-reference", "umap-projected", "umap-colors", "md-structure-dataset", "md-structure-split",
        "md-structure-element"])
def test_figure_and_md_errors_name_the_key(edit, message):
    config = load(DEMO)
    edit(config)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(config)


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["experiments"]["fig6"].update(strategies=["all", "freez1"]),
     "experiments.fig6.strategies: 'freez1' is neither `all` nor a key of `strategies` (known: all, freeze1, replay)"),
    (lambda c: c["strategies"].update(all={"type": "freeze", "frozen_layers": 1}), "strategies.all: `all` is built in"),
    (lambda c: c["strategies"].update(f={"type": "freeze"}), "strategies.f: type freeze needs `frozen_layers`"),
    (lambda c: c["strategies"]["replay"].update(frozen_layers=1),
     "strategies.replay: frozen_layers is not a setting of type replay"),
    (lambda c: c["strategies"].update({"a/b": {"type": "replay", "fraction": 0.1}}),
     "strategies.a/b: a strategy name is a folder name"),
    (lambda c: c["figures"]["fig6"].update(general_testset="c-dense"),
     "figures.fig6.general_testset: 'c-dense' must be one of experiments.fig6.testsets (c-dense, c-real) other "
     "than its target"),
    (lambda c: c["experiments"]["fig6"].update(sources=["chgnet", "lcbop"]),
     "experiments.fig6: one source and one pretrain size"),
], ids=["unknown-strategy", "all-redefined", "freeze-without-layers", "setting-of-another-type", "not-a-folder-name",
        "general-is-the-target", "two-sources"])
def test_strategy_errors_name_the_key(edit, message):
    config = load(DEMO)
    edit(config)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(config)


def test_a_labeller_asked_for_an_element_it_does_not_cover_fails_at_start():
    config = load(DEMO)
    config["targets"]["si-real"]["labeller"] = "lcbop"           # LCBOP is carbon only
    with pytest.raises(ConfigError, match=r"targets\.si-real\.labeller: labeller 'lcbop' \(lammps\) cannot label Si "
                                          r"of dataset 'si-real'; it covers C"):
        check_config(config)
    config = load(DEMO)
    config["labellers"]["tersoff"]["kim_model"] = "Tersoff_LAMMPS_Tersoff_1989_SiC__MO_171585019474_002"
    config["datasets"]["c-synth"]["element"] = ["C", "Ge"]       # the model's name declares Si and C
    config["datasets"]["c-synth"]["generate"]["driving_potential"] = {"pair_style": "tersoff", "potential": "SiCGe.tersoff"}
    with pytest.raises(ConfigError, match="labeller 'tersoff' \\(kim\\) cannot label Ge"):
        check_config(config)


def test_multi_element_datasets_and_alchemical_maps():
    config = load(DEMO)
    for name in ("c-synth", "c-real", "c-dense"):
        config["datasets"][name]["element"] = ["Si", "C"]
        config["datasets"][name]["generate"]["driving_potential"] = "tersoff"       # SiC.tersoff
    config["labellers"]["lcbop"] = {"type": "lammps", "pair_style": "tersoff", "potential": "SiC.tersoff",
                                    "element": ["Si", "C"]}
    config["datasets"]["c-synth-si"]["derived"]["transform"] = {"type": "alchemical", "map": {"C": "Si"}, "scale": 1.5}
    with pytest.raises(ConfigError, match=r"datasets\.c-synth-si\.element: the transform of 'c-synth' gives Si, not"):
        config["datasets"]["c-synth-si"]["element"] = ["Ge"]
        check_config(config)
    config["datasets"]["c-synth-si"]["element"] = "Si"          # {Si, C} with C -> Si: Si only
    config["labellers"]["tersoff"]["kim_model"] = "Tersoff_LAMMPS_Tersoff_1989_SiC__MO_171585019474_002"
    validate(config, SCHEMA)
    check_config(config)
    from synpretrain.config import elements_of
    assert elements_of(config["datasets"], "c-real") == ["C", "Si"]


def test_an_alchemical_transform_needs_element_or_map():
    config = load(DEMO)
    config["datasets"]["c-synth-si"]["derived"]["transform"]["map"] = {"C": "Si"}
    with pytest.raises(ConfigError, match="give `element` .every atom. or `map`"):
        check_config(config)


def test_generation_composition_and_driving_potential_are_checked():
    config = load(DEMO)
    config["datasets"]["c-real"]["element"] = ["Si", "C"]
    config["datasets"]["c-real"]["generate"]["composition"] = {"Si": 1, "Ge": 1}
    with pytest.raises(ConfigError, match=r"datasets\.c-real\.generate\.composition: Ge, Si are not the dataset's"):
        check_config(config)
    config["datasets"]["c-real"]["generate"]["composition"] = "SiC"
    with pytest.raises(ConfigError, match=r"generate\.driving_potential: lcbop drives C, not Si"):
        check_config(config)
    config["datasets"]["c-real"]["generate"]["driving_potential"] = {"pair_style": "tersoff", "potential": "SiC.tersoff"}
    validate(config, SCHEMA)
    with pytest.raises(ConfigError, match="targets.c-real.labeller|experiments.fig"):   # now a Si-C target of C models
        check_config(config)


def test_a_yaml_syntax_error_names_file_and_line(tmp_path):
    from synpretrain.config import check_yaml

    path = tmp_path / "broken.yaml"
    path.write_text("datasets:\n  a: [1, 2\n  b: 3\n")
    with pytest.raises(ConfigError, match=r"broken.yaml, line 3, column 4: expected ',' or ']'"):
        check_yaml(str(path))
    check_yaml(DEMO)


def test_planned_split_sizes_and_the_size_check():
    """What a generated dataset can hold follows from its generate block and split (an upper
    bound: gates may drop frames); a size beyond it fails at start naming the key."""
    from synpretrain.plan import check_sizes, split_sizes

    config = load(DEMO)
    validate(config, SCHEMA)
    spec = config["datasets"]["c-synth"]
    gen = spec["generate"]
    runs = len(gen["densities"]) * len(gen["anneal_temperatures"])
    per_run = int(gen["melt_ps"] + gen["quench_ps"] + gen["anneal_ps"]) + 1 - int(spec["min_time"])
    sizes = split_sizes(config, "c-synth")
    assert sum(sizes.values()) == runs * per_run and sizes["test"] == spec["split"]["test_size"]
    check_sizes(config)
    config["experiments"]["fig3"]["pretrain_sizes"] = [sizes["train"] + 1]
    with pytest.raises(ConfigError, match=rf"experiments.fig3.pretrain_sizes: {sizes['train'] + 1} training"):
        check_sizes(config)
