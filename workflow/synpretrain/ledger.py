"""What a run cost, and what a config will cost: job-hours, GPU-hours, kWh and kg CO2.

The paper did this by hand (590 GPU-hours, 177 kWh, 37 kg CO2 on one RTX A6000).  Here:
  - `ledger`: the run's own `benchmarks/<rule>/...tsv` files (Snakemake's wall time per job),
    per stage and per figure.  A GPU job holds 1/K of a GPU when K jobs share it
    (`resources.jobs_per_gpu`), and a job that ran on the CPU holds none;
  - `forecast`: the planned training and MD jobs of a config (`synpretrain.plan`) timed with a
    `bench_training.py` JSON: an upper bound (every job runs `max_epochs`) and an estimate with
    early stopping (`compute.expected_epoch_fraction` of them).
A job shared by several figures (a direct-training run of Figs 2 and 3) is split equally between
them, so that the figures add up to the total.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from .config import stage_training
from .evaluation import MD_ENGINES
from .layout import ModelId, benchmark_model
from .nequip_config import architecture
from .plan import (experiments_of, jobs_per_gpu, md_packs, planned_jobs, replay_count, strategy_spec, training_settings,
                   uses_mps)

GPU_STAGES = {"train/pretrain": "pre-training", "train/finetune": "fine-tuning", "train/direct": "direct training",
              "md": "MD stability"}
STAGES = {**GPU_STAGES, "generate": "structures: MD generation", "assemble": "structures: filter + split",
          "acquire": "downloads", "label": "labels", "subset": "training subsets", "prepare": "prepared data",
          "eval": "evaluation", "analysis": "SOAP + UMAP", "packs": "pack records"}
COLUMNS = ["scope", "name", "jobs", "job_hours", "cpu_core_hours", "gpu_hours", "kwh", "kg_co2"]


def stage_of(relative: Path) -> str:
    parts = relative.parts
    for key in ("/".join(parts[:2]), parts[0]):
        if key in STAGES:
            return STAGES[key]
    return parts[0]


def energy(gpu_hours: float, cpu_core_hours: float, compute: dict) -> tuple[float, float]:
    """(kWh, kg CO2) of GPU and CPU core hours at the config's power and grid intensity."""
    kwh = (gpu_hours * compute["gpu_watts"] + cpu_core_hours * compute["cpu_watts_per_core"]) / 1000
    return kwh, kwh * compute["grams_co2_per_kwh"] / 1000


def job_rows(benchmarks: Path, config: dict, on_gpu: dict[str, bool]) -> pd.DataFrame:
    """One row per benchmark file: stage, model, hours, and the share of a GPU it held."""
    k = jobs_per_gpu(config)
    threads = int(config["threads_per_job"])
    rows = []
    for path in sorted(benchmarks.rglob("*.tsv")):
        relative = path.relative_to(benchmarks)
        table = pd.read_csv(path, sep="\t")
        if table.empty:
            continue
        hours = float(table["s"].iloc[-1]) / 3600
        stage, model = stage_of(relative), benchmark_model(relative)
        gpu_share = 1.0 / k if stage in GPU_STAGES.values() and on_gpu.get(model, False) else 0.0
        cores = threads if stage in GPU_STAGES.values() or stage == "evaluation" else 1
        rows.append({"stage": stage, "model": model, "job_hours": hours, "gpu_hours": hours * gpu_share,
                     "cpu_core_hours": hours * cores if gpu_share == 0 else 0.0})
    return pd.DataFrame(rows, columns=["stage", "model", "job_hours", "gpu_hours", "cpu_core_hours"])


def breakdown(jobs: pd.DataFrame, experiments, users: dict, row) -> pd.DataFrame:
    """`row(scope, name, part, weight)` per stage, per figure (a job used by several figures
    weighs 1/their number in each) and for the total."""
    ones = pd.Series(1.0, index=jobs.index)
    rows = [row("stage", stage, part, ones[part.index]) for stage, part in jobs.groupby("stage", sort=False)]
    for figure in experiments:
        share = jobs["model"].map(lambda m: 1 / len(users[m]) if figure in users.get(m, ()) else 0.0)
        if share.sum() > 0:
            rows.append(row("figure", figure, jobs, share))
    rows.append(row("total", "all", jobs, ones))
    return pd.DataFrame(rows)


def ledger(jobs: pd.DataFrame, config: dict) -> pd.DataFrame:
    """Per stage, per figure and in total: jobs, job-hours, CPU core-hours, GPU-hours, kWh, kg CO2."""
    def row(scope, name, part, weight):
        gpu, cpu = float((part["gpu_hours"] * weight).sum()), float((part["cpu_core_hours"] * weight).sum())
        kwh, co2 = energy(gpu, cpu, config["compute"])
        return {"scope": scope, "name": name, "jobs": round(float(weight.sum()), 2),
                "job_hours": float((part["job_hours"] * weight).sum()), "cpu_core_hours": cpu, "gpu_hours": gpu,
                "kwh": kwh, "kg_co2": co2}

    return breakdown(jobs, config["experiments"], experiments_of(config), row).reindex(columns=COLUMNS)


# --- forecast -----------------------------------------------------------------------------------


def _dataset_of(config: dict, job: ModelId) -> str:
    if job.stage == "pretrain":
        source = config["pretrain"]["sources"][job.source]
        return source.get("dataset", config["pretrain"]["dataset"])
    return config["targets"][job.target]["dataset"]


def validation_size(config: dict, dataset: str) -> int:
    """Structures in a dataset's validation split (its parent's, for a derived dataset)."""
    spec = config["datasets"][dataset]
    if spec["source"] == "derived":
        return validation_size(config, spec["derived"]["from"])
    return int((spec.get("split") or {}).get("val_size") or 0)


def replayed(config: dict, job: ModelId) -> int:
    """Pre-training structures a replay fine-tuning also sees every epoch (0 for any other job)."""
    spec = strategy_spec(config, job.strategy)
    return replay_count(job.npre, spec["fraction"]) if spec["type"] == "replay" else 0


def bench_kernel(config: dict, bench: dict) -> str:
    """The tensor-product kernel the forecast assumes: the pre-training's `training.kernel`, with
    `auto` = openequivariance where the bench measured it (a forecast is for a GPU)."""
    kernel = stage_training(config, "pretrain").get("kernel", "auto")
    if kernel == "auto":
        kernel = "openequivariance" if any(c.get("kernel") == "openequivariance" for c in bench["cases"]) else "e3nn"
    return kernel


def bench_model_differences(config: dict, bench: dict) -> list[str]:
    """The model settings in which the bench's model is not the config's (then the forecast times
    another model: a guess)."""
    ours, theirs = dict(config["model"]), dict(bench.get("model") or {})
    for model in (ours, theirs):
        model["architecture"] = architecture(model)
    return [f"{key} {theirs[key]} (config: {ours[key]})" for key in sorted(ours.keys() & theirs.keys())
            if ours[key] != theirs[key]]


def bench_cases(bench: dict, kernel: str, mps: bool = False) -> list[dict]:
    """The bench's training cases with `kernel` (cases without a kernel are e3nn's), measured with
    MPS if `mps` and the bench has such cases, else without."""
    cases = [c for c in bench["cases"] if c.get("kernel", "e3nn") == kernel]
    with_mps = [c for c in cases if c.get("mps")]
    return with_mps if mps and with_mps else [c for c in cases if not c.get("mps")]


def bench_rate(cases: list[dict], k: int, kernel: str) -> tuple[float, int]:
    """Training structures/s of ONE job when `k` share a device, from the case (of `bench_cases`)
    with the nearest number of jobs (`prepared` is one job), and that number."""
    cases = {c["jobs"]: c for c in cases if c["case"].startswith("prepared") or c["case"].startswith("packed")}
    if not cases:
        raise ValueError(f"the bench JSON has no 'prepared' or 'packed' case with kernel {kernel}: "
                         "run bench_training.py with them (--kernels)")
    nearest = min(cases, key=lambda jobs: (abs(jobs - k), jobs))
    return float(cases[nearest]["structures_per_s_per_job"]), nearest


def bench_md_rate(config: dict, bench: dict) -> tuple[float | None, int, str | None]:
    """steps/s of one MD run with the config's `md.engine`, how many runs shared the device when
    it was measured, and the engine measured: the bench's largest MD pack (`--md-jobs`) that is not
    larger than the config's (`plan.md_packs`), else one run alone, which then holds a whole GPU.
    A packed rate is used only where measured: runs side by side are not assumed to keep their
    speed.  For `torch`, the rows of the config's `md.compile` where measured (else the slowest of
    the pack).  An engine the bench did not measure is charged the slowest `md.engine` it did, alone."""
    if not config.get("md"):
        return None, 1, None
    engine = config["md"]["engine"]          # (the schema's default filled in by `validate`)
    pack = max((len(members) for members in md_packs(config).values()), default=1)
    measured = bench.get("md", [])

    def engine_of(m: dict) -> str:  # "eager on cuda" -> "eager"
        return m["engine"].split()[0]

    entries = [m for m in measured if engine_of(m) == engine and m.get("jobs", 1) <= pack]
    if engine == "torch":  # rows of the variant the config runs (md.compile auto: compiled on a GPU), where measured
        compiled = config["md"].get("compile", "auto")
        compiled = not bench.get("device", "CPU").startswith("CPU") if compiled == "auto" else compiled
        variant = [m for m in entries if m.get("compiled", False) == compiled and m.get("kernel", "auto") == "auto"]
        entries = variant or entries
    with_mps = [m for m in entries if m.get("mps")]
    entries = with_mps if uses_mps(config) and with_mps else [m for m in entries if not m.get("mps")]
    if entries:
        best = max(entries, key=lambda m: (m.get("jobs", 1), -m["steps_per_s"]))  # the largest pack, its slowest
        return float(best["steps_per_s"]), int(best.get("jobs", 1)), engine
    alone = [m for m in measured if m.get("jobs", 1) == 1 and not m.get("mps") and engine_of(m) in MD_ENGINES]
    if not alone:
        return None, 1, None
    slowest = min(alone, key=lambda m: m["steps_per_s"])
    return float(slowest["steps_per_s"]), 1, f"{engine_of(slowest)} ({engine} not measured)"


def forecast(config: dict, bench: dict) -> pd.DataFrame:
    """GPU-hours the config's training and MD jobs will take on the bench's device."""
    compute, k = config["compute"], jobs_per_gpu(config)
    kernel = bench_kernel(config, bench)
    measured = bench_cases(bench, kernel, uses_mps(config))
    rate, measured_k = bench_rate(measured, k, kernel)
    # GPU jobs start cold (synpretrain.warm is for CPU machines)
    fixed = next((c["fixed_s"] for c in bench_cases(bench, kernel) if c["case"].startswith("small") and not c.get("warm")),
                 0.0)
    users = dict(experiments_of(config))
    rows = []
    for job in planned_jobs(config):
        _, training = training_settings(config, job)
        per_epoch = (job.n + replayed(config, job) + validation_size(config, _dataset_of(config, job))) / rate

        def gpu_hours(epochs: float) -> float:  # a 1/k share of the GPU for the job's wall time
            return (fixed + epochs * per_epoch) / 3600 / k

        rows.append({"stage": GPU_STAGES[f"train/{job.stage}"], "model": job.model,
                     "gpu_hours_max": gpu_hours(training["max_epochs"]),
                     "gpu_hours_estimate": gpu_hours(compute["expected_epoch_fraction"] * training["max_epochs"])})
    md = config.get("md")
    md_rate, md_sharing, md_engine = bench_md_rate(config, bench)
    if md and md_rate and "fig4" in config["experiments"] and "fig4" in config.get("figures", {}):
        steps = (md.get("ramp_ps", 100) + md.get("hold_ps", 900)) * 1000 / md.get("timestep_fs", 1.0)
        for model in ("direct", "finetune"):
            hours = steps / md_rate / 3600 / md_sharing
            rows.append({"stage": "MD stability", "model": f"md:{model}", "gpu_hours_max": hours,
                         "gpu_hours_estimate": hours})
            users[f"md:{model}"] = ("fig4",)

    def row(scope, name, part, weight):
        hours_max, hours = float((part["gpu_hours_max"] * weight).sum()), float((part["gpu_hours_estimate"] * weight).sum())
        (kwh_max, co2_max), (kwh, co2) = energy(hours_max, 0.0, compute), energy(hours, 0.0, compute)
        return {"scope": scope, "name": name, "jobs": round(float(weight.sum()), 2),
                "gpu_hours_max": hours_max, "gpu_hours_estimate": hours, "kwh_max": kwh_max, "kwh_estimate": kwh,
                "kg_co2_max": co2_max, "kg_co2_estimate": co2}

    table = breakdown(pd.DataFrame(rows), config["experiments"], users, row)
    table["device"] = bench["device"]
    table["jobs_per_gpu"] = k
    table["bench_jobs"] = measured_k
    table["structures_per_s_per_job"] = rate
    table["kernel"] = kernel
    table["mps"] = any(c.get("mps") for c in measured)
    table["md_engine"] = md_engine
    table["bench_model_differs"] = "; ".join(bench_model_differences(config, bench))
    return table


def on_gpu_models(summaries) -> dict[str, bool]:
    """model path -> whether its training ran on a GPU (`gpu` of its training.json)."""
    found = {}
    for path in map(Path, summaries):
        parts = path.parent.parts
        model = "/".join(parts[len(parts) - parts[::-1].index("models"):])
        found[model] = json.loads(path.read_text()).get("gpu") is not None
    return found


def rounded(table: pd.DataFrame, digits: int = 4) -> pd.DataFrame:
    return table.apply(lambda col: col.map(lambda v: round(v, digits) if isinstance(v, float) and math.isfinite(v)
                                           else v))
