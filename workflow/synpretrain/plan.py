"""What a config plans, read from its `experiments` and `figures` alone (no data, no Snakemake).

The training jobs (`planned_jobs`, each a `layout.ModelId`) serve the rules, packing K training
jobs onto one GPU (`packs`), the compute forecast (`synpretrain.ledger`) and the tests that count
a config's jobs; the evaluations each experiment needs, the figures' parameters and the final
targets of `all` are decided here too, so that the workflow's .smk files only ask.
"""
from __future__ import annotations

from .config import FIGURE_SETTINGS, FIGURES, STAGES, finetune_model, source_model, stage_training
from .layout import ALL, Layout, ModelId


def planned_jobs(config: dict) -> list[ModelId]:
    """Every training job of every experiment, once each, in a stable order."""
    jobs = set()
    for spec in config["experiments"].values():
        target = spec["target"]
        finetune_seeds = spec.get("finetune_seeds", spec["seeds"])
        for source in spec["sources"]:
            for npre in spec["pretrain_sizes"]:
                jobs.add(ModelId("pretrain", npre, source=source))
                jobs.update(ModelId("finetune", n, source=source, npre=npre, target=target, seed=seed,
                                    strategy=strategy)
                            for n in spec["sizes"] for seed in finetune_seeds
                            for strategy in spec.get("strategies", [ALL]))
        jobs.update(ModelId("direct", n, target=target, seed=seed) for n in spec["sizes"] for seed in spec["seeds"])
    return sorted(jobs, key=lambda j: (STAGES.index(j.stage), j.n, j.model))


def experiment_jobs(config: dict, experiment: str) -> list[ModelId]:
    return planned_jobs({**config, "experiments": {experiment: config["experiments"][experiment]}})


def experiment_evals(config: dict, experiment: str, results: str, pretrained: bool = True) -> list[str]:
    """Every evaluation an experiment needs: each of its models (`pretrained`: the pre-trained
    ones too) on each of its test sets (default: its target's)."""
    spec = config["experiments"][experiment]
    jobs = [job for job in experiment_jobs(config, experiment) if pretrained or job.stage != "pretrain"]
    return [job.eval_file(results, testset) for testset in spec.get("testsets", [spec["target"]]) for job in jobs]


def figure_evals(config: dict, experiment: str, results: str) -> list[str]:
    """The evaluations an experiment's figure draws: Figs 4 and 6 also show the pre-trained model alone."""
    return experiment_evals(config, experiment, results, pretrained=experiment in ("fig4", "fig6"))


def jobs_per_gpu(config: dict) -> int:
    return int(config["resources"]["jobs_per_gpu"])


def uses_mps(config: dict) -> bool:
    """Whether GPU jobs run through MPS: asked for (`resources.mps`) and jobs share a GPU."""
    return bool(config["resources"].get("mps")) and jobs_per_gpu(config) > 1


def experiments_of(config: dict) -> dict[str, tuple[str, ...]]:
    """model path -> the experiments (figures) that need it."""
    users: dict[str, list[str]] = {}
    for name in config["experiments"]:
        for job in experiment_jobs(config, name):
            users.setdefault(job.model, []).append(name)
    return {model: tuple(names) for model, names in users.items()}


def packs(config: dict) -> dict[str, list[ModelId]]:
    """Training jobs in packs of `resources.jobs_per_gpu` that share one GPU allocation.

    A pack holds jobs of one stage that the same experiments need (so asking for one figure
    trains nothing another figure alone needs), similar sizes together (so that its jobs end
    at about the same time).  Names are `<stage>-<index>`; with one job per GPU there are none."""
    k = jobs_per_gpu(config)
    if k <= 1:
        return {}
    users, jobs = experiments_of(config), planned_jobs(config)
    result = {}
    for stage in STAGES:
        by_users: dict[tuple[str, ...], list[ModelId]] = {}
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


def training_settings(config: dict, job: ModelId) -> tuple[dict, dict]:
    """(model architecture, training block) a job is trained with."""
    if job.stage == "pretrain":
        model = source_model(config, job.source)
    elif job.stage == "finetune":
        model = finetune_model(config, job.source)
    else:
        model = config["model"]
    return model, stage_training(config, job.stage)


# --- what the figures need ----------------------------------------------------------------------

def figure_enabled(config: dict, name: str) -> bool:
    """A figure is built when its experiment is configured (and, for Figs 4-5, its settings)."""
    return name in config["experiments"] and (name not in FIGURE_SETTINGS or name in config.get("figures", {}))


def display(config: dict, source: str) -> dict:
    """How figures and tables show a pre-training source (its own display, else its labeller's)."""
    spec = config["pretrain"]["sources"][source]
    return {**config["labellers"].get(spec["labeller"], {}).get("display", {}), **spec.get("display", {})}


def experiment_params(config: dict, name: str) -> dict:
    """The parameters every figure script of an experiment gets."""
    spec = config["experiments"].get(name, {})
    return {"target": spec.get("target"), "npre": max(spec.get("pretrain_sizes", [0])),
            "sources": spec.get("sources", []),
            "displays": {source: display(config, source) for source in spec.get("sources", [])},
            "names": {target: t.get("display") or target for target, t in config["targets"].items()}}


def strategy_spec(config: dict, name: str) -> dict:
    """The settings of a strategy by name (`all`: {"type": "all"})."""
    return {"type": ALL} if name == ALL else dict(config["strategies"][name])


def strategy_specs(config: dict, name: str) -> dict[str, dict]:
    """An experiment's fine-tuning strategies, name -> settings (type and its parameter: what the
    legend calls it), in its order (`all` is its own type)."""
    return {s: strategy_spec(config, s) for s in config["experiments"][name].get("strategies", [ALL])}


def replay_count(n_pool: int, fraction: float) -> int:
    """Replayed structures per epoch: `fraction` of the parent's pre-training set, at least one."""
    return max(1, int(round(fraction * n_pool)))


def source_labels(config: dict, name: str, family: str) -> list[str]:
    """The labels (as Table 1's columns) of an experiment's sources of one display family."""
    return [display(config, s).get("label", s) for s in config["experiments"][name]["sources"]
            if display(config, s).get("family", "ml") == family]


def bars_n(config: dict) -> int:
    """Fig 5's bars: `figures.fig5.bars_n`, else the experiment's largest n."""
    return config["figures"]["fig5"].get("bars_n") or max(config["experiments"]["fig5"]["sizes"])


def md_models(config: dict) -> dict[str, ModelId]:
    """The two models whose MD stability Fig 4d compares: direct vs fine-tuned on the same data
    (`figures.fig4.md_n`, default: the experiment's largest n; `md_seed`)."""
    spec, experiment = config["figures"]["fig4"], config["experiments"]["fig4"]
    n, seed = spec.get("md_n") or max(experiment["sizes"]), spec["md_seed"]
    source, npre, target = experiment["sources"][0], max(experiment["pretrain_sizes"]), experiment["target"]
    return {"direct": ModelId("direct", n, target=target, seed=seed),
            "finetune": ModelId("finetune", n, source=source, npre=npre, target=target, seed=seed)}


def md_packs(config: dict) -> dict[str, list[ModelId]]:
    """Fig 4d's MD runs (`md_models`) in packs of `resources.jobs_per_gpu` that share one GPU
    allocation, as training packs do (names `md-<index>`; none with one job per GPU or without
    Fig 4).  An MD step of a 200-atom cell leaves the GPU idle most of the time (the model call is
    launch-bound, docs/cost.md), so one allocation for both runs instead of one each."""
    k = jobs_per_gpu(config)
    if k <= 1 or not figure_enabled(config, "fig4"):
        return {}
    models = list(md_models(config).values())
    return {f"md-{index}": models[i: i + k] for index, i in enumerate(range(0, len(models), k))}


def reported(config: dict, layout: Layout) -> list[str]:
    """The figures and tables the report shows."""
    files = [layout.figure(name) for name in FIGURES if figure_enabled(config, name)]
    if "fig3" in config["experiments"]:
        files += [layout.table("table1"), layout.table("paper_comparison"), layout.table("paper_claims")]
    return files + [layout.table("compute"), layout.table("compute_forecast"), layout.effective_config()]


def ledger_after(config: dict, layout: Layout) -> list[str]:
    """What the compute ledger waits for: every other output of `all` (so it sees every job's
    benchmark file)."""
    files = [f for f in reported(config, layout) if "/compute" not in f]
    return files + [layout.table("learning_curves")] + [layout.pack(name) for name in {**packs(config), **md_packs(config)}]


def final_targets(config: dict, layout: Layout) -> list[str]:
    """Everything `snakemake all` builds."""
    files = reported(config, layout) + ledger_after(config, layout)
    if "fig3" in config["experiments"]:
        files += [layout.table("table1", ext) for ext in ("md", "tex")]
    return list(dict.fromkeys(files))


def split_sizes(config: dict, dataset: str) -> dict[str, int] | None:
    """At most how many structures each split of a dataset holds, where the config decides it
    (generated trajectories, and datasets derived from those); None where only the data does.
    An upper bound: quality gates may drop frames (structure_gates)."""
    from .generation import frames_kept
    from .splits import default_test_size, default_val_size

    spec = config["datasets"][dataset]
    if spec["source"] == "derived":
        return split_sizes(config, spec["derived"]["from"])
    if spec["source"] != "generate":
        return None
    gen, split = spec["generate"], spec.get("split") or {}
    n = len(gen["densities"]) * len(gen["anneal_temperatures"]) * frames_kept(gen, spec.get("min_time", 10))
    test = default_test_size(n) if split.get("test_size") is None else int(split["test_size"])
    val = default_val_size(n - test) if split.get("val_size") is None else int(split["val_size"])
    return {"train": max(n - test - val, 0), "val": val, "test": test}


def check_sizes(config: dict) -> None:
    """Training sizes the data cannot provide fail at start, not after generation and labelling."""
    from .config import ConfigError

    def check(key: str, sizes, dataset: str) -> None:
        planned = split_sizes(config, dataset)
        if planned is not None and max(sizes) > planned["train"]:
            raise ConfigError(f"{key}: {max(sizes)} training structures asked for, but dataset {dataset!r} has at "
                              f"most {planned['train']} (its generate block and split); lower it or generate more")

    for name, spec in config["experiments"].items():
        check(f"experiments.{name}.sizes", spec["sizes"], config["targets"][spec["target"]]["dataset"])
        for source in spec["sources"]:
            dataset = config["pretrain"]["sources"][source].get("dataset", config["pretrain"]["dataset"])
            check(f"experiments.{name}.pretrain_sizes", spec["pretrain_sizes"], dataset)
