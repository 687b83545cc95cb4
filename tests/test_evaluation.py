"""`synpretrain.evaluation.evaluate` and `evaluation_record`, with a model whose errors are known.

Loading a packaged NequIP model is replaced (monkeypatched `load_calculator`) by an ASE calculator
that predicts each test structure's labels plus a chosen error, so that every metric can be worked
out by hand here.  The packaged model itself is exercised end to end in test_workflow.py.
"""
from __future__ import annotations

import json
import math

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.singlepoint import SinglePointCalculator

from synpretrain import evaluation
from synpretrain.io import read_extxyz

# Two labelled structures (2 and 4 carbon atoms) and the errors the fake model makes on them.
TRUE_ENERGY = [-14.0, -30.0]                     # eV
ENERGY_ERROR = [+0.02, -0.08]                    # eV: +10 and -20 meV/atom
TRUE_FORCES = [np.array([[0.5, -0.5, 0.0], [-0.5, 0.5, 0.0]]),
               (np.arange(12, dtype=float).reshape(4, 3) - 5.5) / 4]   # exact in extxyz text
FORCE_ERROR = [np.full((2, 3), 0.1),            # every component of structure 0 off by 0.1 eV/A
               np.zeros((4, 3))]
FORCE_ERROR[1][2, 1] = -0.2                      # one component of structure 1 off by 0.2 eV/A

# By hand (per atom, no offset removed; total-energy errors would give sqrt((20**2 + 80**2) / 2) = 58 meV):
# energy RMSE of per-atom errors (10, -20 meV/atom) = sqrt((100 + 400) / 2) meV/atom;
# force RMSE over all 18 components = sqrt((6 * 0.1**2 + 0.2**2) / 18) eV/A.
ENERGY_RMSE = math.sqrt(250.0)                   # 15.81 meV/atom
FORCE_RMSE = math.sqrt(0.1 / 18)                 # 0.0745 eV/A


def labelled_frames() -> list[Atoms]:
    frames = []
    for i, (energy, forces) in enumerate(zip(TRUE_ENERGY, TRUE_FORCES)):
        n = len(forces)
        atoms = Atoms("C" * n, positions=[[1.4 * k, 0.3 * i, 0.0] for k in range(n)], cell=[8.0] * 3, pbc=True)
        atoms.info["structure"] = i
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        frames.append(atoms)
    return frames


class KnownErrors(Calculator):
    """A 'model' that predicts the labels of structure `info['structure']` plus the errors above."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, energy_error=ENERGY_ERROR, force_error=FORCE_ERROR):
        super().__init__()
        self.energy_error, self.force_error, self.structures = energy_error, force_error, []

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        i = self.atoms.info["structure"]
        self.structures.append(i)
        self.results = {"energy": TRUE_ENERGY[i] + self.energy_error[i],
                        "forces": TRUE_FORCES[i] + self.force_error[i]}


@pytest.fixture
def model(monkeypatch):
    """Patches load_calculator; returns the calculator and the (package, device) it was asked for."""
    calc, loads = KnownErrors(), []

    def load(package, device="cpu"):
        loads.append((str(package), device))
        return calc

    monkeypatch.setattr(evaluation, "load_calculator", load)
    return calc, loads


def test_metrics_of_a_model_with_known_errors(tmp_path, model):
    calc, loads = model
    test_file = tmp_path / "test.extxyz"
    ase.io.write(test_file, labelled_frames(), format="extxyz")      # labels travel as the workflow's do
    frames = read_extxyz(test_file)

    class Bar:
        updates = 0

        def update(self, n):
            Bar.updates += n

    metrics = evaluation.evaluate(tmp_path / "model.nequip.zip", frames, device="cpu", progress=Bar())
    assert loads == [(str(tmp_path / "model.nequip.zip"), "cpu")]
    assert calc.structures == [0, 1] and Bar.updates == 2               # each structure predicted once
    assert metrics["energy_rmse_mev_per_atom"] == pytest.approx(ENERGY_RMSE, rel=1e-9)
    assert metrics["force_rmse_ev_per_a"] == pytest.approx(FORCE_RMSE, rel=1e-9)
    assert metrics["n_structures"] == 2 and metrics["n_atoms"] == 6
    assert metrics["finite_predictions"] is True
    assert metrics["seconds_per_structure"] == pytest.approx(metrics["predict_seconds"] / 2, abs=1e-3)
    # The test set's labels are left as they were (predictions are made on copies).
    assert [a.get_potential_energy() for a in frames] == TRUE_ENERGY
    for atoms, forces in zip(frames, TRUE_FORCES):
        np.testing.assert_array_equal(atoms.get_forces(), forces)


def test_a_perfect_model_scores_zero(monkeypatch):
    perfect = KnownErrors(energy_error=[0.0, 0.0], force_error=[np.zeros((2, 3)), np.zeros((4, 3))])
    monkeypatch.setattr(evaluation, "load_calculator", lambda package, device="cpu": perfect)
    metrics = evaluation.evaluate("model.nequip.zip", labelled_frames())
    assert metrics["energy_rmse_mev_per_atom"] == 0.0 and metrics["force_rmse_ev_per_a"] == 0.0
    assert metrics["finite_predictions"] is True


@pytest.mark.parametrize("where", ["energy", "forces"])
def test_a_nan_prediction_is_flagged(monkeypatch, where):
    energy_error, force_error = list(ENERGY_ERROR), [f.copy() for f in FORCE_ERROR]
    if where == "energy":
        energy_error[1] = float("nan")
    else:
        force_error[0][1, 2] = float("nan")
    calc = KnownErrors(energy_error, force_error)
    monkeypatch.setattr(evaluation, "load_calculator", lambda package, device="cpu": calc)
    metrics = evaluation.evaluate("model.nequip.zip", labelled_frames())
    assert metrics["finite_predictions"] is False
    nan_metric = "energy_rmse_mev_per_atom" if where == "energy" else "force_rmse_ev_per_a"
    other = "force_rmse_ev_per_a" if where == "energy" else "energy_rmse_mev_per_atom"
    assert math.isnan(metrics[nan_metric])
    assert metrics[other] == pytest.approx(FORCE_RMSE if where == "energy" else ENERGY_RMSE, rel=1e-9)
    assert metrics["n_structures"] == 2 and metrics["n_atoms"] == 6


def test_an_empty_test_set_is_an_error(monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("the model must not be loaded for an empty test set")

    monkeypatch.setattr(evaluation, "load_calculator", no_model)
    with pytest.raises(ValueError, match="empty"):
        evaluation.evaluate("model.nequip.zip", [])


def test_evaluation_record_merges_meta_metrics_and_training_facts(tmp_path):
    meta = {"kind": "finetune", "target": "c-dense", "testset": "c-real", "n_train": 4, "seed": 1}
    metrics = {"energy_rmse_mev_per_atom": 15.8, "force_rmse_ev_per_a": 0.07, "n_structures": 2, "n_atoms": 6,
               "finite_predictions": True, "device": "cpu"}
    training = {"monitor": "val0_epoch/forces_rmse", "epochs": 14, "best_epoch": 11,
                "best_val_forces_rmse": 0.3, "nan_in_validation": False, "wall_time_s": 42.5,
                "gpu": "0", "package_sha256": "abc"}
    test_file = tmp_path / "test.extxyz"
    record = evaluation.evaluation_record(meta, metrics, test_file, training)
    assert record == {**meta, **metrics, "test_file": str(test_file), "epochs": 14, "best_epoch": 11,
                      "nan_in_validation": False, "train_wall_time_s": 42.5}
    assert isinstance(record["test_file"], str)
    # Only the training facts the figures flag are copied; missing ones are None, not errors.
    sparse = evaluation.evaluation_record(meta, metrics, "t.extxyz", {"epochs": 3})
    assert sparse["epochs"] == 3 and sparse["test_file"] == "t.extxyz"
    assert sparse["best_epoch"] is None and sparse["nan_in_validation"] is None
    assert sparse["train_wall_time_s"] is None
    diverged = evaluation.evaluation_record(meta, metrics, "t.extxyz", {**training, "nan_in_validation": True})
    assert diverged["nan_in_validation"] is True


@pytest.mark.parametrize("engine", ["torch", "openequivariance"])
def test_a_package_without_openequivariance_runs_md_with_e3nn_kernels_where_the_engine_allows(
        tmp_path, monkeypatch, model, engine):
    """A package made where openequivariance was not installed cannot take NequIP's OpenEquivariance
    modifier (its archive lacks the module: measured on an H200 with a package made on a CPU).  The
    torch engine then runs the model's e3nn kernels and says so; the openequivariance engine, asked
    for those kernels by name, fails."""
    import io

    import nequip.model

    from synpretrain import nequip_models

    def modify(model, modifiers):
        raise ModuleNotFoundError('No module named "openequivariance" in self-contained archive')

    monkeypatch.setattr(nequip_models, "openequivariance_usable", lambda: True)
    monkeypatch.setattr(nequip.model, "modify", modify)
    monkeypatch.setattr(model[0], "model", "the packaged model", raising=False)
    log = io.StringIO()
    if engine == "openequivariance":
        with pytest.raises(ModuleNotFoundError, match="openequivariance"):
            evaluation.md_engine("model.nequip.zip", engine, tmp_path, log)
        return
    stepper, description = evaluation.md_engine("model.nequip.zip", engine, tmp_path, log)
    assert description == "torch on cpu" and stepper.calc is model[0]
    assert "OpenEquivariance kernels cannot modify this package" in log.getvalue()
    assert "e3nn kernels" in log.getvalue()


# By hand: per-atom energies -14/2 = -7.0 and -30/4 = -7.5 eV/atom, mean -7.25, each 0.25 eV/atom
# away, so predicting the mean gives 250 meV/atom; zero force: the RMS of the 18 components,
# (0.5**2 * 4 + sum((k - 5.5)**2 for k in range(12)) / 16) / 18 = (1 + 143 / 16) / 18.
MEAN_ENERGY_RMSE = 250.0
ZERO_FORCE_RMSE = math.sqrt((1.0 + 143.0 / 16.0) / 18.0)               # 0.743 eV/A


def test_constant_predictors_computed_by_hand(model):
    metrics = evaluation.evaluate("model.nequip.zip", labelled_frames())
    assert metrics["energy_rmse_mean_predictor_mev_per_atom"] == pytest.approx(MEAN_ENERGY_RMSE, rel=1e-9)
    assert metrics["force_rmse_zero_predictor_ev_per_a"] == pytest.approx(ZERO_FORCE_RMSE, rel=1e-9)
    # the model of the first test beats both
    assert metrics["energy_rmse_mev_per_atom"] < MEAN_ENERGY_RMSE and metrics["force_rmse_ev_per_a"] < ZERO_FORCE_RMSE


def test_the_constant_predictors_score_their_own_metrics(monkeypatch):
    """The constants are the model metrics of a model that predicts them (same RMSE definitions)."""
    per_atom_mean = np.mean([e / len(f) for e, f in zip(TRUE_ENERGY, TRUE_FORCES)])
    constant = KnownErrors(energy_error=[per_atom_mean * len(f) - e for e, f in zip(TRUE_ENERGY, TRUE_FORCES)],
                           force_error=[-f for f in TRUE_FORCES])
    monkeypatch.setattr(evaluation, "load_calculator", lambda package, device="cpu": constant)
    metrics = evaluation.evaluate("model.nequip.zip", labelled_frames())
    assert metrics["energy_rmse_mev_per_atom"] == pytest.approx(metrics["energy_rmse_mean_predictor_mev_per_atom"])
    assert metrics["force_rmse_ev_per_a"] == pytest.approx(metrics["force_rmse_zero_predictor_ev_per_a"])


def test_a_broken_model_is_flagged_in_table1_and_the_learning_curves(tmp_path, monkeypatch):
    """A 'model' predicting the mean energy per atom plus noise wider than the per-atom spread, and
    forces of noise wider than the forces, is marked † in Table 1 and counted in the learning
    curves; the good model of the tests above is not."""
    from synpretrain.aggregate import learning_curves, load_evaluations, table1, table_markdown, \
        worse_than_constant_lines

    per_atom_mean = np.mean([e / len(f) for e, f in zip(TRUE_ENERGY, TRUE_FORCES)])
    noise = [1.0, -1.5]                                                  # eV/atom; the spread is 0.25
    broken = KnownErrors(energy_error=[(per_atom_mean + d) * len(f) - e
                                       for d, e, f in zip(noise, TRUE_ENERGY, TRUE_FORCES)],
                         force_error=[np.where(np.arange(f.size).reshape(f.shape) % 2, 3.0, -3.0) - f
                                      for f in TRUE_FORCES])             # +-3 eV/A; RMS force 0.74
    paths = []
    for name, calc in (("good", KnownErrors()), ("broken", broken)):
        monkeypatch.setattr(evaluation, "load_calculator", lambda package, device="cpu", calc=calc: calc)
        metrics = evaluation.evaluate(f"{name}.nequip.zip", labelled_frames())
        kind, source = ("direct", "direct") if name == "broken" else ("finetune", "a")
        meta = {"kind": kind, "source": source, "npre": 0 if kind == "direct" else 8, "target": "t", "n": 5,
                "seed": 1, "testset": "t", "strategy": "all"}
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(evaluation.evaluation_record(meta, metrics, "t.extxyz",
                                                                    {"nan_in_validation": False})))
    runs = load_evaluations(paths)
    broken_run = runs[runs["kind"] == "direct"].iloc[0]
    assert broken_run["energy_rmse_mev_per_atom"] > broken_run["energy_rmse_mean_predictor_mev_per_atom"]
    assert broken_run["energy_worse_than_constant"] and broken_run["force_worse_than_constant"]
    assert not runs.loc[runs["kind"] == "finetune", "worse_than_constant"].any()
    table = table1(runs, "t", 8, ["a"], {"a": "A"})
    assert table.loc[5, "Direct"].endswith("†") and "†" not in table.loc[5, "A"]
    lines = worse_than_constant_lines(runs)
    assert [line.split(":")[0] for line in lines] == ["direct/t/n5/seed1 on t"] * 2
    assert "energy RMSE" in lines[0] and "force RMSE" in lines[1]
    assert lines[0] in table_markdown(table, "caption", lines)
    curves = learning_curves(runs).set_index("kind")
    assert curves.loc["direct", "n_worse_than_constant"] == 1 and curves.loc["finetune", "n_worse_than_constant"] == 0
