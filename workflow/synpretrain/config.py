"""Cross-checks of the workflow config that a JSON schema cannot express.

The schema (config/schema.yaml) checks types, ranges and unknown keys (each labeller type's options
among them); this module checks that names refer to each other correctly (`figures` and `md` too: an
error there must show at start, not in a figure job after the training), and fails with a message
that names the offending key.
It never touches the file system: planning a paper-scale DAG must not need its data.
"""
from __future__ import annotations

import re

from . import labellers as registry
from .generation import DRIVING_ELEMENTS

STAGES = ("pretrain", "finetune", "direct")
REFERENCE = "reference"  # labeller name meaning "the dataset's own labels"
LABELLED_FORMATS = {"c-gap-17", "c-gap-20u", "si-gap-18", "extxyz"}
# The experiments a figure draws (workflow/rules/figures.smk); Figs 4 and 5 also need `figures.<name>`.
FIGURES = ("fig2", "fig3", "fig4", "fig5", "fig6")
FIGURE_SETTINGS = ("fig4", "fig5", "fig6")
STRATEGY_PARAMETER = {"freeze": "frozen_layers", "replay": "fraction"}  # what each strategy type needs
SPLITS = ("train", "val", "test")


class ConfigError(ValueError):
    pass


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _known(names) -> str:
    return ", ".join(str(name) for name in sorted(names)) or "none"


def elements_of(datasets: dict, name: str) -> list[str]:
    """A dataset's elements, sorted (its `element`: one symbol or a list): the NequIP type names
    of every model trained on it."""
    return registry.as_elements(datasets[name]["element"])


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
            return
        _require(labeller in labellers, f"{key}: {labeller!r} is neither {REFERENCE!r} nor a key of `labellers`")
        covered = registry.REGISTRY[labellers[labeller]["type"]].covers(labellers[labeller])
        if covered is not None:
            missing = sorted(set(elements_of(datasets, dataset)) - covered)
            _require(not missing, f"{key}: labeller {labeller!r} ({labellers[labeller]['type']}) cannot label "
                     f"{', '.join(missing)} of dataset {dataset!r}; it covers {_known(covered)}")

    for name, spec in datasets.items():
        if spec["source"] == "generate":
            _check_generation(name, spec)
            driver = spec["generate"].get("driving_potential")
            if isinstance(driver, dict) and "labeller" in driver:
                labeller_of(f"datasets.{name}.generate.driving_potential.labeller", name, driver["labeller"])
        if spec["source"] == "download":
            _require(bool(spec.get("url") or spec.get("path")),
                     f"datasets.{name}: a downloaded dataset needs `url:` or `path:`")
        if spec["source"] == "derived":
            parent = spec["derived"]["from"]
            _require(parent in datasets and parent != name,
                     f"datasets.{name}.derived.from: {parent!r} is not another key of `datasets`")
            labeller_of(f"datasets.{name}.derived.labeller", parent, spec["derived"]["labeller"])
            transform = spec["derived"]["transform"]
            _require(("element" in transform) != ("map" in transform),
                     f"datasets.{name}.derived.transform: give `element` (every atom) or `map` (element -> element)")
            produced = ({transform["element"]} if "element" in transform
                        else {transform["map"].get(e, e) for e in elements_of(datasets, parent)})
            _require(produced == set(elements_of(datasets, name)), f"datasets.{name}.element: the transform of "
                     f"{parent!r} gives {_known(produced)}, not {_known(elements_of(datasets, name))}")

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
        target_elements = elements_of(datasets, config["targets"][experiment["target"]]["dataset"])
        for source in experiment["sources"]:
            _require(source in pretrain["sources"], f"{key}.sources: {source!r} is not a key of `pretrain.sources`")
            elements = elements_of(datasets, pretrain["sources"][source].get("dataset", pretrain["dataset"]))
            # a fine-tuned model keeps its parent's type names: the same elements
            _require(elements == target_elements, f"{key}.sources: {source!r} is pre-trained on {_known(elements)} but "
                     f"the target {experiment['target']!r} is {_known(target_elements)}; use an alchemical dataset")
        for testset in experiment.get("testsets", []):
            _require(testset in config["targets"], f"{key}.testsets: {testset!r} is not a key of `targets`")
            elements = elements_of(datasets, config["targets"][testset]["dataset"])
            _require(set(elements) <= set(target_elements), f"{key}.testsets: {testset!r} has {_known(elements)}, but "
                     f"the models of {name} are trained on {_known(target_elements)}")

    _check_figures(config)
    _check_strategies(config)


def _check_generation(name: str, spec: dict) -> None:
    gen, elements = spec["generate"], set(registry.as_elements(spec["element"]))
    composition = gen.get("composition")
    if composition is not None:
        symbols = set(composition) if isinstance(composition, dict) else set(re.findall(r"[A-Z][a-z]?", composition))
        _require(symbols == elements, f"datasets.{name}.generate.composition: {_known(symbols)} are not the "
                 f"dataset's elements ({_known(elements)})")
    potential = gen.get("driving_potential", "lcbop")
    if isinstance(potential, str):
        _require(elements <= DRIVING_ELEMENTS[potential], f"datasets.{name}.generate.driving_potential: {potential} "
                 f"drives {_known(DRIVING_ELEMENTS[potential])}, not {_known(elements - DRIVING_ELEMENTS[potential])}; "
                 f"give {{pair_style: ..., potential: FILE}} for another material")


def _check_strategies(config: dict) -> None:
    """Named strategies have what their type needs, and experiments name strategies that exist."""
    strategies = config.get("strategies") or {}
    _require("all" not in strategies, "strategies.all: `all` is built in (every weight trained); choose another name")
    for name, spec in strategies.items():
        needed = STRATEGY_PARAMETER[spec["type"]]
        _require(needed in spec, f"strategies.{name}: type {spec['type']} needs `{needed}`")
        extra = set(spec) - {"type", needed}
        _require(not extra, f"strategies.{name}: {', '.join(sorted(extra))} is not a setting of type {spec['type']}")
        _require(re.fullmatch(r"[A-Za-z0-9_-]+", name) is not None,
                 f"strategies.{name}: a strategy name is a folder name: letters, digits, - and _")
    for experiment, spec in config["experiments"].items():
        for name in spec.get("strategies", ["all"]):
            _require(name == "all" or name in strategies,
                     f"experiments.{experiment}.strategies: {name!r} is neither `all` nor a key of `strategies` "
                     f"(known: {_known(['all', *strategies])})")
    fig6 = config["experiments"].get("fig6")
    if fig6 is not None:
        _require(len(fig6["sources"]) == 1 and len(fig6["pretrain_sizes"]) == 1,
                 "experiments.fig6: one source and one pretrain size (the strategies are what varies)")


def _check_figures(config: dict) -> None:
    """Every experiment is drawn by a figure, and what `figures` and `md` name exists: a wrong name
    fails here, at start, not in the figure job after the training."""
    datasets, targets, experiments = config["datasets"], config["targets"], config["experiments"]
    figures = config.get("figures") or {}
    for name in experiments:
        _require(name in FIGURES, f"experiments.{name}: no figure draws an experiment of that name, so its models "
                 f"would be trained and never shown (known: {', '.join(FIGURES)})")
        if name in FIGURE_SETTINGS:
            _require(name in figures, f"experiments.{name}: drawing it needs a `figures.{name}` block "
                     f"(see config/README.md); add one or remove the experiment")
    for name in figures:
        _require(name in experiments, f"figures.{name}: there is no `experiments.{name}` to draw "
                 f"(configured: {_known(experiments)})")

    if "fig4" in figures:
        spec, experiment = figures["fig4"], experiments["fig4"]
        general = spec["general_testset"]
        _require(general in targets, f"figures.fig4.general_testset: {general!r} is not a target (known: {_known(targets)})")
        testsets = experiment.get("testsets", [experiment["target"]])
        _require(general in testsets, f"figures.fig4.general_testset: {general!r} is not among experiments.fig4.testsets "
                 f"({_known(testsets)}), so no model of Fig 4 is evaluated on it")
        if spec.get("md_n") is not None:
            _require(spec["md_n"] in experiment["sizes"], f"figures.fig4.md_n: {spec['md_n']} is not among "
                     f"experiments.fig4.sizes ({_known(experiment['sizes'])})")
        seed = spec.get("md_seed", 1)  # the schema's default
        _require(seed in experiment["seeds"], f"figures.fig4.md_seed: {seed} is not among experiments.fig4.seeds "
                 f"({_known(experiment['seeds'])})" + ("" if "md_seed" in spec else "; 1 is its default: set it"))
        finetune_seeds = experiment.get("finetune_seeds", experiment["seeds"])
        _require(seed in finetune_seeds, f"figures.fig4.md_seed: {seed} is not among experiments.fig4.finetune_seeds "
                 f"({_known(finetune_seeds)})")
        _require(bool((config.get("md") or {}).get("structure")),
                 "figures.fig4: Fig 4d's MD runs need an `md` block with `md.structure`")
    if "fig6" in figures:
        general, experiment = figures["fig6"]["general_testset"], experiments["fig6"]
        testsets = experiment.get("testsets", [experiment["target"]])
        _require(general in testsets and general != experiment["target"],
                 f"figures.fig6.general_testset: {general!r} must be one of experiments.fig6.testsets "
                 f"({_known(testsets)}) other than its target")
    if "fig5" in figures and figures["fig5"].get("bars_n") is not None:
        bars_n, sizes = figures["fig5"]["bars_n"], experiments["fig5"]["sizes"]
        _require(bars_n in sizes, f"figures.fig5.bars_n: {bars_n} is not among experiments.fig5.sizes ({_known(sizes)})")
    for name, spec in figures.items():
        umap = spec.get("umap")
        if not umap:
            continue
        for role in ("reference", "projected"):
            for dataset in umap[role]:
                _require(dataset in datasets, f"figures.{name}.umap.{role}: {dataset!r} is not a key of `datasets` "
                         f"(known: {_known(datasets)})")
        mapped = set(umap["reference"]) | set(umap["projected"])
        for dataset in umap.get("colors") or {}:
            _require(dataset in mapped, f"figures.{name}.umap.colors: {dataset!r} is neither a reference nor a "
                     f"projected dataset of this map ({_known(mapped)})")

    structure = (config.get("md") or {}).get("structure")
    if structure:
        dataset, split = structure["dataset"], structure.get("split", "test")
        _require(dataset in datasets, f"md.structure.dataset: {dataset!r} is not a key of `datasets` (known: {_known(datasets)})")
        _require(split in SPLITS, f"md.structure.split: {split!r} is not one of {', '.join(SPLITS)}")
        if "fig4" in experiments:
            elements = elements_of(datasets, dataset)
            trained = elements_of(datasets, targets[experiments["fig4"]["target"]]["dataset"])
            _require(set(elements) <= set(trained), f"md.structure.dataset: {dataset!r} has {_known(elements)}, but the "
                     f"MD models of fig4 are trained on {_known(trained)}")


# Settings that decide how work runs or looks, not what it computes: they never reach a rule's
# params, so changing one reruns no job (config/README.md, "What reruns what").  The tensor-product
# kernels and torch.compile give the same model to floating-point rounding.
SCHEDULING = {
    "training": ("num_workers", "checkpoint_every_s", "kernel", "compile"),
    "md": ("checkpoint_every_ps", "compile"),
    "labeller": ("display", "chunks"),
}


def without(settings: dict, keys) -> dict:
    """`settings` less the keys that change no output (SCHEDULING): what a rule's params hold."""
    return {key: value for key, value in settings.items() if key not in keys}


def training_params(config: dict, stage: str) -> dict:
    """What a training job's outputs depend on of its `training` settings (its rule's params)."""
    return without(stage_training(config, stage), SCHEDULING["training"])


def labeller_params(options: dict) -> dict:
    """What a labeller's labels depend on of its config block (its display and chunks do not)."""
    return without(options, SCHEDULING["labeller"])


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


def schema_error(error: Exception) -> str:
    """A config's schema violation in a line or two: the key path, what is wrong and what is
    allowed (a close match first), instead of jsonschema's dump of the schema and the config.
    `error`: Snakemake's WorkflowError from `validate`, which carries the ValidationError."""
    import difflib

    from jsonschema.exceptions import ValidationError

    # WorkflowError keeps the ValidationError as an argument or as the exception it was raised in
    found = [arg for arg in (*getattr(error, "args", ()), error.__context__) if isinstance(arg, ValidationError)]
    if not found:
        return str(error).splitlines()[0] if str(error) else repr(error)
    e = found[0]
    path = ".".join(str(part) for part in e.absolute_path) or "(top level)"

    def unknown(key: str, allowed) -> str:
        close = difflib.get_close_matches(key, [str(a) for a in allowed], n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        where = key if path == "(top level)" else f"{path}.{key}"
        return f"{where}: unknown key; {hint}(allowed here: {_known(allowed)})"

    if e.validator == "additionalProperties":
        extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
        return "\n".join(unknown(key, e.schema.get("properties", {})) for key in extra)
    if e.validator == "enum" and e.schema_path and "propertyNames" in e.schema_path:
        return unknown(str(e.instance), e.validator_value)
    if e.validator == "enum":
        close = difflib.get_close_matches(str(e.instance), [str(v) for v in e.validator_value], n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"{path}: {e.instance!r} is not one of {_known(map(str, e.validator_value))}{hint}"
    if e.validator == "required":
        return f"{path}: {e.message}"
    if e.validator == "type":
        return f"{path}: {e.instance!r} is not of type {e.validator_value}"
    message = e.message if len(e.message) < 300 else e.message[:300] + " ..."
    return f"{path}: {message}"


def check_yaml(path: str) -> None:
    """A config file's YAML syntax error as `file, line L, column C: problem` (Snakemake's own
    reader names neither file nor line)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            yaml.safe_load(handle)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise ConfigError(f"{path}, line {mark.line + 1}, column {mark.column + 1}: "
                          f"{error.problem or error.context}") from None
