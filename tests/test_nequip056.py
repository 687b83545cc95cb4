"""`model.architecture: nequip-0.5.6`: the paper's NequIP model built from NequIP 0.19's modules
(`synpretrain.nequip_models.NequIP056Model`).  0.5.6's layout has the paper's parameter count,
derived here by hand from its layer rules; the model built is the part of it whose weights reach
the energy (counted by their gradients); it is a physical model (rotation-invariant energy, forces that
rotate with the structure); it trains, packages and fine-tunes at another cut-off
(tests/test_finetune_recut.py runs for both architectures)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from ase import Atoms
from scipy.spatial.transform import Rotation

from synpretrain import nequip_config

REPO = Path(__file__).resolve().parents[1]


def build(model: dict, symbols: list[str], **extra):
    from hydra.utils import instantiate
    from nequip.utils.global_state import set_global_state

    set_global_state()
    block = nequip_config.fresh_model(model, symbols, seed=3)
    block["avg_num_neighbors"] = 20.0  # the training set's, in a training run
    return instantiate({**block, **extra}, _convert_="all")


def paper_model() -> dict:
    return yaml.safe_load((REPO / "config/paper.yaml").read_text())["model"]


def trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_0_5_6s_layout_has_the_papers_73_8k_parameters():
    """0.5.6, 4 x 32, l_max 1, parity: hidden features 32x0e+32x0o+32x1o+32x1e; a block's weights are
    linear_1 (features in -> in), the radial MLP 8 -> 8 -> 32 per tensor-product path, linear_2
    (paths' outputs -> features out + 32 gates per l > 0 irrep) and the self-connection (features
    in x one-hot -> out).  Block 0 reads 32x0e (2 paths: 1024 + 64 + 512 + 2048 + 1024 + 2048),
    block 1 32x0e+32x1o (5 paths), block 2 adds 1e (8 paths), block 3 reads all four (10 paths)."""
    model = build(paper_model(), ["C"], full_layout=True)
    blocks = [trainable(getattr(model.model.func, f"layer{i}_convnet")) for i in range(4)]
    assert blocks == [6_720, 16_704, 22_592, 27_200]
    # + type embedding 1 -> 32, 8 Bessel weights, read-out 32 -> 16 -> 1
    assert trainable(model) == sum(blocks) + 32 + 8 + 32 * 16 + 16 == 73_784


def live_weights(model) -> int:
    """Weights with a nonzero gradient of the energy and forces of a random 40-atom cell."""
    from nequip.data import AtomicDataDict, from_ase
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

    rng = np.random.default_rng(0)
    atoms = Atoms("C40", positions=rng.uniform(0, 7, (40, 3)), cell=[7, 7, 7], pbc=True)
    data = NeighborListTransform(r_max=4.0)(ChemicalSpeciesToAtomTypeMapper(["C"])(from_ase(atoms)))
    out = model(AtomicDataDict.with_batch_(data))
    (out["total_energy"].sum() + out["forces"].pow(2).sum()).backward()
    return sum(int((p.grad != 0).sum()) for p in model.parameters() if p.grad is not None)


def test_the_built_model_is_the_part_of_0_5_6s_that_reaches_the_energy():
    """The read-out reads the last block's scalars only: of the 73,784 weights, 44,344 get a
    gradient, and those are exactly the weights of the model the paper config builds."""
    full, built = build(paper_model(), ["C"], full_layout=True), build(paper_model(), ["C"])
    assert live_weights(full) == trainable(built) == 44_344
    assert live_weights(built) == trainable(built)  # and none of its own is dead
    assert str(built.model.func.layer3_convnet.irreps_out["node_features"]) == "32x0e"


def test_nequip_0_19s_own_builder_is_five_times_larger():
    assert trainable(build({**paper_model(), "architecture": "nequip-0.19"}, ["C"])) == 369_224


def test_the_self_connection_reads_a_fixed_one_hot_in_every_block():
    model = build({**paper_model(), "num_layers": 3, "num_features": 8}, ["C", "Si"]).model.func
    one_hot = model.one_hot.embed_module
    assert "weight" in dict(one_hot.named_buffers()) and "weight" not in dict(one_hot.named_parameters())
    assert torch.equal(one_hot.weight, torch.eye(2, dtype=one_hot.weight.dtype))
    for i in range(3):
        block = getattr(model, f"layer{i}_convnet").conv
        assert block.sc is not None and str(block.sc.irreps_in2) == "2x0e"
    assert {ir.l for _, ir in model.layer1_convnet.irreps_out["node_features"]} == {0, 1}  # vectors live there


def test_energy_is_invariant_and_forces_rotate_with_the_structure():
    from nequip.integrations.ase import NequIPCalculator
    from nequip.integrations.utils import basic_transforms

    model = build({**paper_model(), "num_layers": 2, "num_features": 8}, ["C", "Si"])  # float32, as the paper's
    with torch.no_grad():  # every weight away from its initialisation, so no block is trivially zero
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    calc = NequIPCalculator(model=model.eval(), device="cpu",
                            transforms=basic_transforms(model.metadata, 4.0, ["C", "Si"], {"C": "C", "Si": "Si"}))
    rng = np.random.default_rng(0)
    atoms = Atoms("C6Si2", positions=rng.uniform(0, 4, (8, 3)), pbc=False)
    rotation = Rotation.random(random_state=1).as_matrix()
    results = []
    for positions in (atoms.positions, atoms.positions @ rotation.T):
        frame = atoms.copy()
        frame.positions = positions
        frame.calc = calc
        results.append((frame.get_potential_energy(), frame.get_forces()))
    (e0, f0), (e1, f1) = results
    assert np.abs(f0).max() > 1e-3  # a model that predicts something
    assert e1 == pytest.approx(e0, rel=1e-5)  # float32 round-off; a broken block is off by O(1)
    np.testing.assert_allclose(f1, f0 @ rotation.T, atol=1e-5 * np.abs(f0).max())
