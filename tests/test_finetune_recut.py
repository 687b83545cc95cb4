"""Fine-tuning a packaged model at another cut-off (the paper's Fig 5a: pre-trained at r_max 6,
fine-tuned at r_max 4): every weight moves over, the cut-off and NequIP's r_max-dependent constants
follow the new value, and `nequip-train` + `nequip-package` run through it; for both architectures
(`model.architecture`)."""
from __future__ import annotations

import ase.io
import numpy as np
import pytest
import torch

from fixtures import lcbop_training_split
from synpretrain import nequip_config, training
from synpretrain.evaluation import load_calculator

MODEL = {"num_layers": 2, "num_features": 4, "l_max": 1, "parity": True, "r_max": 4.5, "num_bessels": 6,
         "bessel_trainable": True, "polynomial_cutoff_p": 6, "radial_mlp_depth": 1, "radial_mlp_width": 8,
         "model_dtype": "float64"}
TRAINING = {"lr": 0.01, "batch_size": 2, "val_batch_size": 4, "max_epochs": 2, "ema_decay": 0.99,
            "energy_weight": 4.0, "force_weight": 1.0, "accelerator": "cpu",
            "early_stopping": {"patience": 100, "min_delta": 0.0}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return lcbop_training_split(tmp_path_factory.mktemp("data"), n_train=7, n_val=3)


def train(out, data, model, **kwargs):
    config = nequip_config.render(train_file=str(data / "train.extxyz"), val_file=str(data / "val.extxyz"),
                                  symbols=["C"], model=model, training=TRAINING, seed=5, out_dir=str(out),
                                  **kwargs)
    with open(out.parent / f"{out.name}.log", "w") as log:
        training.train(out, config, out / "model.nequip.zip", out / "training.json", 1, log)
    return out / "model.nequip.zip"


@pytest.fixture(scope="module", params=sorted(nequip_config.ARCHITECTURES))
def model(request):
    return {**MODEL, "architecture": request.param}


@pytest.fixture(scope="module")
def parent(tmp_path_factory, data, model):
    return train(tmp_path_factory.mktemp("parent"), data, model)


def build(package, model, r_max, avg_num_neighbors=None):
    from nequip.utils.global_state import set_global_state

    from synpretrain.nequip_models import NequIPGNNModelFromPackage

    set_global_state()
    block = nequip_config.model_from_parent(str(package), {**model, "r_max": r_max}, ["C"], seed=1)
    del block["_target_"]
    block["avg_num_neighbors"] = avg_num_neighbors  # None: the parent's (a training run: its training set's)
    return NequIPGNNModelFromPackage(**block)


def predict(calc, atoms):
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy(), atoms.get_forces()


def in_memory_calculator(model, r_max):
    """NequIP's ASE calculator around a model built here (what `_from_saved_model` does for a file)."""
    from nequip.integrations.ase import NequIPCalculator
    from nequip.integrations.utils import basic_transforms

    transforms = basic_transforms(model.metadata, r_max, ["C"], {"C": "C"})
    return NequIPCalculator(model=model.eval(), device="cpu", transforms=transforms)


def test_the_same_cut_off_reproduces_the_parent_exactly(parent, model, data):
    atoms = ase.io.read(data / "val.extxyz", index=0)
    e_parent, f_parent = predict(load_calculator(parent), atoms)
    e_copy, f_copy = predict(in_memory_calculator(build(parent, model, 4.5), 4.5), atoms)
    assert e_copy == pytest.approx(e_parent, abs=1e-10)          # every weight and normalisation moved over
    np.testing.assert_allclose(f_copy, f_parent, atol=1e-10)


def test_a_new_cut_off_keeps_every_weight_and_moves_the_cut_off(parent, model):
    from synpretrain.nequip_models import load_packaged_model

    original = load_packaged_model(str(parent))
    recut = build(parent, model, 3.0)
    assert recut.metadata["r_max"] == "3.0" and original.metadata["r_max"] == "4.5"
    old, new = original.state_dict(), recut.state_dict()
    assert old.keys() == new.keys()
    changed = [key for key in old if not torch.equal(old[key], new[key])]
    assert changed == [next(key for key in old if key.endswith("_rmax_recip"))]
    assert new[changed[0]].item() == pytest.approx(1 / 3.0)


def test_a_new_neighbour_count_changes_only_the_normalisation(parent, model):
    from synpretrain.nequip_models import average_num_neighbors, load_packaged_model

    original = load_packaged_model(str(parent))
    renormed = build(parent, model, 4.5, avg_num_neighbors=7.5)
    assert average_num_neighbors(renormed) == pytest.approx(7.5)
    assert average_num_neighbors(original) != pytest.approx(7.5)
    old, new = original.state_dict(), renormed.state_dict()
    assert old.keys() == new.keys() and all(torch.equal(old[key], new[key]) for key in old)


def mean_neighbours(path, r_max):
    """Neighbours per atom over a file's structures (NequIP's `num_neighbors_mean`)."""
    from ase.neighborlist import neighbor_list

    frames = ase.io.read(path, ":")
    return sum(len(neighbor_list("i", atoms, r_max)) for atoms in frames) / sum(len(atoms) for atoms in frames)


def test_fine_tuning_at_a_new_cut_off_trains_and_packages(tmp_path, parent, model, data):
    from synpretrain.nequip_models import average_num_neighbors, load_packaged_model

    child = train(tmp_path / "child", data, {**model, "r_max": 3.0}, parent_package=str(parent))
    config = (tmp_path / "child" / "config.yaml").read_text()
    assert "NequIPGNNModelFromPackage" in config
    # normalised by its own training set's neighbour count at its own cut-off, as the paper did
    assert average_num_neighbors(load_packaged_model(str(child))) == \
        pytest.approx(mean_neighbours(data / "train.extxyz", 3.0), rel=1e-6)
    assert average_num_neighbors(load_packaged_model(str(parent))) == \
        pytest.approx(mean_neighbours(data / "train.extxyz", 4.5), rel=1e-6)
    energy, forces = predict(load_calculator(child), ase.io.read(data / "val.extxyz", index=0))
    assert np.isfinite(energy) and np.isfinite(forces).all()
    assert load_packaged_model(str(child)).metadata["r_max"] == "3.0"
    # the packaged model is self-contained: it needs neither this module nor the parent
    parent.rename(parent.with_suffix(".moved"))
    try:
        assert np.isfinite(predict(load_calculator(child), ase.io.read(data / "val.extxyz", index=0))[0])
    finally:
        parent.with_suffix(".moved").rename(parent)
