"""Training from the prepared LMDB file gives the same model as from extxyz (same seed, CPU)."""
from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from fixtures import TINY_MODEL, TINY_TRAINING, lcbop_training_split
from synpretrain import nequip_config, training, warm
from synpretrain.prepared_data import prepare, prepared_file

MODEL = {**TINY_MODEL, "model_dtype": "float64"}
TRAINING = {**TINY_TRAINING, "max_epochs": 4}


def test_prepared_file_names_its_cutoff():
    assert prepared_file("results/labels/c/x/train_n10.extxyz", 4.0) == "results/labels/c/x/train_n10.r4.lmdb"
    assert prepared_file("results/data/c/val.extxyz", 3.5) == "results/data/c/val.r3.5.lmdb"


def test_unknown_element_is_named(tmp_path):
    data = lcbop_training_split(tmp_path, n_train=4, n_val=2, repeat=(1, 1, 1))
    with pytest.raises(ValueError, match=r"structure 0 has elements \['C'\].*\['Si'\]"):
        prepare(data / "train.extxyz", tmp_path / "x.lmdb", ["Si"], 3.0)
    assert not (tmp_path / "x.lmdb").exists()          # nothing half-written


@pytest.mark.parametrize("warm_start", [True, False], ids=["warm", "cold"])
def test_the_rules_command_writes_what_prepare_writes(tmp_path, monkeypatch, warm_start):
    """The prepare_data rule runs `python -m synpretrain.prepared_data`, forked from the warm server
    where it can: the same structures as `prepare` writes, and a structure of an element the model
    does not have fails the job, named in its log, with nothing written."""
    import torch

    from synpretrain.nequip_datasets import PreparedDataset

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv(warm.SWITCH, raising=False)
    data = lcbop_training_split(tmp_path, n_train=5, n_val=2, repeat=(1, 1, 1))
    prepare(data / "train.extxyz", tmp_path / "direct.lmdb", ["C"], MODEL["r_max"])

    def command(output: str, types: list[str]) -> tuple[int, str]:
        with open(tmp_path / f"{output}.log", "w") as log:
            args = [str(data / "train.extxyz"), str(tmp_path / output), str(MODEL["r_max"]), *types]
            code = warm.run_module("synpretrain.prepared_data", args, log, warm=warm_start)
        return code, (tmp_path / f"{output}.log").read_text()

    code, log = command("rule.lmdb", ["C"])
    assert code == 0, log
    assert ("warm start: forked from server" in log) is warm_start
    assert f"5 structures, types ['C'], neighbour lists within {MODEL['r_max']:g} Å" in log
    direct, rule = (PreparedDataset(file_path=str(tmp_path / name)) for name in ("direct.lmdb", "rule.lmdb"))
    assert len(direct) == len(rule) == 5
    for index in range(5):
        a, b = direct[index], rule[index]
        assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    code, log = command("si.lmdb", ["Si"])
    assert code != 0 and "structure 0 has elements ['C']" in log
    assert not (tmp_path / "si.lmdb").exists()


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
    # lmdb-workers: DataLoader worker processes forked after the parent opened the file (py-lmdb >= 3
    # refused to open it again in them: every GPU training job with workers failed)
    for kind, files, workers in [("extxyz", (data / "train.extxyz", data / "val.extxyz"), 0),
                                 ("lmdb", (lmdb["train"], lmdb["val"]), 0),
                                 ("lmdb-workers", (lmdb["train"], lmdb["val"]), 2)]:
        out = tmp_path / kind
        config = nequip_config.render(train_file=str(files[0]), val_file=str(files[1]), symbols=["C"], model=MODEL,
                                      training={**TRAINING, "num_workers": workers}, seed=3, out_dir=str(out))
        dataset = config["data"]["train_dataset"]["_target_"]
        assert dataset.endswith("PreparedDataset" if kind.startswith("lmdb") else "ASEDataset")
        with open(tmp_path / f"{kind}.log", "w") as log:
            summary = training.train(out, config, out / "model.nequip.zip", out / "training.json", 1, log)
        assert summary["epochs"] == 4 and summary["train_structures_per_s"] > 0
        histories[kind] = training.read_history(out)
    pd.testing.assert_frame_equal(histories["extxyz"], histories["lmdb"], rtol=1e-9, atol=1e-12)
    # (not equal: the workers' base seed advances torch's RNG, so the shuffled order differs)
    assert len(histories["lmdb-workers"]) == len(histories["lmdb"])


def test_a_finished_model_whose_outputs_were_deleted_is_restored_not_retrained(tmp_path):
    """Snakemake deletes the outputs of every job of a group (a pack) when one job fails; the
    retried pack must get each finished model back, not train it again."""
    (tmp_path / "data").mkdir()
    data = lcbop_training_split(tmp_path / "data", n_train=6, n_val=2, repeat=(1, 1, 1))
    out = tmp_path / "model"
    config = nequip_config.render(train_file=str(data / "train.extxyz"), val_file=str(data / "val.extxyz"),
                                  symbols=["C"], model=MODEL, training={**TRAINING, "max_epochs": 2}, seed=1,
                                  out_dir=str(out))
    provenance = {"stage": "direct", "seed": 1, "n_train": 6, "n_val": 2, "train_sha256": "abc",
                  "parent_sha256": None, "wildcards": {}}
    package, summary_path = out / "model.nequip.zip", out / "training.json"
    with open(tmp_path / "first.log", "w") as log:
        first = training.train(out, config, package, summary_path, 1, log, extra={**provenance, "gpu": None},
                               evaluations=[(data / "val.extxyz", tmp_path / "first.json")])
    package_bytes = package.read_bytes()
    package.unlink()
    summary_path.unlink()
    with open(tmp_path / "second.log", "w") as log:
        second = training.train(out, config, package, summary_path, 1, log, extra={**provenance, "gpu": "0"},
                                evaluations=[(data / "val.extxyz", tmp_path / "second.json")])
    assert "restored the finished model" in (tmp_path / "second.log").read_text()
    import torch    # last.ckpt is the last epoch's, whichever epoch was best (what a killed job resumes from)
    assert torch.load(out / "last.ckpt", weights_only=False)["epoch"] == first["epochs"] - 1
    assert second == first and package.read_bytes() == package_bytes
    # the restored model is evaluated again (its test sets may have changed), to the same numbers
    evaluated = [json.loads((tmp_path / f"{name}.json").read_text()) for name in ("first", "second")]
    assert evaluated[0]["n_structures"] == 2 and evaluated[0]["device"] == "cpu"
    for key in ("energy_rmse_mev_per_atom", "force_rmse_ev_per_a"):
        assert evaluated[1][key] == evaluated[0][key] > 0
    # other inputs: trained again
    with open(tmp_path / "third.log", "w") as log:
        training.train(out, config, package, summary_path, 1, log, extra={**provenance, "train_sha256": "xyz"})
    third = (tmp_path / "third.log").read_text()
    assert "restored" not in third and "resuming" not in third      # new data: trained from scratch


def test_dataloader_workers_read_a_file_the_parent_has_open(tmp_path):
    """Forked DataLoader workers read the same structures as the parent (py-lmdb >= 3 refuses a
    second open of a file in a forked child: the parent's environment is shared)."""
    import torch
    from nequip.data import AtomicDataDict

    from synpretrain.nequip_datasets import PreparedDataset

    (tmp_path / "data").mkdir()
    data = lcbop_training_split(tmp_path / "data", n_train=6, n_val=2, repeat=(1, 1, 1))
    prepare(data / "train.extxyz", tmp_path / "train.lmdb", ["C"], MODEL["r_max"])
    dataset = PreparedDataset(file_path=str(tmp_path / "train.lmdb"))
    in_parent = [dataset[i][AtomicDataDict.POSITIONS_KEY] for i in range(len(dataset))]   # opens it here
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2, shuffle=False)
    in_workers = [item[AtomicDataDict.POSITIONS_KEY] for item in loader]
    assert len(in_workers) == len(in_parent) == 6
    assert all(torch.equal(a, b) for a, b in zip(in_parent, in_workers))


def test_cached_extxyz_dataset_gives_what_the_transforms_give(tmp_path):
    """The extxyz dataset transforms each structure once: every access (single, list, slice) equals
    NequIP's own ASEDataset to the bit, callers get their own dict, and a full cache budget leaves
    the rest to be transformed on every access."""
    import torch
    from hydra.utils import instantiate
    from nequip.data import AtomicDataDict
    from nequip.data.dataset import ASEDataset

    from synpretrain.nequip_datasets import CachedASEDataset

    data = lcbop_training_split(tmp_path, n_train=5, n_val=2, repeat=(1, 1, 1))
    block = nequip_config._dataset(str(data / "train.extxyz"), ["C"], MODEL["r_max"])
    assert block.pop("_target_") == "synpretrain.nequip_datasets.CachedASEDataset"
    transforms = [instantiate(t) for t in block.pop("transforms")]
    plain = ASEDataset(transforms=transforms, **block)
    cached = CachedASEDataset(transforms=transforms, **block)
    tiny = CachedASEDataset(transforms=transforms, cache_mb=0.0, **block)

    def same(a: dict, b: dict) -> bool:
        return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    for _ in range(2):  # the second round is served from the cache
        for i in range(len(plain)):
            assert same(cached[i], plain[i]) and same(tiny[i], plain[i])
        assert all(same(a, b) for a, b in zip(cached[[3, 1]], plain[[3, 1]]))
        assert all(same(a, b) for a, b in zip(cached[1:4], plain[1:4]))
    assert len(cached._cache) == 5 and len(tiny._cache) == 0
    first = cached[0]
    first[AtomicDataDict.POSITIONS_KEY] = torch.zeros(1)          # a caller replacing a key ...
    assert same(cached[0], plain[0])                               # ... does not touch the cache
    assert cached[0][AtomicDataDict.EDGE_INDEX_KEY] is cached[0][AtomicDataDict.EDGE_INDEX_KEY]  # built once
