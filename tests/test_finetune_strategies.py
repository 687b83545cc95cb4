"""Fine-tuning strategies: `freeze` keeps the frozen weights bit-identical to the parent's,
`replay` mixes a fresh part of the parent's pre-training set into every epoch, force-only."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from fixtures import lcbop_training_split
from synpretrain import nequip_config, training
from synpretrain.finetune_strategies import MaskedMeanSquaredError, ReplaySampler, frozen_names
from synpretrain.nequip_models import load_packaged_model
from synpretrain.plan import replay_count

MODEL = {"num_layers": 3, "num_features": 4, "l_max": 1, "parity": True, "r_max": 4.0, "num_bessels": 6,
         "bessel_trainable": True, "polynomial_cutoff_p": 6, "radial_mlp_depth": 1, "radial_mlp_width": 8,
         "model_dtype": "float32"}
TRAINING = {"lr": 0.02, "batch_size": 2, "val_batch_size": 4, "max_epochs": 3, "ema_decay": 0.9,
            "energy_weight": 4.0, "force_weight": 1.0, "accelerator": "cpu",
            "early_stopping": {"patience": 100, "min_delta": 0.0}, "checkpoint_every_s": 0}


def test_freeze_names_the_embedding_basis_and_the_first_blocks():
    names = ["m.model.func.type_embed.weight", "m.model.func.bessel_encode.bessel_weights",
             "m.model.func.layer0_convnet.linear_1.weight", "m.model.func.layer1_convnet.x.weight",
             "m.model.func.layer2_convnet.x.weight", "m.model.func.layer10_convnet.x.weight",
             "m.model.func.per_atom_energy_readout.weight"]
    assert frozen_names(names, 2) == names[:4]
    assert frozen_names(names, 0) == names[:2]


def test_replay_sampler_sees_every_real_structure_and_a_fresh_part_of_the_pool_each_epoch():
    sampler = ReplaySampler(n_real=5, n_pool=40, per_epoch=replay_count(40, 0.25), seed=3)
    epochs = [list(sampler) for _ in range(3)]
    for order in epochs:
        assert len(order) == len(sampler) == 5 + 10
        assert sorted(i for i in order if i < 5) == [0, 1, 2, 3, 4]          # each real structure once
        pool = [i for i in order if i >= 5]
        assert len(pool) == len(set(pool)) == 10 and all(5 <= i < 45 for i in pool)
    assert {tuple(sorted(o)) for o in epochs}.__len__() == 3                   # a fresh subset each epoch
    again = ReplaySampler(n_real=5, n_pool=40, per_epoch=10, seed=3)
    assert [list(again) for _ in range(3)] == epochs                          # reproducible from the seed
    with pytest.raises(ValueError, match="pool of 40"):
        ReplaySampler(5, 40, 41, seed=1)


def test_masked_energy_mse_is_zero_for_a_batch_without_real_structures():
    metric = MaskedMeanSquaredError()
    empty = torch.tensor([])
    assert metric(empty, empty).item() == 0.0                                  # not NaN
    metric = MaskedMeanSquaredError()
    assert metric(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])).item() == pytest.approx(5.0)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return lcbop_training_split(tmp_path_factory.mktemp("data"), n_train=7, n_val=3)


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    """The parent's pre-training set: 12 other rattled cells (their energies are not used)."""
    folder = lcbop_training_split(tmp_path_factory.mktemp("pool"), n_train=12, n_val=1, repeat=(1, 1, 2))
    return folder / "train.extxyz"


def train(out, data, strategy=None, parent=None, seed=5):
    config = nequip_config.render(train_file=str(data / "train.extxyz"), val_file=str(data / "val.extxyz"),
                                  symbols=["C"], model=MODEL, training=TRAINING, seed=seed, out_dir=str(out),
                                  parent_package=str(parent) if parent else None, strategy=strategy)
    with open(out.parent / f"{out.name}.log", "w") as log:
        training.train(out, config, out / "model.nequip.zip", out / "training.json", 1, log)
    return out / "model.nequip.zip"


@pytest.fixture(scope="module")
def parent(tmp_path_factory, data):
    return train(tmp_path_factory.mktemp("parent") / "model", data)


def test_freeze_leaves_the_frozen_weights_bit_identical(tmp_path, data, parent):
    child = train(tmp_path / "child", data, {"type": "freeze", "frozen_layers": 2}, parent=parent)
    before, after = load_packaged_model(str(parent)).state_dict(), load_packaged_model(str(child)).state_dict()
    parameters = [name for name, _ in load_packaged_model(str(parent)).named_parameters()]
    frozen = set(frozen_names(parameters, 2))
    assert any("layer1_convnet" in k for k in frozen) and not any("layer2_convnet" in k for k in frozen)
    assert all(torch.equal(before[k], after[k]) for k in frozen)                # bit-identical
    trained = [k for k in parameters if k not in frozen]
    assert trained and all(not torch.equal(before[k], after[k]) for k in trained)  # every other weight moved


def test_replay_mixes_the_pool_into_every_epoch_force_only(tmp_path, data, pool, parent):
    strategy = {"type": "replay", "fraction": 0.5, "pool_file": str(pool), "n_real": 7, "n_pool": 12}
    config = nequip_config.render(train_file=str(data / "train.extxyz"), val_file=str(data / "val.extxyz"),
                                  symbols=["C"], model=MODEL, training=TRAINING, seed=5, out_dir="/o",
                                  parent_package=str(parent), strategy=strategy)
    sampler = config["data"]["train_dataloader"]["sampler"]
    assert (sampler["n_real"], sampler["n_pool"], sampler["per_epoch"]) == (7, 12, 6)
    assert "shuffle" not in config["data"]["train_dataloader"]
    child = train(tmp_path / "child", data, strategy, parent=parent)
    steps = pd.read_csv(tmp_path / "child" / "csv" / "version_0" / "metrics.csv")
    per_epoch = steps.dropna(subset=["train_loss_step/weighted_sum"]).groupby("epoch").size()
    # 7 real + 6 replayed structures in batches of 2, every epoch
    assert len(per_epoch) == 3 and (per_epoch == math.ceil((7 + 6) / TRAINING["batch_size"])).all()
    # batches of replayed structures only have no energy term, never a NaN one
    assert np.isfinite(steps["train_loss_step/weighted_sum"].dropna()).all()
    assert child.exists() and np.isfinite(training.read_history(tmp_path / "child").select_dtypes("number")).all().all()


def test_replayed_structures_teach_forces_only():
    from synpretrain.finetune_strategies import ForcesOnly

    item = {"total_energy": torch.tensor([[-7.5]]), "forces": torch.ones(2, 3), "pos": torch.zeros(2, 3)}
    replayed = ForcesOnly([item])[0]
    assert len(ForcesOnly([item])) == 1 and torch.isnan(replayed["total_energy"]).all()
    assert torch.equal(replayed["forces"], item["forces"]) and item["total_energy"].item() == -7.5  # a copy
