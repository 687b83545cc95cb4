"""Training from the prepared LMDB file gives the same model as from extxyz (same seed, CPU)."""
from __future__ import annotations

import os

import pandas as pd
import pytest

from fixtures import lcbop_training_split
from synpretrain import nequip_config, training
from synpretrain.prepared_data import prepare, prepared_file

MODEL = {"num_layers": 1, "num_features": 4, "l_max": 1, "parity": True, "r_max": 3.0, "num_bessels": 8,
         "bessel_trainable": True, "polynomial_cutoff_p": 6, "radial_mlp_depth": 1, "radial_mlp_width": 8,
         "model_dtype": "float64"}
TRAINING = {"lr": 0.01, "batch_size": 2, "val_batch_size": 4, "max_epochs": 4, "ema_decay": 0.99,
            "energy_weight": 4.0, "force_weight": 1.0, "accelerator": "cpu", "deterministic": True,
            "early_stopping": {"patience": 100, "min_delta": 0.0}}


def test_prepared_file_names_its_cutoff():
    assert prepared_file("results/labels/c/x/train_n10.extxyz", 4.0) == "results/labels/c/x/train_n10.r4.lmdb"
    assert prepared_file("results/data/c/val.extxyz", 3.5) == "results/data/c/val.r3.5.lmdb"


def test_unknown_element_is_named(tmp_path):
    data = lcbop_training_split(tmp_path, n_train=4, n_val=2, repeat=(1, 1, 1))
    with pytest.raises(ValueError, match=r"structure 0 has elements \['C'\].*\['Si'\]"):
        prepare(data / "train.extxyz", tmp_path / "x.lmdb", ["Si"], 3.0)
    assert not (tmp_path / "x.lmdb").exists()          # nothing half-written


def test_training_from_prepared_data_equals_extxyz(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    (tmp_path / "data").mkdir()
    data = lcbop_training_split(tmp_path / "data", n_train=12, n_val=4, repeat=(2, 1, 1))
    lmdb = {}
    for split in ("train", "val"):
        lmdb[split] = tmp_path / f"{split}.lmdb"
        assert prepare(data / f"{split}.extxyz", lmdb[split], ["C"], MODEL["r_max"]) == (12 if split == "train" else 4)
        assert os.path.getsize(lmdb[split]) < 1 << 20       # shrunk to what it holds, not its 1 GiB map
    histories = {}
    for kind, files in {"extxyz": (data / "train.extxyz", data / "val.extxyz"),
                        "lmdb": (lmdb["train"], lmdb["val"])}.items():
        out = tmp_path / kind
        config = nequip_config.render(train_file=str(files[0]), val_file=str(files[1]), symbols=["C"], model=MODEL,
                                      training=TRAINING, seed=3, out_dir=str(out))
        dataset = config["data"]["train_dataset"]["_target_"]
        assert dataset.endswith("PreparedDataset" if kind == "lmdb" else "ASEDataset")
        with open(tmp_path / f"{kind}.log", "w") as log:
            summary = training.train(out, config, out / "model.nequip.zip", out / "training.json", 1, log)
        assert summary["epochs"] == 4 and summary["train_structures_per_s"] > 0
        histories[kind] = training.read_history(out)
    pd.testing.assert_frame_equal(histories["extxyz"], histories["lmdb"], rtol=1e-9, atol=1e-12)
