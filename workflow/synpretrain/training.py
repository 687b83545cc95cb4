"""Drive `nequip-train` for one model: render config, train (resuming), package, summarise.

Resumption: a job killed mid-way (time limit, pre-emption, Ctrl-C) leaves `last.ckpt` and the
rendered `config.yaml` in the model folder.  Re-running the same job with an identical config
passes `++ckpt_path=last.ckpt` so that NequIP/Lightning continue from there; a changed config
starts over.  The declared outputs (`model.nequip.zip`, `training.json`) are written only after
training and packaging succeeded, so Snakemake never takes a half-trained model as finished.

A finished model is also kept (hard links) in `finished/`.  Snakemake deletes the outputs of every
job of a group when one of them fails (K jobs packed on one GPU); the retried group then finds each
finished sibling there, with the same config and inputs, and restores it instead of training again.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from pathlib import Path

import pandas as pd
import yaml

from .acquire import sha256
from .io import atomic_path, write_json
from .nequip_config import FORCES, TIMINGS
from .nequip_runner import CONFIG_NAME, PHASES
from .warm import exit_reason, run_module

RUNNER = "synpretrain.nequip_runner"
INPUTS = "inputs.json"  # the identity of the data a run started from (resume only on the same)
FINISHED = "finished"   # hard links to the outputs of the last finished training
# What makes two trainings the same (with the rendered config): not where or when they ran.
IDENTITY = ("stage", "seed", "n_train", "n_val", "train_sha256", "parent_sha256", "wildcards")


def identity_of(extra: dict) -> dict:
    return {key: extra.get(key) for key in IDENTITY}


def thread_env(threads: int) -> dict:
    env = dict(os.environ)
    for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[key] = str(threads)
    return env


def same_run(out_dir: Path, config: dict, identity: dict) -> bool:
    """Whether out_dir was started with this config on these inputs (`identity`: the hashes and
    counts of the data, which the config's file paths do not show)."""
    config_path, inputs_path = out_dir / f"{CONFIG_NAME}.yaml", out_dir / INPUTS
    return (config_path.exists() and config_path.read_text() == yaml.safe_dump(config, sort_keys=False)
            and inputs_path.exists() and json.loads(inputs_path.read_text()) == identity)


def prepare_run(out_dir: Path, config: dict, identity: dict | None = None) -> list[str]:
    """Write config.yaml; return extra Hydra overrides (resume from last.ckpt if it matches)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    identity = identity or {}
    last = out_dir / "last.ckpt"
    if same_run(out_dir, config, identity) and last.exists():
        # Lightning's CSVLogger deletes an existing metrics.csv, so each attempt logs to its own
        # csv/version_<attempt>/ and read_history() stitches them together.
        attempt = len(list((out_dir / "csv").glob("version_*")))
        return [f"++ckpt_path={last.resolve()}", f"++trainer.logger.version={attempt}"]
    # A different (or no) previous config: start from scratch.
    for stale in ("last.ckpt", "best.ckpt", TIMINGS, PHASES):
        (out_dir / stale).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "csv", ignore_errors=True)
    shutil.rmtree(out_dir / FINISHED, ignore_errors=True)  # a model of another config or data
    with atomic_path(out_dir / f"{CONFIG_NAME}.yaml") as tmp:
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    with atomic_path(out_dir / INPUTS) as tmp:
        tmp.write_text(json.dumps(identity, sort_keys=True) + "\n")
    return []


def run_nequip(out_dir: Path, package_path: Path, overrides: list[str], threads: int, log,
               evaluations: list[tuple[str, str]] = (), only_evaluate: bool = False, warm: bool = True,
               device: str | None = None) -> None:
    """`nequip-train` on out_dir/config.yaml, `nequip-package build best.ckpt`, then each of
    `evaluations` (test extxyz, metrics JSON), in one child process (`nequip_runner`, forked from
    the warm server where `warm` and it is usable: `synpretrain.warm`); the package appears at
    `package_path` only if training and packaging succeed.  `only_evaluate`: the package exists,
    evaluate it.  `device`: where to evaluate (default: the training's GPU, else the CPU)."""
    with contextlib.ExitStack() as stack:
        target = package_path if only_evaluate else stack.enter_context(atomic_path(package_path, suffix=".nequip.zip"))
        args = [str(out_dir.resolve()), str(target)]
        args += [arg for test, metrics in evaluations for arg in ("--evaluate", str(test), str(metrics))]
        args += ["--only-evaluate"] if only_evaluate else []
        args += ["--device", device] if device else []
        args += overrides
        code = run_module(RUNNER, args, log, env=thread_env(threads), threads=threads, warm=warm)
        if code != 0:
            raise RuntimeError(f"training, packaging or evaluation in {out_dir} {exit_reason(code)}; "
                               "see the log above")


def read_history(out_dir: Path) -> pd.DataFrame:
    """Per-epoch validation metrics logged by Lightning's CSVLogger, over every attempt: where a
    killed attempt logged an epoch that its successor re-ran after resuming, the later one counts."""
    attempts = sorted((out_dir / "csv").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not attempts:
        raise FileNotFoundError(f"no csv/version_*/metrics.csv in {out_dir}: did nequip-train run?")
    metrics = pd.concat([pd.read_csv(path) for path in attempts], ignore_index=True)
    cols = [c for c in metrics.columns if c.startswith("val0_epoch/") or c == "epoch"]
    history = metrics[cols].dropna(subset=[FORCES])
    return history.drop_duplicates(subset="epoch", keep="last").sort_values("epoch").reset_index(drop=True)


def throughput(out_dir: Path, wall_s: float) -> dict:
    """Speed of this attempt from the EpochTimer lines: training structures per second (median
    over epochs after the first, which carries warm-up and any compilation), the first epoch's
    extra seconds, and the fixed cost: the wall time not spent in epochs (start-up, data
    statistics, packaging) nor in evaluating the package on test sets."""
    path = out_dir / TIMINGS
    epochs = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    phases = json.loads((out_dir / PHASES).read_text()) if (out_dir / PHASES).exists() else {}
    if not epochs:
        return {}
    attempt = [e for e in epochs if e["unix_time"] >= time.time() - wall_s]
    steady = attempt[1:] or attempt
    rate = sorted(e["n_train"] / e["train_s"] for e in steady if e.get("n_train") and e["train_s"] > 0)
    epoch_s = sorted(e["train_s"] + e["val_s"] for e in steady)
    in_epochs = sum(e["train_s"] + e["val_s"] for e in attempt)
    return {
        "train_structures_per_s": round(rate[len(rate) // 2], 2) if rate else None,
        "epoch_s_median": round(epoch_s[len(epoch_s) // 2], 3) if epoch_s else None,
        "first_epoch_extra_s": round(attempt[0]["train_s"] + attempt[0]["val_s"] - epoch_s[len(epoch_s) // 2], 3)
        if len(attempt) > 1 else None,
        "fixed_s": round(wall_s - in_epochs - phases.get("evaluate_s", 0.0), 2) if attempt else None,
        "epochs_this_attempt": len(attempt),
        **{f"phase_{k}": v for k, v in phases.items()},
    }


def restore_finished(out_dir: Path, config: dict, package_path: Path, summary_path: Path,
                     identity: dict) -> dict | None:
    """The summary of an identical model already trained here (same config, same inputs), with
    its package and summary copied back into place; None if there is none."""
    kept = out_dir / FINISHED
    if not ((kept / package_path.name).exists() and (kept / summary_path.name).exists()
            and same_run(out_dir, config, identity)):
        return None
    for name, target in ((package_path.name, package_path), (summary_path.name, summary_path)):
        with atomic_path(target) as tmp:
            shutil.copyfile(kept / name, tmp)
    return json.loads(summary_path.read_text())


def keep_finished(out_dir: Path, *outputs: Path) -> None:
    kept = out_dir / FINISHED
    kept.mkdir(exist_ok=True)
    for path in outputs:
        (kept / path.name).unlink(missing_ok=True)
        try:
            os.link(path, kept / path.name)
        except OSError:  # a file system without hard links
            shutil.copyfile(path, kept / path.name)


def summarise(history: pd.DataFrame, monitor: str, wall_s: float, extra: dict) -> dict:
    """Epochs run, and the validation errors of the kept (best by `monitor`) epoch."""
    best = history.loc[history[monitor].idxmin()] if history[monitor].notna().any() else None
    diverged = bool(history.drop(columns="epoch").isna().any().any()
                    or not all(math.isfinite(v) for v in history[monitor]))
    return {
        **extra,
        "monitor": monitor,
        "epochs": int(history["epoch"].max()) + 1 if len(history) else 0,
        "best_epoch": None if best is None else int(best["epoch"]),
        "best_val_forces_rmse": None if best is None else float(best[FORCES]),
        "best_val_per_atom_energy_rmse": (None if best is None else
                                          float(best.get("val0_epoch/per_atom_energy_rmse", float("nan")))),
        "nan_in_validation": diverged,
        "wall_time_s": round(wall_s, 2),
    }


def train(out_dir: str | os.PathLike, config: dict, package_path: str | os.PathLike,
          summary_path: str | os.PathLike, threads: int, log, extra: dict | None = None,
          evaluations: list[tuple[str, str]] = (), warm: bool = True) -> dict:
    """Train (or resume) the model in `out_dir`; write the package and the summary JSON, and the
    metrics of the package on each of `evaluations` (test extxyz, metrics JSON).  `warm`: the
    training process may fork from the warm server (`synpretrain.warm`)."""
    out_dir, package_path, summary_path = Path(out_dir), Path(package_path), Path(summary_path)
    start, started_unix = time.perf_counter(), time.time()
    identity = identity_of(extra or {})
    restored = restore_finished(out_dir, config, package_path, summary_path, identity)
    if restored is not None:
        log.write(f"restored the finished model kept in {out_dir / FINISHED} (same config and inputs)\n")
        if evaluations:
            run_nequip(out_dir, package_path, [], threads, log, evaluations, only_evaluate=True, warm=warm)
        return restored
    overrides = prepare_run(out_dir, config, identity)
    if overrides:
        log.write(f"resuming from {out_dir / 'last.ckpt'}\n")
    run_nequip(out_dir, package_path, overrides, threads, log, evaluations, warm=warm)
    monitor = next(c["monitor"] for c in config["trainer"]["callbacks"] if c["_target_"].endswith("EarlyStopping"))
    wall_s = time.perf_counter() - start
    summary = summarise(read_history(out_dir), monitor, wall_s,
                        {**(extra or {}), **throughput(out_dir, wall_s), "package_sha256": sha256(package_path),
                         "started_unix": round(started_unix, 3), "finished_unix": round(time.time(), 3)})
    write_json(summary_path, summary)
    keep_finished(out_dir, package_path, summary_path)
    return summary
