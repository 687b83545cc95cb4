"""Render the Hydra config that `nequip-train` (NequIP 0.19) runs, from the workflow's config.

One function builds every training config of the workflow: pre-training, fine-tuning and direct
training differ only in their data files and in where the model's weights come from (a fresh
model of `model.architecture` with `seed`, or one that takes the pre-trained parent's weights).
The rendered YAML is written next to the model, so every model records exactly how it was made.

Paper protocol (docs/protocol.md): per-type energy shift fixed at 0 and scale at 1 (no trainable
shift/scale), so pre-trained and fine-tuned models share one normalisation; every model's average
neighbour count is its own training set's (a fine-tuned one's too); loss = 4 x per-atom
energy MSE + 1 x force MSE; Adam, no scheduler; EMA 0.99; early stopping on the validation
force RMSE; the checkpoint with the lowest validation force RMSE is kept as `best.ckpt`.
`early_stopping.monitor: weighted_sum` (energy RMSE per atom + force RMSE) is offered for label
sources whose energy zero differs from the target's by eV/atom (the demo's), where a force-only
criterion keeps a model from before the energy offset was learned.
"""
from __future__ import annotations

from pathlib import Path

FORCES = "val0_epoch/forces_rmse"
TIMINGS = "timings.jsonl"  # one line per epoch: wall-clock seconds of training and validation
# `model.architecture` -> its builder: NequIP 0.19's own, or the paper's (NequIP 0.5.6's energy model)
ARCHITECTURES = {"nequip-0.19": "nequip.model.NequIPGNNModel", "nequip-0.5.6": "synpretrain.nequip_models.NequIP056Model"}
DEFAULT_ARCHITECTURE = "nequip-0.19"
KERNEL_CHOICE = "synpretrain.nequip_models.with_kernel"  # decides training.kernel where the job runs
CACHED_COMPILE = "synpretrain.compile_cache.with_cached_compile"  # compile once per architecture
MODEL_WRAPPERS = (KERNEL_CHOICE, CACHED_COMPILE)  # builder blocks around the model's own


def monitor_key(training: dict) -> str:
    """The validation metric that early stopping and the best checkpoint follow."""
    return f"val0_epoch/{training['early_stopping'].get('monitor', 'forces_rmse')}"


def _dataset(path: str, symbols: list[str], r_max: float) -> dict:
    """A NequIP dataset: a prepared LMDB file (types and neighbour lists stored, `prepared_data`)
    is read as it is; an extxyz file gets both transforms on first access, kept in memory."""
    path = str(Path(path).resolve())
    if path.endswith(".lmdb"):
        return {"_target_": "synpretrain.nequip_datasets.PreparedDataset", "file_path": path}
    transforms = [
        {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper",
         "model_type_names": list(symbols),
         "chemical_species_to_atom_type_map": {s: s for s in symbols}},
        {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": float(r_max)},
    ]
    return {"_target_": "synpretrain.nequip_datasets.CachedASEDataset", "file_path": path, "transforms": transforms,
            "ase_args": {"format": "extxyz"}}


def training_data(train_file: str, val_file: str, symbols: list[str], r_max: float,
                  batch_size: int, val_batch_size: int, seed: int, num_workers: int = 0) -> dict:
    """The `data:` block, with the training set's statistics (its neighbour count is every model's
    `avg_num_neighbors`, a fine-tuned one's too)."""
    def loader(batch: int, shuffle: bool) -> dict:
        block = {"_target_": "torch.utils.data.DataLoader", "batch_size": int(batch), "num_workers": int(num_workers)}
        if shuffle:
            block["shuffle"] = True
        if num_workers > 0:
            block["persistent_workers"] = True  # workers start once, not every epoch
        return block

    data = {
        "_target_": "nequip.data.datamodule.NequIPDataModule",
        "seed": int(seed),
        "train_dataset": _dataset(train_file, symbols, r_max),
        "val_dataset": _dataset(val_file, symbols, r_max),
        "train_dataloader": loader(batch_size, shuffle=True),
        "val_dataloader": loader(val_batch_size, shuffle=False),
    }
    data["stats_manager"] = {"_target_": "nequip.data.CommonDataStatisticsManager", "type_names": list(symbols),
                             "dataloader_kwargs": {"batch_size": int(val_batch_size)}}
    return data


def architecture(model: dict) -> str:
    """`model.architecture`, a key of ARCHITECTURES (default: NequIP 0.19's own)."""
    return model.get("architecture", DEFAULT_ARCHITECTURE)


def fresh_model(model: dict, symbols: list[str], seed: int) -> dict:
    """A randomly initialised NequIP model (of `model.architecture`) with fixed shift 0 / scale 1 per type."""
    return {
        "_target_": ARCHITECTURES[architecture(model)],
        "seed": int(seed),
        "model_dtype": model.get("model_dtype", "float32"),
        "type_names": list(symbols),
        "r_max": float(model["r_max"]),
        "num_bessels": int(model["num_bessels"]),
        "bessel_trainable": bool(model["bessel_trainable"]),
        "polynomial_cutoff_p": int(model["polynomial_cutoff_p"]),
        "num_layers": int(model["num_layers"]),
        "l_max": int(model["l_max"]),
        "parity": bool(model["parity"]),
        "num_features": int(model["num_features"]),
        "radial_mlp_depth": int(model["radial_mlp_depth"]),
        "radial_mlp_width": int(model["radial_mlp_width"]),
        "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
        "per_type_energy_shifts": {s: 0.0 for s in symbols},
        "per_type_energy_scales": {s: 1.0 for s in symbols},
        "per_type_energy_shifts_trainable": False,
        "per_type_energy_scales_trainable": False,
    }


def model_from_parent(package: str, model: dict, symbols: list[str], seed: int) -> dict:
    """A fine-tuned model: a fresh model of the parent's architecture (`model`, at its r_max) that
    takes every weight of the packaged parent, with the average neighbour count of its own training
    set, as the paper recomputed it (docs/protocol.md; `nequip_models.NequIPGNNModelFromPackage`)."""
    return {**fresh_model(model, symbols, seed), "_target_": "synpretrain.nequip_models.NequIPGNNModelFromPackage",
            "architecture": architecture(model), "package_path": str(Path(package).resolve())}


def model_block(model: dict, symbols: list[str], seed: int, parent_package: str | None) -> dict:
    """A fresh model, or the parent's weights in a model of `model` (its r_max may differ)."""
    return model_from_parent(parent_package, model, symbols, seed) if parent_package else \
        fresh_model(model, symbols, seed)


def trained_model(config: dict) -> dict:
    """The model builder block of a rendered config, inside the kernel choice and the compile
    cache if there are."""
    model = config["training_module"]["model"]
    while model["_target_"] in MODEL_WRAPPERS:
        model = model["model"]
    return model


def render(*, train_file: str, val_file: str, symbols: list[str], model: dict,
           training: dict, seed: int, out_dir: str, parent_package: str | None = None,
           strategy: dict | None = None) -> dict:
    """The whole `nequip-train` config (a plain dict, dumped to YAML by the caller).

    `model` is the architecture trained; for fine-tuning it must be the parent's, and an r_max
    other than the parent's fine-tunes at the new cut-off.  `strategy`: a fine-tuning strategy
    (`apply_strategy`), None for every weight trained on the real data."""
    config = _render(train_file=train_file, val_file=val_file, symbols=symbols, model=model, training=training,
                     seed=seed, out_dir=out_dir, parent_package=parent_package)
    return apply_strategy(config, strategy, symbols, model["r_max"], training, seed) if strategy else config


def apply_strategy(config: dict, strategy: dict, symbols: list[str], r_max: float, training: dict, seed: int) -> dict:
    """A fine-tuning strategy (`synpretrain.finetune_strategies`) in a rendered config:
    `{"type": "all"}`; `{"type": "freeze", "frozen_layers": k}`; `{"type": "replay", "fraction": f,
    "pool_file": the parent's pre-training set, "n_real": real training structures, "n_pool": its size}`."""
    where = "synpretrain.finetune_strategies"
    if strategy["type"] == "freeze":
        config["training_module"]["optimizer"]["param_groups"] = {
            "_target_": f"{where}.frozen_param_groups", "frozen_layers": int(strategy["frozen_layers"])}
    elif strategy["type"] == "replay":
        from .plan import replay_count

        data = config["data"]
        data["train_dataset"] = {"_target_": "torch.utils.data.ConcatDataset", "datasets": [
            data["train_dataset"],
            {"_target_": f"{where}.ForcesOnly", "dataset": _dataset(strategy["pool_file"], symbols, r_max)}]}
        loader = data["train_dataloader"]
        loader.pop("shuffle", None)              # the sampler shuffles
        loader["sampler"] = {"_target_": f"{where}.ReplaySampler", "n_real": int(strategy["n_real"]),
                             "n_pool": int(strategy["n_pool"]), "seed": int(seed),
                             "per_epoch": replay_count(int(strategy["n_pool"]), float(strategy["fraction"]))}
        energy = {"_target_": "nequip.data.PerAtomModifier", "field": "total_energy"}
        config["training_module"]["loss"] = {"_target_": "nequip.train.MetricsManager", "metrics": [
            {"name": "per_atom_energy_mse", "field": energy, "coeff": float(training["energy_weight"]),
             "metric": {"_target_": f"{where}.MaskedMeanSquaredError"}, "ignore_nan": True},
            {"name": "forces_mse", "field": "forces", "coeff": float(training["force_weight"]),
             "metric": {"_target_": "nequip.train.MeanSquaredError"}}]}
    elif strategy["type"] != "all":
        raise ValueError(f"unknown fine-tuning strategy type {strategy['type']!r}")
    return config


def _render(*, train_file: str, val_file: str, symbols: list[str], model: dict, training: dict, seed: int,
            out_dir: str, parent_package: str | None) -> dict:
    stopping = training["early_stopping"]
    model_config = model_block(model, symbols, seed, parent_package)
    if training.get("compile", False):  # NequIP's torch.compile of the training model, via the cache
        model_config = {"_target_": CACHED_COMPILE, "model": {**model_config, "compile_mode": "compile"}}
    kernel = training.get("kernel", "auto")
    if kernel == "openequivariance" or (kernel == "auto" and training.get("accelerator", "auto") != "cpu"):
        # decided in the training process, which has the device (nequip_models.with_kernel)
        model_config = {"_target_": KERNEL_CHOICE, "kernel": kernel, "model": model_config}
    callbacks = [
        {"_target_": "lightning.pytorch.callbacks.EarlyStopping", "monitor": monitor_key(training),
         "mode": "min", "min_delta": float(stopping["min_delta"]),
         "patience": int(stopping["patience"])},
        {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint", "monitor": monitor_key(training),
         "mode": "min", "dirpath": str(out_dir), "filename": "best", "save_last": False,
         "save_top_k": 1},
        {"_target_": "synpretrain.nequip_callbacks.LastCheckpoint", "path": str(Path(out_dir) / "last.ckpt"),
         **({"every_s": training["checkpoint_every_s"]} if "checkpoint_every_s" in training else {})},
        {"_target_": "synpretrain.nequip_callbacks.EpochTimer", "path": str(Path(out_dir) / TIMINGS)},
    ]
    if training.get("tf32", False):
        # NequIP >= 0.14 ignores global_options.allow_tf32: this callback is its only TF32 switch
        callbacks.append({"_target_": "nequip.train.callbacks.TF32Scheduler", "schedule": {0: True}})
    return {
        "run": ["train"],
        "data": training_data(train_file, val_file, symbols, model["r_max"],
                              training["batch_size"], training["val_batch_size"], seed,
                              num_workers=training.get("num_workers", 0)),
        "trainer": {
            "_target_": "lightning.Trainer",
            "accelerator": training.get("accelerator", "auto"),
            "devices": 1,
            "max_epochs": int(training["max_epochs"]),
            "check_val_every_n_epoch": 1,
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "deterministic": bool(training.get("deterministic", False)),
            # flushed every step, so that a killed run's log reaches its last checkpoint
            "logger": {"_target_": "lightning.pytorch.loggers.CSVLogger", "save_dir": str(out_dir),
                       "name": "csv", "version": 0, "flush_logs_every_n_steps": 1},
            "callbacks": callbacks,
        },
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "ema_decay": float(training["ema_decay"]),
            "loss": {"_target_": "nequip.train.EnergyForceLoss", "per_atom_energy": True,
                     "coeffs": {"total_energy": float(training["energy_weight"]),
                                "forces": float(training["force_weight"])}},
            "val_metrics": {"_target_": "nequip.train.EnergyForceMetrics",
                            "coeffs": {"per_atom_energy_rmse": 1.0, "forces_rmse": 1.0}},
            "optimizer": {"_target_": "torch.optim.Adam", "lr": float(training["lr"])},
            "model": model_config,
        },
    }
