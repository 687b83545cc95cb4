"""The runner's cheaper model builds (`synpretrain.model_builds`) give the same models: e3nn's
activation moments remembered to the bit, and a package built around one network per checkpoint
holding the weights and predictions of one built the way `nequip-package` builds it alone."""
from __future__ import annotations

import pytest
import torch
from e3nn.math import _normalize_activation as e3nn_normalize

from fixtures import lcbop_training_split
from synpretrain import model_builds, nequip_config, training

MODEL = {"architecture": "nequip-0.5.6", "num_layers": 2, "num_features": 4, "l_max": 1, "parity": True,
         "r_max": 4.0, "num_bessels": 6, "bessel_trainable": True, "polynomial_cutoff_p": 6,
         "radial_mlp_depth": 1, "radial_mlp_width": 8, "model_dtype": "float32"}
TRAINING = {"lr": 0.01, "batch_size": 2, "val_batch_size": 4, "max_epochs": 2, "ema_decay": 0.9,
            "energy_weight": 4.0, "force_weight": 1.0, "accelerator": "cpu",
            "early_stopping": {"patience": 100, "min_delta": 0.0}}


def builder_arguments(**changes) -> dict:
    from nequip.utils.global_state import set_global_state

    set_global_state()
    block = nequip_config.fresh_model({**MODEL, **changes}, ["C"], seed=3)
    del block["_target_"]
    return {**block, "avg_num_neighbors": 12.0}  # the rendered config's is the training data's statistic


@pytest.fixture
def counted_moments(monkeypatch):
    """e3nn's own `moment`, counting its calls, installed as the one `remember_activation_moments` wraps."""
    compute = getattr(e3nn_normalize.moment, "__wrapped__", e3nn_normalize.moment)  # another test's memo off
    calls = []

    def counting(f, n, dtype=None, device=None):
        calls.append(f)
        return compute(f, n, dtype=dtype, device=device)

    monkeypatch.setattr(e3nn_normalize, "moment", counting)
    return compute, calls


def test_remembered_moments_are_e3nns_to_the_bit_and_computed_once(counted_moments):
    compute, calls = counted_moments
    model_builds.remember_activation_moments()
    model_builds.remember_activation_moments()  # idempotent: one memo, not a memo of a memo
    silu = torch.nn.functional.silu
    first = e3nn_normalize.moment(silu, 2, dtype=torch.float64)
    second = e3nn_normalize.moment(silu, 2, dtype=torch.float64, device="cpu")  # the same key: resolved defaults
    assert torch.equal(first, compute(silu, 2, dtype=torch.float64)) and torch.equal(first, second)
    assert calls == [silu]
    e3nn_normalize.moment(silu, 4, dtype=torch.float64)                    # another power: computed
    e3nn_normalize.moment(torch.tanh, 2, dtype=torch.float64)              # a builtin: computed once
    e3nn_normalize.moment(torch.tanh, 2, dtype=torch.float64)
    layer = torch.nn.Linear(1, 1)

    def closure(z):
        return layer(z[:, None]).squeeze(1)

    module = torch.nn.Softplus()
    for stateful in (closure, closure, module, module):                    # their state may change: computed
        e3nn_normalize.moment(stateful, 2)
    assert len(calls) == 7 and calls.count(closure) == 2 and calls.count(module) == 2


def test_a_model_built_with_remembered_moments_equals_one_built_without(counted_moments):
    from synpretrain.nequip_models import NequIP056Model

    arguments = builder_arguments()
    plain = NequIP056Model(**arguments)
    computed = len(counted_moments[1])
    model_builds.remember_activation_moments()
    NequIP056Model(**arguments)
    remembered = NequIP056Model(**arguments)
    assert computed > 1 and len(counted_moments[1]) == computed + 1       # one distinct activation here: silu
    constants = [[m.cst for m in model.modules() if isinstance(m, e3nn_normalize.normalize2mom)]
                 for model in (plain, remembered)]
    assert constants[0] and constants[0] == constants[1]
    assert all(torch.equal(value, remembered.state_dict()[key]) for key, value in plain.state_dict().items())


def test_builders_share_one_network_only_inside_the_packaging_context():
    from synpretrain.nequip_models import NequIP056Model

    arguments = builder_arguments()
    assert NequIP056Model(**arguments).model is not NequIP056Model(**arguments).model
    with model_builds.one_network_per_package():
        eager = NequIP056Model(compile_mode="eager", **arguments)
        compiled = NequIP056Model(compile_mode="compile", **arguments)
        other = NequIP056Model(compile_mode="eager", **builder_arguments(r_max=3.5))
        reseeded = NequIP056Model(compile_mode="eager", **{**arguments, "seed": 4})
    assert type(eager).__name__ == "GraphModel" and type(compiled).__name__ == "CompileGraphModel"
    assert compiled.model is eager.model
    assert other.model is not eager.model and reseeded.model is not eager.model
    assert NequIP056Model(**arguments).model is not eager.model           # the context is over


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """best.ckpt of a tiny pre-training and of a fine-tune of its package (a nested build)."""
    data = lcbop_training_split(tmp_path_factory.mktemp("data"), n_train=6, n_val=2)
    found = {}
    for name, parent in (("pretrain", None), ("finetune", "pretrain")):
        out = tmp_path_factory.mktemp(name)
        parent_package = str(found[parent].parent / "model.nequip.zip") if parent else None
        config = nequip_config.render(train_file=str(data / "train.extxyz"), val_file=str(data / "val.extxyz"),
                                      symbols=["C"], model=MODEL, training=TRAINING, seed=5, out_dir=str(out),
                                      parent_package=parent_package)
        with open(out.parent / f"{out.name}.log", "w") as log:
            training.train(out, config, out / "model.nequip.zip", out / "training.json", 1, log)
        found[name] = out / "best.ckpt"
    return found


WRAPPERS = {"eager": "GraphModel", "compile": "CompileGraphModel"}


@pytest.mark.parametrize("run", ["pretrain", "finetune"])
def test_a_package_around_one_network_equals_nequips_own(tmp_path, checkpoints, run):
    from nequip.scripts import package as nequip_package

    alone, shared = tmp_path / "alone.nequip.zip", tmp_path / "shared.nequip.zip"
    nequip_package.main(args=["build", str(checkpoints[run]), str(alone)])
    with model_builds.one_network_per_package():
        nequip_package.main(args=["build", str(checkpoints[run]), str(shared)])
    example = torch.package.PackageImporter(str(alone)).load_pickle("model", "example_data.pkl")
    for mode in ("eager", "compile"):
        models = [next(iter(torch.package.PackageImporter(str(path)).load_pickle(
            "model", f"{mode}_model.pkl", map_location="cpu").values())) for path in (alone, shared)]
        assert type(models[0]).__qualname__ == type(models[1]).__qualname__ == WRAPPERS[mode]
        weights = [model.state_dict() for model in models]
        assert weights[0].keys() == weights[1].keys()
        assert all(torch.equal(value, weights[1][key]) for key, value in weights[0].items())
        if mode == "eager":
            energies = [model({k: v.clone() for k, v in example.items()})["total_energy"] for model in models]
            assert torch.equal(energies[0], energies[1])
    # and each loaded network is its own, though the file stored the shared one's tensors once
    importer = torch.package.PackageImporter(str(shared))
    eager, compiled = (importer.load_pickle("model", f"{mode}_model.pkl", map_location="cpu")
                       for mode in ("eager", "compile"))
    with torch.no_grad():
        next(iter(eager.parameters())).add_(1.0)
    assert not torch.equal(next(iter(eager.parameters())), next(iter(compiled.parameters())))
