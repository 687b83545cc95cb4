"""Compiled training compiles once per architecture (synpretrain.compile_cache).

The job-level test trains the tiny model with `compile: true` in fresh interpreters: the first job
compiles and writes one cache file, a second job of the same architecture loads it and trains to
the same numbers, and both agree with eager training.  The in-process tests cover the key (another
architecture, dtype or set of trained weights: another file), a cached function that fails NequIP's
check (compiled afresh, the file replaced), batches outside the compiled shapes and the fallbacks.
Each real compile costs a minute of a CI core: the module compiles twice cold, once warm.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from fixtures import TINY_MODEL, TINY_TRAINING, lcbop_training_split
from synpretrain import compile_cache, nequip_config, training

RUNNER = """
import sys, yaml
from pathlib import Path
from synpretrain import training
out = Path(sys.argv[1])
config = yaml.safe_load(Path(sys.argv[2]).read_text())
training.train(out, config, out / "model.nequip.zip", out / "training.json", 1, sys.stdout, warm=False)
"""
EPOCHS = 3


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return lcbop_training_split(tmp_path_factory.mktemp("data"), n_train=8, n_val=4)


def train(out: Path, data: Path, cache: Path, compile_: bool, model: dict = TINY_MODEL):
    """Train in a fresh interpreter; (validation force RMSE per epoch, the job's log)."""
    out.mkdir(parents=True)
    config = nequip_config.render(train_file=str(data / "train.extxyz"), val_file=str(data / "val.extxyz"),
                                  symbols=["C"], model=model, seed=3, out_dir=str(out),
                                  training={**TINY_TRAINING, "max_epochs": EPOCHS, "compile": compile_})
    (out / "wanted.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1", compile_cache.CACHE_ENV: str(cache)}
    run = subprocess.run([sys.executable, "-c", RUNNER, str(out), str(out / "wanted.yaml")], env=env,
                         capture_output=True, text=True, timeout=900)
    log = run.stdout + run.stderr + ((out / "train.log").read_text() if (out / "train.log").exists() else "")
    assert run.returncode == 0, log[-4000:]
    return training.read_history(out)["val0_epoch/forces_rmse"].to_numpy(), log


def test_a_compiled_job_compiles_once_and_a_later_job_loads_it_and_trains_the_same_model(tmp_path, data):
    cache = tmp_path / "cache"
    first, log = train(tmp_path / "first", data, cache, compile_=True)
    assert "compile: compiled in" in log and "saved to" in log
    files = sorted(cache.glob("*.pt2"))
    assert len(files) == 1

    second, log = train(tmp_path / "second", data, cache, compile_=True)
    assert "compile: compiled model loaded from" in log and "compiled in" not in log
    assert sorted(cache.glob("*.pt2")) == files
    np.testing.assert_array_equal(second, first)            # the same compiled code: the same numbers

    eager, log = train(tmp_path / "eager", data, cache, compile_=False)
    assert "compile:" not in log
    assert len(eager) == len(first) == EPOCHS
    np.testing.assert_allclose(first, eager, rtol=1e-3)      # compiled = eager up to float rounding


def tiny_model(**changes) -> torch.nn.Module:
    from nequip.utils.global_state import set_global_state

    set_global_state()   # float64 default dtype, as NequIP's scripts set it
    block = {**nequip_config.fresh_model({**TINY_MODEL, **changes}, ["C"], seed=1), "avg_num_neighbors": 10.0,
             "compile_mode": "compile"}
    return compile_cache.with_cached_compile(block)


def compile_graph_model(model: torch.nn.Module) -> torch.nn.Module:
    return next(m for m in model.modules() if getattr(m, "is_compile_graph_model", False))


def batch(r_max: float = TINY_MODEL["r_max"], frames: int = 2) -> dict:
    from nequip.data import AtomicDataDict, from_ase
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
    from ase.build import bulk

    batched = []
    for seed in range(frames):
        atoms = bulk("C", "diamond", a=3.57, cubic=True)
        atoms.rattle(0.05, seed=seed)
        data = ChemicalSpeciesToAtomTypeMapper(["C"], {"C": "C"})(from_ase(atoms))
        batched.append(NeighborListTransform(r_max=r_max)(data))
    return AtomicDataDict.batched_from_list(batched)


def test_the_key_follows_the_architecture_and_what_is_trained():
    inputs = [torch.zeros(3, 3)]
    key = compile_cache.fingerprint(tiny_model(), inputs)
    assert compile_cache.fingerprint(tiny_model(), inputs) == key              # rebuilt: the same
    assert compile_cache.fingerprint(tiny_model(r_max=3.5), inputs) != key     # a scalar setting
    assert compile_cache.fingerprint(tiny_model(num_features=8), inputs) != key
    assert compile_cache.fingerprint(tiny_model(), [torch.zeros(3, 3, dtype=torch.float64)]) != key
    assert compile_cache.fingerprint(tiny_model(), [torch.zeros(3, 3, requires_grad=True)]) != key  # frozen or not


def test_when_nothing_compiles_the_model_trains_eagerly(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(tmp_path))

    def fails(*args, **kwargs):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(compile_cache, "_aot_compile", fails)
    model = tiny_model()
    compiled = compile_graph_model(model)
    monkeypatch.setattr(type(compiled), "_compile_variant", fails)   # NequIP's own compile
    data = batch()
    out = model(dict(data))
    said = capsys.readouterr().out
    assert "ahead-of-time compile failed (RuntimeError: no C++ compiler)" in said
    assert "training eagerly" in said
    assert not list(tmp_path.glob("*.pt2"))
    eager = type(compiled).__mro__[1].forward(compiled, dict(data))
    for field in ("total_energy", "forces"):
        torch.testing.assert_close(out[field], eager[field])
    out["total_energy"].sum().backward()                     # and it trains: gradients reach the weights
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.fixture(scope="module")
def compiled_in_process(tmp_path_factory):
    """(cache folder, model): the tiny model compiled here once, on a 2-frame (16-atom) batch."""
    folder = tmp_path_factory.mktemp("compiled")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(compile_cache.CACHE_ENV, str(folder))
        model = tiny_model()
        model(dict(batch(frames=2)))
    return folder, model


def test_a_batch_outside_the_compiled_shapes_is_compiled_as_nequip_would(compiled_in_process, capsys):
    """Inductor specialises a matrix product of at most 32 numbers: compiled on a 16-atom batch,
    the function's guards refuse a 32-atom one, which then goes to an ordinary torch.compile."""
    folder, model = compiled_in_process
    compiled = compile_graph_model(model)
    eager = type(compiled).__mro__[1].forward
    large = batch(frames=4)
    assert len(list(folder.glob("*.pt2"))) == 1
    out = model(dict(large))
    assert "a batch outside the compiled model's shapes" in capsys.readouterr().out
    for field in ("total_energy", "forces"):   # a float32 model: compiled kernels sum in another order
        torch.testing.assert_close(out[field], eager(compiled, dict(large))[field], rtol=1e-5, atol=1e-5)


def test_a_cached_function_that_fails_nequips_check_is_compiled_afresh_and_replaced(compiled_in_process, monkeypatch,
                                                                                     capsys):
    """A file that loads but computes something else (a foreign or stale file; here the loaded
    function's outputs are put 1 % off) is caught by NequIP's check, compiled afresh and replaced."""
    folder, _ = compiled_in_process
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(folder))
    (path,) = folder.glob("*.pt2")
    written = path.stat().st_mtime_ns
    load = compile_cache._load

    def stale(path):
        loaded = load(path)
        function = loaded.function

        class Off:  # the loaded function, its outputs off by 1 %
            def __call__(self, *args):
                return [out * 1.01 if out.is_floating_point() else out for out in function(*args)]

            def __getattr__(self, name):
                return getattr(function, name)

        loaded.function = Off()
        return loaded

    monkeypatch.setattr(compile_cache, "_load", stale)
    model = tiny_model()
    data = batch(frames=2)
    out = model(dict(data))
    said = capsys.readouterr().out
    assert f"cached compiled model {path.name} failed NequIP's check" in said and "compiled in" in said
    assert path.stat().st_mtime_ns != written and list(folder.glob("*.pt2")) == [path]   # replaced
    compiled = compile_graph_model(model)
    eager = type(compiled).__mro__[1].forward(compiled, dict(data))
    for field in ("total_energy", "forces"):
        torch.testing.assert_close(out[field], eager[field], rtol=1e-5, atol=1e-5)


def test_an_unusable_cache_folder_leaves_the_compile_to_nequip(monkeypatch, tmp_path, capsys):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(compile_cache.CACHE_ENV, str(tmp_path / "a-file" / "cache"))   # cannot be created
    model = tiny_model()
    compiled = compile_graph_model(model)
    calls = []

    def nequip_compile(self, data, input_signature, cache):   # stands in for NequIP's own (slow) compile
        calls.append(input_signature)

    monkeypatch.setattr(type(compiled), "_compile_variant", nequip_compile)
    compiled._compile_variant(dict(batch()), ("pos",), {})
    assert "no cache folder" in capsys.readouterr().out and calls == [("pos",)]
