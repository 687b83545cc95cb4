"""The compute ledger and forecast: arithmetic by hand, and the jobs a config plans."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from synpretrain.ledger import bench_model_differences, energy, forecast, job_rows, ledger
from synpretrain.layout import ModelId
from synpretrain.plan import experiment_packs, packs, planned_jobs

COMPUTE = {"gpu_watts": 300, "cpu_watts_per_core": 10, "grams_co2_per_kwh": 200, "expected_epoch_fraction": 0.5}


def small_config(k=1):
    return {
        "threads_per_job": 2,
        "compute": COMPUTE,
        "resources": {"jobs_per_gpu": k},
        "datasets": {"synth": {"source": "generate", "element": "C", "split": {"val_size": 10}},
                     "real": {"source": "generate", "element": "C", "split": {"val_size": 5}}},
        "pretrain": {"dataset": "synth", "sources": {"a": {"labeller": "x"}, "b": {"labeller": "y"}}},
        "targets": {"real": {"dataset": "real", "labeller": "z"}},
        "experiments": {
            "fig2": {"target": "real", "sources": ["a"], "pretrain_sizes": [100, 200], "sizes": [10],
                     "seeds": [1, 2], "finetune_seeds": [1]},
            "fig3": {"target": "real", "sources": ["a", "b"], "pretrain_sizes": [200], "sizes": [10, 20],
                     "seeds": [1, 2]},
        },
        "model": {"r_max": 4.0},
        "training": {"max_epochs": 100},
    }


def test_planned_jobs_are_counted_once():
    jobs = planned_jobs(small_config())
    by_stage = pd.Series([j.stage for j in jobs]).value_counts().to_dict()
    # pretrain: a/100, a/200, b/200; finetune: fig2 a/100+a/200 x n10 x seed1 = 2, fig3 {a,b}/200 x {10,20} x {1,2}
    # = 8, of which a/200/n10/seed1 is fig2's too -> 9; direct: n10 x {1,2} (shared) + n20 x {1,2} = 4
    assert by_stage == {"pretrain": 3, "finetune": 9, "direct": 4}
    assert ModelId("finetune", 10, source="a", npre=200, target="real", seed=1) in jobs
    assert jobs[0].model == "pretrain/a/n100"


def test_packs_hold_k_jobs_that_the_same_figures_need():
    config = small_config(k=2)
    groups = packs(config)
    members = [job for chunk in groups.values() for job in chunk]
    assert sorted(members) == sorted(planned_jobs(config))          # every job in exactly one pack
    assert all(len(chunk) <= 2 and len({j.stage for j in chunk}) == 1 for chunk in groups.values())
    fig3_jobs = set(planned_jobs({**config, "experiments": {"fig3": config["experiments"]["fig3"]}}))
    for name in experiment_packs(config, "fig3"):
        assert set(groups[name]) <= fig3_jobs                       # asking for fig3 trains only fig3's jobs
    covered = {job for name in experiment_packs(config, "fig3") for job in groups[name]}
    assert covered == fig3_jobs
    assert packs(small_config(k=1)) == {}


def test_energy_by_hand():
    kwh, co2 = energy(gpu_hours=10, cpu_core_hours=100, compute=COMPUTE)
    assert kwh == pytest.approx(10 * 0.3 + 100 * 0.01)          # 4 kWh
    assert co2 == pytest.approx(4 * 0.2)                         # 0.8 kg


def write_bench(folder, relative, seconds):
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("s\th:m:s\tmax_rss\n" f"{seconds}\t0:00:00\t100\n")


def test_ledger_arithmetic_by_hand(tmp_path):
    config = small_config(k=2)
    bench = tmp_path / "benchmarks"
    write_bench(bench, "train/direct/real/n10/seed1.tsv", 3600)       # 1 h on a GPU shared by 2: 0.5 GPU-h
    write_bench(bench, "train/direct/real/n20/seed1.tsv", 7200)       # 2 h on the CPU: 2 threads -> 4 core-h
    write_bench(bench, "label/synth/x/train.0.tsv", 1800)               # 0.5 h, 1 core
    write_bench(bench, "eval/direct/real/n10/seed1/real.tsv", 360)      # 0.1 h, threads_per_job cores
    on_gpu = {"direct/real/n10/seed1": True, "direct/real/n20/seed1": False}
    jobs = job_rows(bench, config, on_gpu)
    table = ledger(jobs, config).set_index(["scope", "name"])
    direct = table.loc[("stage", "direct training")]
    assert direct["jobs"] == 2 and direct["job_hours"] == pytest.approx(3.0)
    assert direct["gpu_hours"] == pytest.approx(0.5) and direct["cpu_core_hours"] == pytest.approx(4.0)
    assert direct["kwh"] == pytest.approx(0.5 * 0.3 + 4 * 0.01)
    assert table.loc[("stage", "labels"), "cpu_core_hours"] == pytest.approx(0.5)
    assert table.loc[("stage", "evaluation"), "cpu_core_hours"] == pytest.approx(0.2)
    total = table.loc[("total", "all")]
    assert total["cpu_core_hours"] == pytest.approx(4.0 + 0.5 + 0.2) and total["gpu_hours"] == pytest.approx(0.5)
    assert total["kg_co2"] == pytest.approx(total["kwh"] * 0.2)
    # direct n10 is used by fig2 and fig3: half each; n20 by fig3 alone; labels by no figure
    assert table.loc[("figure", "fig2"), "gpu_hours"] == pytest.approx(0.25)
    assert table.loc[("figure", "fig3"), "gpu_hours"] == pytest.approx(0.25)
    assert table.loc[("figure", "fig3"), "cpu_core_hours"] == pytest.approx(4.0 + 0.1)


def test_forecast_by_hand():
    config = small_config(k=2)
    bench = {"device": "GPU X", "cases": [
        {"case": "prepared", "jobs": 1, "structures_per_s_per_job": 100.0},
        {"case": "packed2", "jobs": 2, "structures_per_s_per_job": 50.0},
        {"case": "small", "jobs": 1, "structures_per_s_per_job": 10.0, "fixed_s": 36.0}], "md": []}
    table = forecast(config, bench).set_index(["scope", "name"])
    # direct, val 5 structures: (n + 5) / 50 per epoch, 100 epochs, + 36 s, over 2 jobs per GPU
    direct = [(36 + 100 * (n + 5) / 50) / 3600 / 2 for n in (10, 10, 20, 20)]
    assert table.loc[("stage", "direct training"), "gpu_hours_max"] == pytest.approx(sum(direct))
    half = [(36 + 50 * (n + 5) / 50) / 3600 / 2 for n in (10, 10, 20, 20)]
    assert table.loc[("stage", "direct training"), "gpu_hours_estimate"] == pytest.approx(sum(half))
    pretrain = [(36 + 100 * (n + 10) / 50) / 3600 / 2 for n in (100, 200, 200)]
    assert table.loc[("stage", "pre-training"), "gpu_hours_max"] == pytest.approx(sum(pretrain))
    assert table.loc[("stage", "fine-tuning"), "jobs"] == 9
    assert table.loc[("total", "all"), "jobs"] == 16
    assert table.loc[("figure", "fig2"), "jobs"] + table.loc[("figure", "fig3"), "jobs"] == pytest.approx(16)
    assert (table["device"] == "GPU X").all() and (table["bench_jobs"] == 2).all()


def test_forecast_uses_the_bench_cases_of_the_configured_kernel():
    bench = {"device": "GPU X", "md": [], "cases": [
        {"case": "packed2", "jobs": 2, "kernel": "e3nn", "structures_per_s_per_job": 50.0},
        {"case": "packed2-oeq", "jobs": 2, "kernel": "openequivariance", "structures_per_s_per_job": 125.0},
        {"case": "packed2-oeq-mps", "jobs": 2, "kernel": "openequivariance", "mps": True,
         "structures_per_s_per_job": 160.0},
        {"case": "small", "jobs": 1, "kernel": "e3nn", "fixed_s": 36.0},
        {"case": "small-oeq", "jobs": 1, "kernel": "openequivariance", "fixed_s": 18.0}]}
    for kernel, rate, fixed in [("auto", 125.0, 18.0), ("openequivariance", 125.0, 18.0), ("e3nn", 50.0, 36.0)]:
        config = small_config(k=2)
        config["training"]["kernel"] = kernel
        table = forecast(config, bench).set_index(["scope", "name"])
        assert (table["structures_per_s_per_job"] == rate).all(), kernel
        direct = [(fixed + 100 * (n + 5) / rate) / 3600 / 2 for n in (10, 10, 20, 20)]
        assert table.loc[("stage", "direct training"), "gpu_hours_max"] == pytest.approx(sum(direct)), kernel
    config["training"]["kernel"], config["resources"]["mps"] = "auto", True      # MPS: its own measurement
    assert (forecast(config, bench)["structures_per_s_per_job"] == 160.0).all()
    with pytest.raises(ValueError, match="kernel openequivariance"):
        config["training"]["kernel"] = "openequivariance"
        forecast(config, {**bench, "cases": bench["cases"][:1]})


def test_forecast_says_when_the_bench_measured_another_model():
    config = small_config(k=2)
    bench = {"device": "GPU X", "md": [], "model": {"r_max": 4.0},
             "cases": [{"case": "packed2", "jobs": 2, "structures_per_s_per_job": 50.0}]}
    assert (forecast(config, bench)["bench_model_differs"] == "").all()  # nequip-0.19 on both sides by default
    config["model"]["architecture"] = "nequip-0.5.6"
    assert (forecast(config, bench)["bench_model_differs"] ==
            "architecture nequip-0.19 (config: nequip-0.5.6)").all()
    bench["model"].update(architecture="nequip-0.5.6", r_max=5.0)
    assert bench_model_differences(config, bench) == ["r_max 5.0 (config: 4.0)"]


def test_paper_forecast_counts_the_papers_jobs():
    from pathlib import Path

    config = yaml.safe_load((Path(__file__).parents[1] / "config/paper.yaml").read_text())
    config.setdefault("compute", COMPUTE)
    jobs = planned_jobs(config)
    assert pd.Series([j.stage for j in jobs]).value_counts().to_dict() == {"finetune": 563, "direct": 85, "pretrain": 24}
    assert sum(j.n for j in jobs if j.stage == "pretrain") == 473_190


def test_which_models_trained_on_a_gpu(tmp_path):
    from synpretrain.ledger import on_gpu_models

    paths = []
    for model, gpu in (("direct/real/n10/seed1", "0"), ("finetune/a/n200/real/n10/seed1", None)):
        path = tmp_path / "models/results/models" / model / "training.json"
        path.parent.mkdir(parents=True)
        path.write_text(f'{{"gpu": {"null" if gpu is None else chr(34) + gpu + chr(34)}}}')
        paths.append(path)
    assert on_gpu_models(paths) == {"direct/real/n10/seed1": True, "finetune/a/n200/real/n10/seed1": False}


def test_forecast_charges_an_md_run_a_whole_gpu_unless_its_pack_was_measured():
    from synpretrain.plan import md_packs

    config = small_config(k=2)
    config["experiments"]["fig4"] = {"target": "real", "sources": ["a"], "pretrain_sizes": [200], "sizes": [10],
                                     "seeds": [1]}
    config["figures"] = {"fig4": {"md_seed": 1}}
    config["md"] = {"engine": "eager", "ramp_ps": 1, "hold_ps": 2, "timestep_fs": 1.0}       # 3000 steps per run
    assert [[m.stage for m in members] for members in md_packs(config).values()] == [["direct", "finetune"]]
    alone = {"engine": "eager on cuda", "jobs": 1, "steps_per_s": 30.0}
    side_by_side = {"engine": "eager on cuda", "jobs": 2, "steps_per_s": 25.0}
    bench = {"device": "GPU X", "cases": [{"case": "packed2", "jobs": 2, "structures_per_s_per_job": 50.0}]}

    def md_hours(config, runs):
        table = forecast(config, {**bench, "md": runs}).set_index(["scope", "name"])
        return table.loc[("stage", "MD stability"), "gpu_hours_max"]

    fast = {"engine": "openequivariance on cuda", "jobs": 1, "steps_per_s": 60.0}
    not_offered = {"engine": "torch.compile on cuda", "jobs": 1, "steps_per_s": 20.0}   # a bench-only variant
    config["md"]["engine"] = "torch"                    # not measured: the slowest measured engine's rate
    assert md_hours(config, [alone, fast, not_offered]) == pytest.approx(2 * 3000 / 30 / 3600)
    assert forecast(config, {**bench, "md": [alone, fast]})["md_engine"].iloc[0] == "eager (torch not measured)"
    config["md"]["engine"] = "eager"

    assert md_hours(config, [alone]) == pytest.approx(2 * 3000 / 30 / 3600)           # not measured packed
    assert md_hours(config, [alone, side_by_side]) == pytest.approx(2 * 3000 / 25 / 3600 / 2)
    config["resources"]["jobs_per_gpu"] = 1                                            # no MD pack
    assert md_packs(config) == {}
    assert md_hours(config, [alone, side_by_side]) == pytest.approx(2 * 3000 / 30 / 3600)


def test_forecast_charges_md_at_the_rate_of_the_configs_compile_variant():
    """md.engine torch: the bench rows of the variant the config runs (md.compile; auto = compiled on
    a GPU, with the default kernels), else the slowest torch row."""
    config = small_config(k=1)
    config["experiments"]["fig4"] = {"target": "real", "sources": ["a"], "pretrain_sizes": [200], "sizes": [10],
                                     "seeds": [1]}
    config["figures"] = {"fig4": {"md_seed": 1}}
    config["md"] = {"engine": "torch", "ramp_ps": 1, "hold_ps": 2, "timestep_fs": 1.0}       # 3000 steps per run
    plain = {"engine": "torch on cuda (OpenEquivariance)", "compiled": False, "kernel": "auto", "jobs": 1,
             "steps_per_s": 400.0}
    compiled = {**plain, "compiled": True, "steps_per_s": 600.0}
    compiled_e3nn = {**compiled, "engine": "torch on cuda", "kernel": "e3nn", "steps_per_s": 500.0}
    bench = {"device": "GPU X", "cases": [{"case": "prepared", "jobs": 1, "structures_per_s_per_job": 50.0}]}

    def md_hours(runs, compile_setting="auto", device="GPU X"):
        config["md"]["compile"] = compile_setting
        table = forecast(config, {**bench, "device": device, "md": runs}).set_index(["scope", "name"])
        return table.loc[("stage", "MD stability"), "gpu_hours_max"]

    runs = [plain, compiled_e3nn, compiled]
    assert md_hours(runs) == pytest.approx(2 * 3000 / 600 / 3600)
    assert md_hours(runs, False) == pytest.approx(2 * 3000 / 400 / 3600)
    assert md_hours(runs, "auto", device="CPU: x86_64") == pytest.approx(2 * 3000 / 400 / 3600)
    assert md_hours([compiled_e3nn, plain]) == pytest.approx(2 * 3000 / 400 / 3600)   # none: the slowest torch row
