"""A user's own extxyz data (synpretrain.user_data): labels, filter, split, E0, errors."""
import hashlib

import ase.io
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from synpretrain.io import read_extxyz, write_extxyz
from synpretrain.user_data import energy_label, extxyz_files, read_user_dataset

E0 = {"Si": -158.5, "C": -148.3}


def sic_frames(n, seed=0, noise=0.01, ratios=True, energy_key="energy", forces_key="forces", calc=False,
               **info):
    """Random 4-8 atom Si/C cells (`ratios=False`: all 1:1), E = sum_Z n_Z E0_Z + noise per atom, random forces."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        if ratios:                                                   # any Si:C ratio
            n_atoms = int(rng.integers(4, 9))
            n_si = int(rng.integers(1, n_atoms))
        else:                                                        # always Si:C = 1:1
            n_si = int(rng.integers(2, 5))
            n_atoms = 2 * n_si
        symbols = ["Si"] * n_si + ["C"] * (n_atoms - n_si)
        atoms = Atoms(symbols, scaled_positions=rng.random((n_atoms, 3)), cell=np.eye(3) * 5 + rng.random((3, 3)),
                      pbc=True)
        energy = sum(E0[s] for s in symbols) + noise * rng.standard_normal() * n_atoms
        forces = rng.standard_normal((n_atoms, 3))
        if calc:
            atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        else:
            atoms.info[energy_key] = energy
            atoms.arrays[forces_key] = forces
        atoms.info["true_energy"] = energy
        for key, values in info.items():
            if values[i] is not None:
                atoms.info[key] = values[i]
        frames.append(atoms)
    return frames


def write(path, frames):
    ase.io.write(path, frames, format="extxyz")
    return path


def energies(frames):
    return np.array([a.get_potential_energy() for a in frames])


def test_split_column_train_test_takes_validation_from_train(tmp_path):
    flags = ["test" if i % 5 == 0 else "train" for i in range(30)]
    path = write(tmp_path / "sic.extxyz", sic_frames(30, split=flags))
    frames, split, prov = read_user_dataset([path], {"split_key": "split", "energy_reference": {}})
    assert len(frames) == 30 and prov["n_read"] == prov["n_kept"] == 30
    assert sorted(split.test.tolist()) == [i for i in range(30) if flags[i] == "test"]
    assert len(split.val) == 2 and len(split.train) == 22            # val by the rule: min(24 // 10, 100)
    assert sorted(np.concatenate([split.train, split.val]).tolist()) == [i for i in range(30) if flags[i] == "train"]
    assert prov["split_method"].startswith("split_key 'split'")
    assert frames[0].info["split"] == flags[0] and frames[3].info["source_index"] == 3
    # an explicit validation size, and val given in the file
    _, split, _ = read_user_dataset([path], {"split_key": "split", "energy_reference": {}, "split": {"val_size": 5}})
    assert len(split.val) == 5 and len(split.train) == 19
    flags3 = ["test" if i % 5 == 0 else "val" if i % 5 == 1 else "train" for i in range(30)]
    path3 = write(tmp_path / "sic3.extxyz", sic_frames(30, split=flags3))
    _, split, prov = read_user_dataset([path3], {"split_key": "split", "energy_reference": {}})
    for name in ("train", "val", "test"):
        assert sorted(getattr(split, name).tolist()) == [i for i in range(30) if flags3[i] == name]
    assert "train/val/test as given" in prov["split_method"]


def test_without_split_column_uses_the_protocol_rule(tmp_path):
    path = write(tmp_path / "sic.extxyz", sic_frames(50))
    frames, split, prov = read_user_dataset([path], {"energy_reference": E0})
    assert prov["counts"] == {"train": 41, "val": 4, "test": 5}     # test min(1000, 50//10), val min(45//10, 100)
    every = np.concatenate([split.train, split.val, split.test])
    assert sorted(every.tolist()) == list(range(50))
    assert prov["split_method"] == "random"
    _, again, _ = read_user_dataset([path], {"energy_reference": E0})
    assert np.array_equal(again.train, split.train)                  # deterministic (SHUFFLE_SEED)
    _, other, _ = read_user_dataset([path], {"energy_reference": E0, "split": {"seed": 7, "test_fraction": 0.2}})
    assert len(other.test) == 10 and not np.array_equal(other.train[:10], split.train[:10])


def test_labels_from_a_single_point_calculator(tmp_path):
    source = sic_frames(12, calc=True)
    path = write(tmp_path / "calc.extxyz", source)
    assert ase.io.read(path, "0").calc.results["energy"] == pytest.approx(source[0].get_potential_energy())
    frames, _, _ = read_user_dataset([path], {"energy_reference": {}})
    assert np.allclose(energies(frames), energies(source))
    assert np.allclose(frames[5].get_forces(), source[5].get_forces())


def test_info_and_arrays_win_over_the_calculator():
    atoms = Atoms("SiC", positions=[[0, 0, 0], [1, 1, 1]])
    atoms.calc = SinglePointCalculator(atoms, energy=-2.0)
    assert energy_label(atoms, "energy", "x") == -2.0
    atoms.info["energy"] = -1.0
    assert energy_label(atoms, "energy", "x") == -1.0


def test_custom_label_keys_and_output_layout(tmp_path):
    source = sic_frames(12, energy_key="dft_energy", forces_key="dft_forces")
    path = write(tmp_path / "dft.extxyz", source)
    frames, _, _ = read_user_dataset([path], {"energy_key": "dft_energy", "forces_key": "dft_forces",
                                             "energy_reference": E0})
    reference = np.array([sum(E0[s] for s in a.get_chemical_symbols()) for a in source])
    assert np.allclose(energies(frames), energies_of(source, "dft_energy") - reference)
    # written like datasets.labelled writes them: `energy` info key and `forces` column
    write_extxyz(tmp_path / "out.extxyz", frames)
    text = (tmp_path / "out.extxyz").read_text()
    assert "forces:R:3" in text and " energy=" in text and "dft_energy" not in text
    back = read_extxyz(tmp_path / "out.extxyz")
    assert np.allclose(energies(back), energies(frames))
    assert np.allclose(back[2].get_forces(), source[2].arrays["dft_forces"])
    assert back[2].info["source_file"] == str(path) and back[2].info["source_index"] == 2


def energies_of(frames, key):
    return np.array([a.info[key] for a in frames])


def test_filter_on_config_type_counts_the_dropped(tmp_path):
    types = ["bulk", "surface", None, "bulk", "md"] * 6
    path = write(tmp_path / "sic.extxyz", sic_frames(30, config_type=types))
    frames, _, prov = read_user_dataset([path], {"filter": {"config_type": ["bulk", "md"]},
                                                 "energy_reference": {}})
    assert len(frames) == 18 and prov["n_read"] == 30 and prov["n_kept"] == 18
    assert prov["dropped_by_filter"] == {"config_type": 12}
    assert {a.info["config_type"] for a in frames} == {"bulk", "md"}
    assert [a.info["source_index"] for a in frames[:3]] == [0, 3, 4]


def test_several_files_and_a_folder(tmp_path):
    write(tmp_path / "b.xyz", sic_frames(10, seed=1))
    write(tmp_path / "a.extxyz", sic_frames(20, seed=2))
    (tmp_path / "notes.txt").write_text("not data")
    files = extxyz_files(tmp_path)
    assert [f.name for f in files] == ["a.extxyz", "b.xyz"]
    frames, _, prov = read_user_dataset([tmp_path], {"energy_reference": E0})
    assert len(frames) == 30 and [r["n_read"] for r in prov["files"]] == [20, 10]
    assert prov["files"][1]["sha256"] == hashlib.sha256(files[1].read_bytes()).hexdigest()
    assert frames[20].info["source_file"] == str(files[1]) and frames[20].info["source_index"] == 0


def test_fitted_e0_uses_only_the_training_split(tmp_path):
    source = sic_frames(60, noise=0.002)
    path = write(tmp_path / "sic.extxyz", source)
    frames, split, prov = read_user_dataset([path], {"energy_reference": "fit"})
    assert prov["energy_reference_fitted"] is True
    assert prov["energy_reference"] == pytest.approx(E0, abs=5e-3)
    assert prov["energy_reference_fit_rms_per_atom"] < 0.01
    fitted = prov["energy_reference"]
    raw = energies_of(source, "true_energy")
    reference = np.array([sum(fitted[s] for s in a.get_chemical_symbols()) for a in source])
    assert np.allclose(energies(frames), raw - reference)
    # a wild test (or validation) energy does not move the fit; a training one does
    for part, moves in ((split.test, False), (split.val, False), (split.train, True)):
        changed = sic_frames(60, noise=0.002)
        changed[int(part[0])].info["energy"] += 1000.0
        write(path, changed)
        _, again, prov = read_user_dataset([path], {})                # absent -> fit
        assert np.array_equal(again.train, split.train)
        same = all(np.isclose(prov["energy_reference"][s], fitted[s], rtol=0, atol=1e-9) for s in E0)
        assert same != moves


def test_given_e0_and_none(tmp_path):
    source = sic_frames(20)
    path = write(tmp_path / "sic.extxyz", source)
    e0 = {"Si": -150.0, "C": -140.0}
    frames, _, prov = read_user_dataset([path], {"energy_reference": e0, "element": ["Si", "C"]})
    assert prov["energy_reference"] == e0 and prov["energy_reference_fitted"] is False
    reference = np.array([sum(e0[s] for s in a.get_chemical_symbols()) for a in source])
    assert np.allclose(energies(frames), energies_of(source, "true_energy") - reference)
    frames, _, prov = read_user_dataset([path], {"energy_reference": {}})
    assert np.allclose(energies(frames), energies_of(source, "true_energy"))


# --- errors name the file, the structure index in it and the config key -------------------------

def broken(tmp_path, index, change, n=20, **kwargs):
    frames = sic_frames(n, **kwargs)
    change(frames[index])
    return write(tmp_path / "broken.extxyz", frames)


def expect(path, spec, *parts):
    with pytest.raises(ValueError) as error:
        read_user_dataset([path], spec)
    message = str(error.value)
    for part in (str(path), *parts):
        assert part in message, message


def test_missing_energy(tmp_path):
    path = broken(tmp_path, 7, lambda a: a.info.pop("energy"))
    expect(path, {}, "structure 7", "'energy'", "energy_key")
    path = broken(tmp_path, 3, lambda a: None, energy_key="dft_energy")
    expect(path, {}, "structure 0", "'energy'", "energy_key")                 # wrong key: first frame


def test_missing_forces(tmp_path):
    path = broken(tmp_path, 4, lambda a: a.arrays.pop("dft_forces"), energy_key="dft_energy",
                  forces_key="dft_forces")
    expect(path, {"energy_key": "dft_energy", "forces_key": "dft_forces"}, "structure 4", "'dft_forces'",
           "forces_key")


def test_non_finite_energy_or_forces(tmp_path):
    path = broken(tmp_path, 5, lambda a: a.info.update(energy=float("nan")))
    expect(path, {}, "structure 5", "'energy'", "nan", "energy_key")
    path = broken(tmp_path, 6, lambda a: a.info.update(energy=float("inf")))
    expect(path, {}, "structure 6", "inf", "energy_key")
    path = broken(tmp_path, 2, lambda a: a.arrays["forces"].__setitem__((1, 2), np.inf))
    expect(path, {}, "structure 2", "'forces'", "NaN or inf", "forces_key")


def test_forces_of_the_wrong_shape(tmp_path):
    def one_column(atoms):
        atoms.arrays["dft_forces"] = np.ones(len(atoms))
    path = broken(tmp_path, 9, one_column, energy_key="dft_energy", forces_key="dft_forces")
    expect(path, {"energy_key": "dft_energy", "forces_key": "dft_forces"}, "structure 9", "'dft_forces'",
           "shape", "forces_key")


def test_unknown_element(tmp_path):
    def add_oxygen(atoms):
        atoms.append("O")
        atoms.arrays["forces"][-1] = 0.0
    path = broken(tmp_path, 11, add_oxygen)
    expect(path, {"element": ["Si", "C"]}, "structure 11", "['O']", "`element`")
    expect(path, {"energy_reference": E0}, "structure 11", "['O']", "energy_reference")


def test_bad_or_missing_split_value(tmp_path):
    flags = ["train"] * 15 + ["test"] * 5
    path = broken(tmp_path, 8, lambda a: a.info.update(split="valid"), split=flags)
    expect(path, {"split_key": "split"}, "structure 8", "'valid'", "split_key")
    path = broken(tmp_path, 12, lambda a: a.info.pop("split"), split=flags)
    expect(path, {"split_key": "split"}, "structure 12", "'split'", "split_key")
    path = broken(tmp_path, 0, lambda a: None, split=["train"] * 20)
    expect(path, {"split_key": "split"}, "'test'", "split_key")


def test_nothing_left_after_the_filter(tmp_path):
    path = broken(tmp_path, 0, lambda a: None, config_type=["bulk"] * 20)
    expect(path, {"filter": {"config_type": ["liquid"]}}, "no structures left", "config_type", "20")


def test_ill_posed_e0_fit(tmp_path):
    # fewer training structures than elements
    path = broken(tmp_path, 0, lambda a: None, n=2, split=["train", "test"])
    expect(path, {"split_key": "split"}, "energy_reference", "fewer than elements")
    # every structure has the same Si:C ratio
    path = broken(tmp_path, 0, lambda a: None, ratios=False)
    expect(path, {}, "energy_reference", "rank-deficient", "do not determine")
    # carbon only in the test split
    frames = sic_frames(20, split=["train"] * 15 + ["test"] * 5)
    for atoms in frames[:15]:
        atoms.set_chemical_symbols(["Si"] * len(atoms))
    path = write(tmp_path / "si-train.extxyz", frames)
    expect(path, {"split_key": "split"}, "energy_reference", "rank-deficient", "['C'] never occur")
