"""Where every file lives (synpretrain.layout) and what a config plans (synpretrain.plan)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from synpretrain import plan
from synpretrain.layout import Layout, ModelId, benchmark_model, md_pattern, model_regex

REPO = Path(__file__).resolve().parents[1]
FINETUNED = ModelId("finetune", 10, source="chgnet", npre=128, target="c-real", seed=2)
PRETRAINED = ModelId("pretrain", 128, source="chgnet")
DIRECT = ModelId("direct", 5, target="c-dense", seed=1)


def load(name):
    config = yaml.safe_load((REPO / name).read_text())
    validate(config, str(REPO / "config" / "schema.yaml"))   # fills the schema's defaults
    return config


def test_model_paths_by_hand():
    assert FINETUNED.package("res") == "res/models/finetune/chgnet/n128/c-real/n10/seed2/model.nequip.zip"
    assert PRETRAINED.summary("res") == "res/models/pretrain/chgnet/n128/training.json"
    assert DIRECT.eval_file("res", "c-real") == "res/eval/direct/c-dense/n5/seed1/c-real.json"
    assert FINETUNED.md_file("res", "frames") == "res/md/finetune/chgnet/n128/c-real/n10/seed2/stability.csv"
    assert DIRECT.log("results") == "results/logs/train/direct/c-dense/n5/seed1.log"
    assert FINETUNED.eval_benchmark("results", "c-dense") == "results/benchmarks/eval/finetune/chgnet/n128/c-real/n10/seed2/c-dense.tsv"
    assert FINETUNED.parent == PRETRAINED and PRETRAINED.parent is None
    assert (FINETUNED.home_testset, DIRECT.home_testset, PRETRAINED.home_testset) == ("c-real", "c-dense", None)


@pytest.mark.parametrize("model", [FINETUNED, PRETRAINED, DIRECT])
def test_a_rule_pattern_matched_against_a_path_gives_the_model_back(model):
    """What Snakemake does: match the output pattern, build the model from the wildcards."""
    pattern = ModelId.pattern(model.stage).package("res")
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
    wildcards = re.fullmatch(regex, model.package("res")).groupdict()
    assert ModelId.from_wildcards(model.stage, wildcards) == model
    assert re.fullmatch(model_regex(), model.path)
    assert benchmark_model(Path(model.benchmark("r")).relative_to("r/benchmarks")) == model.path
    assert benchmark_model(Path(model.eval_benchmark("r", "x")).relative_to("r/benchmarks")) == model.path


def test_the_model_wildcard_matches_model_paths_only():
    for path in ("finetune/a/n8", "direct/t/n4", "pretrain/a/nX", "direct/t/n4/seed1/extra"):
        assert not re.fullmatch(model_regex(), path), path
    assert md_pattern("res", "summary") == "res/md/{model}/stability.json"


def test_eval_meta_names_the_point_of_the_learning_curve():
    assert FINETUNED.eval_meta("c-dense", 42) == {"kind": "finetune", "source": "chgnet", "npre": 128,
                                                   "target": "c-real", "n": 10, "seed": 2, "testset": "c-dense",
                                                   "strategy": "all"}
    assert DIRECT.eval_meta("c-dense", 42) == {"kind": "direct", "source": "direct", "npre": 0,
                                                "target": "c-dense", "n": 5, "seed": 1, "testset": "c-dense",
                                                "strategy": "all"}
    assert PRETRAINED.eval_meta("c-real", 42) == {"kind": "pretrain", "source": "chgnet", "npre": 128,
                                                   "target": None, "n": 0, "seed": 42, "testset": "c-real",
                                                   "strategy": "all"}


def test_a_fine_tuning_strategy_is_a_folder_of_its_own():
    frozen = ModelId("finetune", 10, source="chgnet", npre=128, target="c-real", seed=2, strategy="freeze2")
    assert frozen.path == "finetune/chgnet/n128/c-real/freeze2/n10/seed2"
    assert FINETUNED.path == "finetune/chgnet/n128/c-real/n10/seed2"            # the paper's paths unchanged
    pattern = ModelId.pattern("finetune", "{strategy}")
    assert pattern.path == "finetune/{source}/n{npre}/{target}/{strategy}/n{n}/seed{seed}"
    wildcards = dict(zip(["source", "npre", "target", "strategy", "n", "seed"],
                         ["chgnet", "128", "c-real", "freeze2", "10", "2"]))
    assert ModelId.from_wildcards("finetune", wildcards) == frozen
    assert ModelId.from_wildcards("finetune", {k: v for k, v in wildcards.items() if k != "strategy"}) == FINETUNED
    assert frozen.eval_meta("c-dense", 42)["strategy"] == "freeze2"
    regex = re.compile(f"^({model_regex()})$")
    assert regex.match(frozen.path) and regex.match(FINETUNED.path)


def test_data_paths_and_patterns():
    layout = Layout("res", "dl")
    assert layout.trajectory("c-synth", 2.0, 3000) == "res/data/c-synth/trajectories/density-2-T-3000.extxyz"
    assert layout.trajectory("{dataset}", "{density}", "{temperature}") == \
        "res/data/{dataset}/trajectories/density-{density}-T-{temperature}.extxyz"
    assert layout.labels("c-real", "reference", "test") == "res/data/c-real/test.extxyz"
    assert layout.labels("c-real", "xtb", "test") == "res/labels/c-real/xtb/test.extxyz"
    assert layout.labels_summary("c-real", "reference", "train") == "res/data/c-real/split.json"
    assert layout.raw("cnt", "C-GAP-20U.xyz") == "dl/cnt/C-GAP-20U.xyz"


def test_demo_plan_evaluations_and_targets():
    config, layout = load("config/config.yaml"), Layout("results")
    fig3 = plan.experiment_evals(config, "fig3", "results", pretrained=False)
    assert len(fig3) == len(set(fig3)) == 2 * 3 * (1 + 3)                  # sizes x seeds x (direct + 3 sources)
    fig4 = plan.experiment_evals(config, "fig4", "results")
    assert len(fig4) == 2 * (2 * 2 * 2 + 1)                                # 2 test sets x (models + pre-trained)
    assert "results/eval/pretrain/chgnet/n128/c-real.json" in fig4
    targets = plan.final_targets(config, layout)
    assert {f"results/fig{k}.pdf" for k in (2, 3, 4, 5)} <= set(targets)
    assert {"results/tables/table1.csv", "results/tables/compute.csv", "results/tables/learning_curves.csv"} <= set(targets)
    assert not any("report" in f for f in targets)                         # built by `snakemake --report`
    assert len(targets) == len(set(targets))
    assert not any("compute" in f for f in plan.ledger_after(config, layout))
    md = plan.md_models(config)                                            # figures.fig4: md_n 15, md_seed 1
    assert md["direct"] == ModelId("direct", 15, target="c-dense", seed=1)
    assert md["finetune"] == ModelId("finetune", 15, source="chgnet", npre=128, target="c-dense", seed=1)
    assert plan.bars_n(config) == 15


def test_figure_defaults_and_disabled_figures():
    config = load("config/config.yaml")
    del config["figures"]["fig5"]["bars_n"], config["figures"]["fig4"]["md_n"]
    assert plan.bars_n(config) == max(config["experiments"]["fig5"]["sizes"])
    assert plan.md_models(config)["direct"].n == max(config["experiments"]["fig4"]["sizes"])
    del config["figures"]["fig5"]
    assert "results/fig5.pdf" not in plan.final_targets(config, Layout("results"))
    assert plan.experiment_params(config, "fig3")["displays"]["lcbop"]["label"] == "LCBOP"
