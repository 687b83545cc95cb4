"""End to end: the real Snakemake DAG on a tiny config (tests/data/tiny.yaml).

One session-scoped run builds `all` in a temporary folder; the tests below check what it made.
Dry runs check that a single target plans only its ancestors and that bad configs fail early,
with a message naming the offending key.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from synpretrain import nequip_config, warm

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "tiny.yaml"
pytestmark = pytest.mark.e2e


def snakemake(workdir: Path, *args: str, configfile: Path = TINY, timeout: int = 900) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(configfile), "--cores", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def planned_jobs(result: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run."""
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout + result.stderr
    table = text.split("Job stats:")[1]
    counts = {}
    for line in table.splitlines()[3:]:
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not match:
            break
        counts[match.group(1)] = int(match.group(2))
    return counts


def write_config(path: Path, edit) -> Path:
    """tiny.yaml with `edit` applied, its keys in their order (as a user's edit leaves them)."""
    config = yaml.safe_load(TINY.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tiny")
    result = snakemake(workdir, "all")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return workdir


def test_all_builds_figure_and_table(tiny_run):
    results = tiny_run / "results"
    assert (results / "fig3.pdf").read_bytes()[:5] == b"%PDF-"
    table = pd.read_csv(results / "tables" / "table1.csv", index_col="n")
    assert list(table.index) == [2, 4]
    assert list(table.columns) == ["Direct", "Tersoff (KIM)", "LCBOP"]
    for cell in table.to_numpy().ravel():
        mean, std = (float(x) for x in re.match(r"^([\d.]+) ± ([\d.]+)\*?†?$", cell).groups())
        assert math.isfinite(mean) and mean > 0 and std >= 0
    assert "| n | Direct |" in (results / "tables" / "table1.md").read_text()
    assert r"\begin{tabular}" in (results / "tables" / "table1.tex").read_text()
    claims = pd.read_csv(results / "tables" / "paper_claims.csv", index_col=0)
    assert list(claims.index) == ["a", "b", "c"] and claims["reproduced"].dtype == bool
    assert "n=2: direct" in claims.loc["b", "value"]                   # our numbers, at our smallest n
    assert pd.read_csv(results / "tables" / "paper_comparison.csv").empty   # no (source, n) of the paper's


def test_every_figure_is_a_pdf(tiny_run):
    for name in ("fig2", "fig3", "fig4", "fig5"):
        assert (tiny_run / "results" / f"{name}.pdf").read_bytes()[:5] == b"%PDF-", name


def test_every_model_was_evaluated_with_counts(tiny_run):
    runs = pd.read_csv(tiny_run / "results" / "tables" / "learning_curve_runs.csv")
    runs["target"] = runs["target"].fillna("")                 # pre-trained models have no target
    on_real = runs[(runs["target"] == "c-real") & (runs["testset"] == "c-real")]
    # Fig 3: 2 sizes x 2 seeds x (direct + 2 sources); Fig 2 adds lcbop n4 x 2 sizes x 1 seed
    assert len(on_real) == 12 + 2
    assert set(runs["kind"]) == {"direct", "finetune", "pretrain"}
    assert (on_real["n_structures"] == 3).all() and (on_real["n_atoms"] == 3 * 16).all()
    general = runs[(runs["target"] == "c-dense") & (runs["testset"] == "c-real")]
    assert len(general) == 2 * 2 * 2                           # Fig 4c: direct + fine-tuned, 2 sizes, 2 seeds
    assert set(runs.loc[runs["testset"] == "si-real", "target"]) == {"si-real", ""}
    assert runs["energy_rmse_mev_per_atom"].gt(0).all() and runs["force_rmse_ev_per_a"].gt(0).all()


def test_training_job_evaluates_its_model_as_the_evaluation_rule_would(tiny_run):
    from synpretrain.evaluation import evaluate
    from synpretrain.io import read_extxyz

    model = "finetune/lcbop/n8/c-real/n4/seed1"
    record = json.loads((tiny_run / f"results/eval/{model}/c-real.json").read_text())
    assert not (tiny_run / f"results/benchmarks/eval/{model}/c-real.tsv").exists()      # no job of its own
    assert "--evaluate" in (tiny_run / f"results/logs/train/{model}.log").read_text()
    again = evaluate(tiny_run / f"results/models/{model}/model.nequip.zip",
                     read_extxyz(tiny_run / record["test_file"]))
    for key in ("energy_rmse_mev_per_atom", "force_rmse_ev_per_a", "n_structures", "n_atoms"):
        assert record[key] == pytest.approx(again[key], rel=1e-6), key
    general = json.loads((tiny_run / "results/eval/finetune/lcbop/n8/c-dense/n4/seed1/c-real.json").read_text())
    assert general["device"] == "cpu" and general["testset"] == "c-real" and general["target"] == "c-dense"


def test_md_stability_runs_are_measured_and_saved(tiny_run):
    md = tiny_run / "results" / "md"
    for model in ("direct/c-dense/n4/seed1", "finetune/lcbop/n8/c-dense/n4/seed1"):
        summary = json.loads((md / model / "stability.json").read_text())
        assert {"completed", "first_unphysical_ps", "hold_epot_drift_mev_per_atom_per_ps"} <= set(summary)
        frames = pd.read_csv(md / model / "stability.csv")
        histogram = frames[[f"cn{k}" for k in range(8)] + ["cn8+"]]
        assert frames["time_ps"].iloc[0] == 0 and (histogram.sum(axis=1) - 1).abs().max() < 1e-9
        assert (md / model / "trajectory.extxyz").stat().st_size > 0


def test_no_frame_of_the_pretraining_pool_is_in_a_real_set(tiny_run):
    import ase.io

    def fingerprints(dataset):
        return {atoms.positions.round(6).tobytes()
                for path in (tiny_run / f"results/data/{dataset}/trajectories").glob("*.extxyz")
                for atoms in ase.io.read(path, ":")}

    pool = fingerprints("c-synth")
    assert pool
    for real in ("c-real", "c-dense"):
        assert fingerprints(real) and not pool & fingerprints(real), real


def test_alchemical_dataset_is_scaled_silicon(tiny_run):
    import ase.io

    carbon = ase.io.read(tiny_run / "results/labels/c-synth/lcbop/train.extxyz", ":")
    silicon = ase.io.read(tiny_run / "results/data/c-synth-si/train.extxyz", ":")
    assert len(carbon) == len(silicon)
    assert set(silicon[0].get_chemical_symbols()) == {"Si"}
    assert silicon[0].cell.volume == pytest.approx(1.5**3 * carbon[0].cell.volume)
    assert silicon[0].get_potential_energy() == pytest.approx(carbon[0].get_potential_energy())
    umap = pd.read_csv(tiny_run / "results/analysis/umap/fig5.csv")
    assert set(umap["set"]) == {"c-synth", "c-synth-si", "si-real"}


def test_fine_tuned_models_record_their_parent(tiny_run):
    models = tiny_run / "results" / "models"
    summary = json.loads((models / "finetune/lcbop/n8/c-real/n2/seed1/training.json").read_text())
    parent = json.loads((models / "pretrain/lcbop/n8/training.json").read_text())
    assert summary["parent_sha256"] == parent["package_sha256"]
    assert summary["n_train"] == 2 and summary["stage"] == "finetune" and summary["seed"] == 1
    config = yaml.safe_load((models / "finetune/lcbop/n8/c-real/n2/seed1/config.yaml").read_text())
    assert nequip_config.trained_model(config)["_target_"] == "synpretrain.nequip_models.NequIPGNNModelFromPackage"
    assert "fine-tuning " in (tiny_run / "results/logs/train/finetune/lcbop/n8/c-real/n2/seed1.log").read_text()


def test_a_source_can_be_fine_tuned_at_another_cut_off(tiny_run):
    """tiny.yaml's lcbop-si-r5 is pre-trained at r_max 5 and fine-tuned at 3 (the paper's Fig 5a)."""
    from synpretrain.nequip_models import load_packaged_model

    models = tiny_run / "results" / "models"
    child = next((models / "finetune/lcbop-si-r5").glob("n*/si-real/n*/seed*"))
    config = yaml.safe_load((child / "config.yaml").read_text())
    assert nequip_config.trained_model(config)["_target_"] == "synpretrain.nequip_models.NequIPGNNModelFromPackage"
    # its data prepared with neighbour lists at the fine-tuning cut-off; the parent's at 5
    assert config["data"]["train_dataset"]["file_path"].endswith(".r3.lmdb")
    parent_config = yaml.safe_load(next((models / "pretrain/lcbop-si-r5").glob("n*/config.yaml")).read_text())
    assert parent_config["data"]["train_dataset"]["file_path"].endswith(".r5.lmdb")
    assert load_packaged_model(str(child / "model.nequip.zip")).metadata["r_max"] == "3.0"
    parent = next((models / "pretrain/lcbop-si-r5").glob("n*"))
    assert load_packaged_model(str(parent / "model.nequip.zip")).metadata["r_max"] == "5.0"


def test_nested_training_subsets(tiny_run):
    labels = tiny_run / "results" / "labels" / "c-real" / "xtb"
    small, large = (labels / "train_n2.extxyz").read_text(), (labels / "train_n4.extxyz").read_text()
    assert large.startswith(small)


def test_labels_are_referenced_and_logged(tiny_run):
    summary = json.loads((tiny_run / "results/labels/c-real/xtb/train.json").read_text())
    assert summary["n_labelled"] + summary["n_dropped"] == summary["n_input"] == 8
    assert summary["e_iso"]["C"] < 0          # GFN1-xTB's free C atom
    log = (tiny_run / "results/logs/label/c-real/xtb/train.1.log").read_text()
    assert "isolated-atom energies" in log and "labelling with xtb" in log
    assert list((tiny_run / "results" / "benchmarks" / "train" / "direct").rglob("*.tsv"))


def test_training_reads_prepared_data_and_records_its_speed(tiny_run):
    summary = json.loads((tiny_run / "results/models/direct/c-real/n2/seed1/training.json").read_text())
    assert summary["prepared_data"] is True and summary["train_file"].endswith("train_n2.extxyz")
    assert summary["train_structures_per_s"] > 0 and summary["fixed_s"] > 0
    # forked from the warm server (a CPU machine outside SLURM): its imports were done there
    assert summary["phase_warm_start"] is warm.usable() and (summary["phase_import_s"] < 0.5) is warm.usable()
    assert (tiny_run / "results/labels/c-real/xtb/train_n2.r3.lmdb").stat().st_size > 0
    config = yaml.safe_load((tiny_run / "results/models/direct/c-real/n2/seed1/config.yaml").read_text())
    assert config["data"]["train_dataset"]["file_path"].endswith("train_n2.r3.lmdb")


def test_compute_ledger_and_forecast(tiny_run):
    ledger = pd.read_csv(tiny_run / "results/tables/compute.csv").set_index(["scope", "name"])
    assert {"pre-training", "fine-tuning", "direct training", "labels"} <= set(ledger.loc["stage"].index)
    total = ledger.loc[("total", "all")]
    assert total["job_hours"] > 0 and total["cpu_core_hours"] > 0 and total["gpu_hours"] == 0   # all on the CPU
    assert total["kwh"] > 0 and total["kg_co2"] > 0
    stages = ledger.loc["stage", "job_hours"]
    # compute.csv rounds every value to 4 decimals: the stages' sum may differ by half a unit each
    assert stages.sum() == pytest.approx(total["job_hours"], abs=5e-5 * (len(stages) + 1))
    forecast = pd.read_csv(tiny_run / "results/tables/compute_forecast.csv").set_index(["scope", "name"])
    assert forecast.loc[("total", "all"), "gpu_hours_max"] > forecast.loc[("total", "all"), "gpu_hours_estimate"] > 0
    direct_models = list((tiny_run / "results/models/direct").glob("*/n*/seed*/training.json"))
    assert forecast.loc[("stage", "direct training"), "jobs"] == len(direct_models) == 10


def test_rerun_has_nothing_to_do(tiny_run):
    result = snakemake(tiny_run, "-n", "all")
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr


def test_one_learning_curve_point_plans_only_its_ancestors(tmp_path):
    point = "results/eval/finetune/lcbop/n8/c-real/n2/seed1/c-real.json"
    jobs = planned_jobs(snakemake(tmp_path, "-n", point))
    # the fine-tuning job evaluates its model on its own target's test set: no separate job
    assert jobs["finetune"] == 1 and jobs["pretrain"] == 1 and "evaluate_finetune" not in jobs
    assert "direct" not in jobs and "fig3" not in jobs
    # labels: lcbop on c-synth train + val; xtb on c-real train (2 chunks) + val + test
    assert jobs["label_chunk"] == 2 + 4


def test_one_figure_plans_only_what_it_needs(tmp_path):
    jobs = planned_jobs(snakemake(tmp_path, "-n", "results/fig3.pdf"))
    assert jobs["fig3"] == 1 and "table1" not in jobs and "learning_curves" not in jobs
    assert "evaluate_pretrain" not in jobs and "md_stability" not in jobs and "environment_map" not in jobs
    assert jobs["assemble_dataset"] == 2                                # c-synth and c-real only
    jobs = planned_jobs(snakemake(tmp_path, "-n", "results/fig4.pdf"))
    assert jobs["md_stability"] == 2 and jobs["environment_map"] == 1 and "fig5" not in jobs
    assert jobs["assemble_dataset"] == 3                                # + c-dense; no silicon


@pytest.mark.parametrize("edit, message", [  # more cases, without Snakemake, in test_config.py
    (lambda c: c["model"].update(num_layerz=2), "num_layerz"),
    (lambda c: c["labellers"]["lcbop"].update(type="gap-99"), "labellers.lcbop.type"),
])
def test_bad_config_fails_at_start_naming_the_key(tmp_path, edit, message):
    # a real run, not a dry one: it must stop before any job has written anything
    result = snakemake(tmp_path, "all", configfile=write_config(tmp_path / "bad.yaml", edit))
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_configfile_replaces_the_default_config(tmp_path):
    """--configfile must not inherit datasets or labellers from config/config.yaml (chgnet)."""
    result = snakemake(tmp_path, "-n", "results/labels/c-synth/chgnet/val.extxyz")
    assert result.returncode != 0
    assert "No rule to produce results/labels/c-synth/chgnet/val.extxyz" in result.stdout + result.stderr


def test_the_paper_plan(tmp_path):
    """config/paper.yaml plans as the README says, through the SLURM profile (its job groups, one
    partition per pack): every stage from the downloads on, and Fig 3 alone only its own models
    (4 sources x 8 sizes x 5 seeds, 40 direct, in packs of 6)."""
    paper = REPO / "config" / "paper.yaml"
    planned = snakemake(tmp_path, "-n", "all", "--profile", str(REPO / "profiles" / "slurm"), configfile=paper)
    jobs = planned_jobs(planned)
    assert sum(jobs.values()) - jobs["total"] == jobs["total"] == 1585           # README: 1,585 jobs
    assert (jobs["pretrain"], jobs["finetune"], jobs["direct"], jobs["gpu_pack"]) == (24, 513, 85, 119)
    assert jobs["md_stability"] == 2 and jobs["md_pack"] == 1                  # Fig 4d's two runs: one allocation
    groups = re.findall(r"Group job (\S+) ", planned.stdout + planned.stderr)
    assert len(groups) == 120 and "md-0" in groups
    assert jobs["finetune_strategy"] == jobs["evaluate_finetune_strategy"] == 50  # Fig 6: 2 strategies x 5 x 5
    assert jobs["acquire_dataset"] == 4 and jobs["assemble_dataset"] == 5      # 4 downloads + the derived set
    assert jobs["evaluate_finetune"] == jobs["evaluate_direct"] == 25          # Fig 4's general test set
    fig3 = planned_jobs(snakemake(tmp_path, "-n", "results/fig3.pdf", configfile=paper))
    assert (fig3["pretrain"], fig3["finetune"], fig3["direct"]) == (4, 160, 40)
    # a pack holds K = 6 jobs of one stage that the same figures need: at least ceil(jobs / 6) per stage
    assert fig3["gpu_pack"] == 37 >= sum(-(-fig3[stage] // 6) for stage in ("pretrain", "finetune", "direct"))
    assert "evaluate_finetune" not in fig3 and "fig2" not in fig3


def test_one_point_of_a_fine_tuning_strategy_is_addressable(tmp_path):
    """The demo's Fig 6: a replay point asked for alone plans its own fine-tuning (the strategy rule,
    with the parent's pre-training set as input) and its general-test evaluation, no figure."""
    demo = REPO / "config" / "config.yaml"
    point = "results/eval/finetune/chgnet/n128/c-dense/replay/n5/seed1/c-real.json"
    jobs = planned_jobs(snakemake(tmp_path, "-n", point, configfile=demo))
    assert jobs["finetune_strategy"] == jobs["evaluate_finetune_strategy"] == jobs["pretrain"] == 1
    assert "finetune" not in jobs and "fig6" not in jobs
    fig6 = planned_jobs(snakemake(tmp_path, "-n", "results/fig6.pdf", configfile=demo))
    # 2 strategies x 2 sizes x 2 seeds, besides Fig 4's `all` models; each also on the general test set
    assert fig6["finetune_strategy"] == fig6["evaluate_finetune_strategy"] == 8 and fig6["finetune"] == 4


def test_the_report_is_snakemakes_own(tiny_run):
    """`snakemake --report` after a run: one HTML file with every figure and table."""
    result = snakemake(tiny_run, "--report", "results/report.html")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    html = (tiny_run / "results" / "report.html").read_text()
    for name in ("fig2.pdf", "fig3.pdf", "fig4.pdf", "fig5.pdf", "table1.csv", "compute.csv", "paper_claims.csv",
                 "config.yaml", "Configuration"):
        assert name in html, name


def test_under_the_slurm_profile_cpus_come_from_threads(tmp_path):
    """The SLURM plugin takes `cpus_per_task` over a rule's `threads` where a resource sets it: the
    profile must not (it did: a 4-thread evaluation job of the paper got 1 CPU). The e2e test
    checks the sbatch lines of a real run."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--profile",
                             str(REPO / "profiles" / "slurm"), "--directory", str(tmp_path), "-n",
                             "results/eval/pretrain/c-ace/n10000/cnt.json"],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    text = result.stdout + result.stderr
    assert result.returncode == 0, text[-3000:]
    resources = [line for line in text.splitlines() if line.strip().startswith("resources:")]
    assert resources and not any("cpus_per_task" in line for line in resources)
    assert any("slurm_partition=gpu" in line and "runtime=2880" in line for line in resources)  # pre-training: config


def own_data_config(tmp_path: Path, **dataset) -> Path:
    """The own-data example with its extxyz dataset changed (`dataset` keys)."""
    config = yaml.safe_load((REPO / "config/examples/own-data.yaml").read_text())
    config["datasets"]["my-dft"]["path"] = str(REPO / config["datasets"]["my-dft"]["path"])
    config["datasets"]["my-dft"].update(dataset)
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_misspelt_energy_key_fails_the_dry_run_in_one_line(tmp_path):
    """The user's extxyz is read at start: `snakemake -n` stops before any job, naming key and file."""
    result = snakemake(tmp_path, "-n", "all", configfile=own_data_config(tmp_path, energy_key="dft_energy"))
    text = result.stdout + result.stderr
    assert result.returncode != 0
    lines = [line for line in text.splitlines() if "dft_energy" in line]
    assert len(lines) == 1 and "sic-gfn1.extxyz: structure 0 has no energy label" in lines[0], text[-3000:]
    assert "(and 43 more structures)" in lines[0] and "present:" in lines[0]


def test_a_failed_jobs_message_reaches_the_console(tmp_path):
    """The default profile's show-failed-logs: a job's own error (atoms that cannot be placed so far
    apart, found only when the job draws the cell) is printed where the user looks, not only in
    the job's log."""
    config = yaml.safe_load(TINY.read_text())
    config["datasets"]["c-synth"]["generate"]["min_distance"] = 3.0
    path = tmp_path / "crowded.yaml"
    path.write_text(yaml.safe_dump(config))
    target = "results/data/c-synth/trajectories/density-3-T-3000.extxyz"
    result = snakemake(tmp_path, target, configfile=path)
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "RuntimeError: could not place 16 atoms 3.0 Å apart at 3.0 g/cm3" in text   # the error, one line
    assert "c-synth: density 3.0 g/cm3, anneal 3000.0 K" in text                       # and the job's log


def test_two_configs_in_one_clone_keep_their_own_logs(tmp_path):
    """Logs, benchmarks and the KIM API's kim.log live in each config's `results` folder: two runs
    side by side in one working directory share none of them, and nothing lands beside them."""
    target = "{results}/labels/c-synth/tersoff/val.extxyz"           # tiny.yaml's KIM labeller
    for results in ("run-a", "run-b"):
        result = snakemake(tmp_path, target.format(results=results), "--config", f"results={results}")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for results in ("run-a", "run-b"):
        logs = tmp_path / results / "logs"
        assert (logs / "label/c-synth/tersoff/val.0.log").read_text().count("labelling with tersoff") >= 1
        assert (logs / "label/c-synth/tersoff/kim.log").exists()       # beside the job's log
        assert list((tmp_path / results / "benchmarks" / "generate").rglob("*.tsv"))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["run-a", "run-b"]


def planned_rules(result: subprocess.CompletedProcess) -> set[str]:
    """The rules a dry run plans (none when there is nothing to be done)."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout + result.stderr
    return set() if "Nothing to be done" in text else set(planned_jobs(result)) - {"total"}


# the tables of the config itself (its copy in the report, the cost ledger and forecast, which read
# every setting): what any setting may rerun; each takes seconds
OF_THE_CONFIG = {"all", "effective_config", "compute_ledger", "compute_forecast"}
# what draws and tabulates: the jobs a display setting may rerun
PRESENTATION = OF_THE_CONFIG | {"table1", "fig2", "fig3", "fig4", "fig5", "fig6", "paper_comparison"}
COMPUTATION = {"generate_trajectory", "assemble_dataset", "label_chunk", "merge_labels", "train_subset",
               "prepare_data", "pretrain", "finetune", "finetune_strategy", "direct", "md_stability",
               "environment_map", "gpu_pack", "md_pack"}


@pytest.mark.parametrize("edit, allowed", [
    (lambda c: c["labellers"]["lcbop"]["display"].update(color="#000000"), PRESENTATION),
    (lambda c: c["labellers"]["lcbop"]["display"].update(label="LCBOP (LAMMPS)"), PRESENTATION),
    (lambda c: c.update(figure_note="another note"), PRESENTATION),
    (lambda c: c["figures"]["fig5"]["umap"].update(colors={"c-synth": "#123456"}), PRESENTATION),
    (lambda c: c["training"].update(checkpoint_every_s=7, num_workers=0, kernel="e3nn"), OF_THE_CONFIG),
    (lambda c: c["md"].update(checkpoint_every_ps=0.5), OF_THE_CONFIG),
    (lambda c: c.setdefault("resources", {}).update(warm_start=False), OF_THE_CONFIG),
], ids=["colour", "label", "figure-note", "umap-colours", "training-scheduling", "md-checkpoints", "warm-start"])
def test_settings_that_change_no_number_rerun_no_computation(tiny_run, tmp_path, edit, allowed):
    """On a finished run, a display setting plans only jobs that draw or tabulate, a scheduling
    setting only the tables of the config: Snakemake reruns a job whose params change, so no such
    setting is a param of a computing rule (config.SCHEDULING)."""
    rules = planned_rules(snakemake(tiny_run, "-n", "all", configfile=write_config(tmp_path / "c.yaml", edit)))
    assert rules <= allowed, rules - allowed


@pytest.mark.parametrize("edit, expected, untouched", [
    (lambda c: c["training"].update(finetune={"max_epochs": 3}), {"finetune"},
     {"pretrain", "direct", "label_chunk", "generate_trajectory"}),
    (lambda c: c["labellers"]["lcbop"].update(potential="C.lcbop"), set(), COMPUTATION),   # the same value
    (lambda c: c["pretrain"].update(seed=43), {"pretrain", "finetune"}, {"direct", "label_chunk"}),
    (lambda c: c["labellers"]["xtb"].update(electronic_temperature=900.0), {"label_chunk", "direct", "finetune"},
     {"generate_trajectory", "pretrain"}),
], ids=["finetune-epochs", "same-value", "pretrain-seed", "labeller-option"])
def test_settings_that_change_numbers_rerun_what_depends_on_them(tiny_run, tmp_path, edit, expected, untouched):
    rules = planned_rules(snakemake(tiny_run, "-n", "all", configfile=write_config(tmp_path / "c.yaml", edit)))
    assert expected <= rules and not rules & untouched, rules


def test_a_killed_snakemake_recovers_with_the_documented_commands(tmp_path):
    """Snakemake and its jobs killed with SIGKILL mid-training (out of memory, a closed ssh
    session): `snakemake --unlock`, then the same command, finishes, the training resuming from
    last.ckpt (docs/troubleshooting.md)."""
    config = write_config(tmp_path / "long.yaml", lambda c: c["training"].update(
        max_epochs=300, checkpoint_every_s=0, early_stopping={"patience": 1000}))   # long enough to be killed
    target = "results/models/direct/c-real/n4/seed1/model.nequip.zip"
    model = tmp_path / "results/models/direct/c-real/n4/seed1"
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
               "--configfile", str(config), "--cores", "2", target]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 600
        while not (model / "last.ckpt").exists():
            assert first.poll() is None and time.time() < deadline, "the run ended before a checkpoint"
            time.sleep(0.2)
    finally:
        os.killpg(first.pid, signal.SIGKILL)       # Snakemake and every job it started
        first.wait()
    assert not (model / "model.nequip.zip").exists()
    again = snakemake(tmp_path, target, configfile=config)
    locked = again.returncode != 0 and "--unlock" in again.stdout + again.stderr
    if locked:                                     # the lock of the killed Snakemake: the documented command
        unlock = snakemake(tmp_path, "--unlock", configfile=config)
        assert unlock.returncode == 0, unlock.stderr[-2000:]
        again = snakemake(tmp_path, target, configfile=config)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert (model / "model.nequip.zip").exists()
    assert "resuming from" in (tmp_path / "results/logs/train/direct/c-real/n4/seed1.log").read_text()


def test_a_misspelt_top_level_key_is_a_few_lines(tmp_path):
    result = snakemake(tmp_path, "-n", "all", configfile=write_config(tmp_path / "typo.yaml",
                                                                     lambda c: c.update(resultz="out")))
    text = (result.stdout + result.stderr).strip()
    assert result.returncode != 0 and len(text.splitlines()) <= 5, text
    assert "resultz: unknown key; did you mean `results`?" in text


def test_sizes_the_data_cannot_hold_fail_the_dry_run(tmp_path):
    """tiny.yaml's c-synth holds at most 14 training structures: asking for 100 fails at start,
    not after generation and labelling."""
    config = write_config(tmp_path / "big.yaml", lambda c: c["experiments"]["fig3"].update(pretrain_sizes=[8, 100]))
    result = snakemake(tmp_path, "-n", "all", configfile=config)
    assert result.returncode != 0
    assert "experiments.fig3.pretrain_sizes: 100 training structures asked for, but dataset 'c-synth' has at most" \
        in result.stdout + result.stderr


def test_the_forecast_command_works_as_typed(tmp_path):
    """No --cores: the default profile (profiles/default) gives every local run what it needs."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
               "results/tables/compute_forecast.csv", "--configfile", str(REPO / "config" / "paper.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    forecast = pd.read_csv(tmp_path / "results/tables/compute_forecast.csv")
    assert forecast["gpu_hours_estimate"].gt(0).all()
