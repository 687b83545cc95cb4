import yaml

from synpretrain import nequip_config
from synpretrain.config import ConfigError, stage_training

MODEL = {"num_layers": 4, "num_features": 32, "l_max": 1, "parity": True, "r_max": 4.0, "num_bessels": 8,
         "bessel_trainable": True, "polynomial_cutoff_p": 6, "radial_mlp_depth": 1, "radial_mlp_width": 8,
         "model_dtype": "float32"}
TRAINING = {"lr": 0.01, "batch_size": 10, "val_batch_size": 20, "max_epochs": 300, "ema_decay": 0.99,
            "energy_weight": 4.0, "force_weight": 1.0, "accelerator": "auto",
            "early_stopping": {"patience": 40, "min_delta": 0.005}}


def render(**kwargs):
    args = dict(train_file="train.extxyz", val_file="val.extxyz", symbols=["C"], model=MODEL,
                training=TRAINING, seed=3, out_dir="/out")
    args.update(kwargs)
    return nequip_config.render(**args)


def test_fresh_model_has_the_papers_architecture_and_fixed_normalisation():
    config = render()
    model = nequip_config.trained_model(config)
    assert model["_target_"] == "nequip.model.NequIPGNNModel"    # the default architecture, nequip-0.19
    assert nequip_config.trained_model(render(model={**MODEL, "architecture": "nequip-0.5.6"}))["_target_"] == \
        "synpretrain.nequip_models.NequIP056Model"
    assert (model["num_layers"], model["num_features"], model["l_max"], model["r_max"]) == (4, 32, 1, 4.0)
    assert (model["radial_mlp_depth"], model["radial_mlp_width"], model["num_bessels"]) == (1, 8, 8)
    assert model["per_type_energy_shifts"] == {"C": 0.0} and model["per_type_energy_scales"] == {"C": 1.0}
    assert model["per_type_energy_shifts_trainable"] is False and model["per_type_energy_scales_trainable"] is False
    assert model["avg_num_neighbors"] == "${training_data_stats:num_neighbors_mean}"
    assert model["seed"] == 3 and config["data"]["seed"] == 3


def test_loss_ema_optimiser_and_early_stopping():
    config = render()
    module = config["training_module"]
    assert module["ema_decay"] == 0.99
    assert module["loss"]["per_atom_energy"] is True
    assert module["loss"]["coeffs"] == {"total_energy": 4.0, "forces": 1.0}
    assert module["optimizer"] == {"_target_": "torch.optim.Adam", "lr": 0.01}
    stop, checkpoint, last, timer = config["trainer"]["callbacks"]
    assert timer["_target_"] == "synpretrain.nequip_callbacks.EpochTimer"
    assert stop["monitor"] == checkpoint["monitor"] == "val0_epoch/forces_rmse"
    assert (stop["patience"], stop["min_delta"]) == (40, 0.005)
    assert checkpoint["filename"] == "best" and checkpoint["save_last"] is False    # LastCheckpoint writes last.ckpt
    assert last["_target_"].endswith("LastCheckpoint") and last["path"].endswith("/last.ckpt")
    assert config["trainer"]["max_epochs"] == 300 and config["trainer"]["accelerator"] == "auto"
    assert config["data"]["train_dataloader"]["batch_size"] == 10
    assert config["data"]["val_dataloader"]["batch_size"] == 20


def test_fine_tuning_starts_from_the_whole_parent_package_with_its_own_neighbour_count(tmp_path):
    parent = tmp_path / "model.nequip.zip"
    for architecture in nequip_config.ARCHITECTURES:
        model = {**MODEL, "architecture": architecture}
        config = render(parent_package=str(parent), model=model)
        assert nequip_config.trained_model(config) == {
            **nequip_config.fresh_model(model, ["C"], seed=3), "architecture": architecture,
            "_target_": "synpretrain.nequip_models.NequIPGNNModelFromPackage", "package_path": str(parent)}
        assert nequip_config.trained_model(config)["avg_num_neighbors"] == "${training_data_stats:num_neighbors_mean}"
        assert "stats_manager" in config["data"]  # the paper recomputed it from the fine-tuning set


def test_rendered_config_is_plain_yaml_with_absolute_data_paths():
    config = render()
    assert yaml.safe_load(yaml.safe_dump(config)) == config
    assert config["data"]["train_dataset"]["file_path"].startswith("/")


def test_stage_overrides():
    config = {"training": {**TRAINING, "pretrain": {"max_epochs": 40}, "finetune": {"lr": 0.001}}}
    assert stage_training(config, "pretrain")["max_epochs"] == 40
    assert stage_training(config, "finetune")["lr"] == 0.001
    assert stage_training(config, "direct") == {k: v for k, v in config["training"].items()
                                                if k not in ("pretrain", "finetune")}
    try:
        stage_training(config, "distill")
    except ConfigError as error:
        assert "distill" in str(error)
    else:
        raise AssertionError("an unknown stage must be rejected")


def test_monitor_can_include_the_energy():
    training = {**TRAINING, "early_stopping": {"patience": 40, "min_delta": 0.005, "monitor": "weighted_sum"}}
    stop, checkpoint, _, _ = render(training=training)["trainer"]["callbacks"]
    assert stop["monitor"] == checkpoint["monitor"] == "val0_epoch/weighted_sum"


def test_speed_switches_workers_compile_and_tf32():
    plain = render()
    assert plain["data"]["train_dataloader"]["num_workers"] == 0
    assert "persistent_workers" not in plain["data"]["train_dataloader"]
    assert "compile_mode" not in nequip_config.trained_model(plain)
    assert not any(c["_target_"].endswith("TF32Scheduler") for c in plain["trainer"]["callbacks"])
    fast = render(training={**TRAINING, "num_workers": 3, "compile": True, "tf32": True})
    assert fast["data"]["train_dataloader"]["num_workers"] == fast["data"]["val_dataloader"]["num_workers"] == 3
    assert fast["data"]["train_dataloader"]["persistent_workers"] is True
    assert nequip_config.trained_model(fast)["compile_mode"] == "compile"
    assert fast["training_module"]["model"]["model"]["_target_"] == nequip_config.CACHED_COMPILE  # inside the kernel choice
    assert {"_target_": "nequip.train.callbacks.TF32Scheduler", "schedule": {0: True}} in fast["trainer"]["callbacks"]


def test_tensor_product_kernel_is_chosen_where_the_job_runs():
    from synpretrain.nequip_config import KERNEL_CHOICE

    for kernel in ("auto", "openequivariance"):
        config = render(training={**TRAINING, "kernel": kernel})
        assert config["training_module"]["model"]["_target_"] == KERNEL_CHOICE
        assert config["training_module"]["model"]["kernel"] == kernel
        assert nequip_config.trained_model(config)["_target_"] == "nequip.model.NequIPGNNModel"
    assert nequip_config.trained_model(render(training={**TRAINING, "kernel": "e3nn"})) \
        == render(training={**TRAINING, "kernel": "e3nn"})["training_module"]["model"]
    # a CPU job has nothing to choose: the plain model
    on_cpu = render(training={**TRAINING, "kernel": "auto", "accelerator": "cpu"})
    assert on_cpu["training_module"]["model"]["_target_"] == "nequip.model.NequIPGNNModel"


def test_prepared_files_are_read_without_transforms(tmp_path):
    config = render(train_file=str(tmp_path / "train_n10.r4.lmdb"), val_file=str(tmp_path / "val.r4.lmdb"))
    dataset = config["data"]["train_dataset"]
    assert dataset == {"_target_": "synpretrain.nequip_datasets.PreparedDataset",
                       "file_path": str(tmp_path / "train_n10.r4.lmdb")}
    assert "stats_manager" in config["data"]                       # avg_num_neighbors


def test_kernel_choice_builds_e3nn_without_a_gpu_and_refuses_a_forced_openequivariance():
    import pytest
    import torch
    from nequip.utils.global_state import set_global_state

    from synpretrain.nequip_models import with_kernel

    set_global_state()
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the choice would differ")
    block = {**nequip_config.trained_model(render(training={**TRAINING, "kernel": "auto"})), "avg_num_neighbors": 20.0}
    model = with_kernel("auto", dict(block))
    assert type(model).__name__ == "GraphModel"
    assert not any("OpenEquivariance" in type(m).__name__ for m in model.modules())
    with pytest.raises(RuntimeError, match="pip install openequivariance"):
        with_kernel("openequivariance", dict(block))
