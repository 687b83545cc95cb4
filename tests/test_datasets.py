import zipfile
from pathlib import Path

import ase.io
import numpy as np
import pytest

from synpretrain import datasets
from synpretrain.datasets import Interval, alchemical, split_trajectories, zip_streams
from synpretrain.extxyz_stream import blocks

import fixtures

DATA = Path(__file__).parent / "data"
E0_CARBON = {"C": -148.314002}


def outputs(tmp_path):
    return {name: tmp_path / f"{name}.extxyz" for name in ("train", "val", "test")}


@pytest.fixture
def c_synth(tmp_path):
    return fixtures.c_synth_zip(tmp_path / "carbon-data-v1.0.zip", n_frames=40)


def test_c_synth_zip_is_filtered_shuffled_and_split(tmp_path, c_synth):
    out = outputs(tmp_path)
    summary = split_trajectories(zip_streams(c_synth), out, min_time=10, test_size=10, val_size=5, seed=42)
    assert summary["n_files"] == 3 and summary["n_frames_read"] == 120
    assert summary["n_kept"] == 90                                   # time 10..39 of each run
    assert summary["counts"] == {"train": 75, "val": 5, "test": 10}
    train = ase.io.read(out["train"], ":")
    assert len(train) == 75 and all(a.info["time"] >= 10 for a in train)
    assert {a.info["run_id"] for a in train} == {0, 1, 2}          # pooled over trajectories
    assert [a.info["time"] for a in train[:10]] != sorted(a.info["time"] for a in train[:10])  # shuffled
    assert train[0].arrays["gap17_forces"].shape == (6, 3)          # frames copied verbatim
    assert not (tmp_path / ".pool.extxyz").exists()
    # the same input gives the same split, and every kept frame lands in exactly one part
    again = outputs(tmp_path / "again")
    (tmp_path / "again").mkdir()
    split_trajectories(zip_streams(c_synth), again, min_time=10, test_size=10, val_size=5, seed=42)
    for name in out:
        assert out[name].read_bytes() == again[name].read_bytes()
    keys = [(a.info["run_id"], a.info["time"]) for name in out for a in ase.io.read(out[name], ":")]
    assert len(set(keys)) == 90


def test_density_subsets(tmp_path, c_synth):
    sp2 = split_trajectories(zip_streams(c_synth), outputs(tmp_path), min_time=10, density=Interval.parse("[2.0, 2.5)"),
                             test_size=3, val_size=2)
    assert sp2["n_kept"] == 30
    frames = ase.io.read(tmp_path / "train.extxyz", ":")
    assert {a.info["density"] for a in frames} == {2.2}


def test_interval_bounds():
    sp3 = Interval.parse("(3.0, 3.5]")
    assert 3.5 in sp3 and 3.0 not in sp3 and 3.2 in sp3
    sp2 = Interval.parse("[2.0,2.5)")
    assert 2.0 in sp2 and 2.5 not in sp2
    with pytest.raises(ValueError, match="not of the form"):
        Interval.parse("2.0-2.5")


def test_not_a_c_synth_zip(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.txt", "hello")
    with pytest.raises(ValueError, match="no `density-"):
        list(zip_streams(path))


def test_truncated_frame_names_file_and_frame(tmp_path):
    text = fixtures.extxyz_text(fixtures.c_synth_trajectory(2.0, 3000, 0, 3))
    path = tmp_path / "density-2-T-3000.extxyz"
    path.write_text(text[: len(text) - 120])
    with open(path, "rb") as stream, pytest.raises(ValueError, match=r"density-2-T-3000.extxyz: frame 2 is truncated"):
        list(blocks(stream, str(path)))


def test_frame_without_time_is_rejected(tmp_path):
    frames = fixtures.c_synth_trajectory(2.0, 3000, 0, 2)
    del frames[1].info["time"]
    path = tmp_path / "density-2-T-3000.extxyz"
    path.write_text(fixtures.extxyz_text(frames))
    with pytest.raises(KeyError, match="frame 1 has no `time`"):
        split_trajectories(datasets.file_streams([path]), outputs(tmp_path), min_time=0)


def test_c_gap_17_drops_dimers_references_energies_and_keeps_the_published_split(tmp_path):
    path = fixtures.c_gap_17(tmp_path / "C-GAP-17.extxyz", n_train=30, n_test=8, n_dimers=3)
    frames, split = datasets.read_c_gap_17(path, E0_CARBON, val_size=5)
    assert len(frames) == 38                                         # 3 dimers dropped
    assert all(a.info["config_type"] != "dimer" for a in frames)
    np.testing.assert_array_equal(split.test, np.arange(30, 38))     # the flagged ones, in file order
    assert len(split.val) == 5 and len(split.train) == 25
    for i, atoms in enumerate(frames):                               # E - N E0 = -7 N + 0.01 (i + 3)
        assert atoms.get_potential_energy() == pytest.approx(-7.0 * len(atoms) + 0.01 * (i + 3))
    raw = ase.io.read(path, ":")
    np.testing.assert_allclose(frames[0].get_forces(), raw[3].get_forces())
    # training subsets are prefixes of one shuffled order, the same for every seed of a run
    again = datasets.read_c_gap_17(path, E0_CARBON, val_size=5)[1]
    np.testing.assert_array_equal(again.train, split.train)


def test_c_gap_17_needs_the_split_flag(tmp_path):
    path = fixtures.c_gap_17(tmp_path / "C-GAP-17.extxyz", n_train=4, n_test=2, n_dimers=0)
    frames = ase.io.read(path, ":")
    del frames[2].info["split"]
    ase.io.write(path, frames, format="extxyz")
    with pytest.raises(ValueError, match="structure 2 has no `split` info key") as error:
        datasets.read_c_gap_17(path, E0_CARBON, val_size=1)
    assert str(path) in str(error.value) and "load-atoms" in str(error.value)
    frames[2].info["split"] = "validation"
    ase.io.write(path, frames, format="extxyz")
    with pytest.raises(ValueError, match="structure 2 has split='validation', expected 'train' or 'test'"):
        datasets.read_c_gap_17(path, E0_CARBON, val_size=1)


def test_c_gap_17_load_atoms_copy_marks_dimers_by_detailed_ct(tmp_path):
    """The published file (load-atoms copy): dimers are `config_type=cluster detailed_ct=dimer`;
    it parses to the same structures and split as the `config_type=dimer` layout."""
    published = DATA / "c-gap-17-load-atoms.extxyz"
    frames, split = datasets.read_c_gap_17(published, E0_CARBON, val_size=1)
    raw = ase.io.read(published, ":")
    assert [a.info["source_index"] for a in frames] == [0, 2, 4, 5, 6]    # positions in the file: the dimers 1, 3 dropped
    kept = [raw[i] for i in (0, 2, 4, 5, 6)]
    assert [a.info["config_type"] for a in frames] == [a.info["config_type"] for a in kept]
    for atoms, source in zip(frames, kept):
        assert atoms.get_potential_energy() == pytest.approx(source.get_potential_energy()
                                                             + 148.314002 * len(source))
        np.testing.assert_array_equal(atoms.get_forces(), source.get_forces())
    np.testing.assert_array_equal(split.test, [3, 4])
    assert len(split.train) == 2 and len(split.val) == 1
    # the same structures with today's layout (config_type=dimer, no detailed_ct) read the same
    for atoms in raw:
        if atoms.info.pop("detailed_ct") == "dimer":
            atoms.info["config_type"] = "dimer"
    flat = tmp_path / "C-GAP-17.extxyz"
    ase.io.write(flat, raw, format="extxyz")
    again, again_split = datasets.read_c_gap_17(flat, E0_CARBON, val_size=1)
    assert len(again) == len(frames)
    for a, b in zip(again, frames):
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.get_forces(), b.get_forces())
        assert a.get_potential_energy() == b.get_potential_energy() and a.info == b.info
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(again_split, name), getattr(split, name))


def test_c_gap_17_original_release_without_split_is_refused(tmp_path):
    """The original libAtoms release: train and test are separate files, no `split` flag."""
    path = DATA / "c-gap-17-libatoms-train.extxyz"
    with pytest.raises(ValueError) as error:
        datasets.read_c_gap_17(path, E0_CARBON, val_size=1)
    message = str(error.value)
    assert "`split`" in message and "c-gap-17-libatoms-train.extxyz" in message
    assert "structure 2 " in message                                # the first non-dimer, by file index
    assert "load-atoms" in message


def test_cnt_subset_uses_the_u_labels_and_a_random_tenth_for_test(tmp_path):
    path = fixtures.c_gap_20u(tmp_path / "C-GAP-20U.xyz", n_cnt=20, n_other=10)
    spec = {"format": "c-gap-20u", "split": {"seed": 42}}
    frames, split = datasets.read_labelled_set(spec, path)
    assert len(frames) == 20 and {a.info["config_type"] for a in frames} == {"Nanotubes", "Fullerenes"}
    assert frames[3].get_potential_energy() == pytest.approx(-7.5 * 5 + 0.3)     # energy_U, reference 0
    raw = ase.io.read(path, ":")
    np.testing.assert_allclose(frames[3].get_forces(), raw[3].arrays["force_U"])
    assert len(split.test) == 2                                      # 10 %
    assert len(split.val) == 1 and len(split.train) == 17            # min(N_rest // 10, 100)


def test_si_gap_18_from_its_zip(tmp_path):
    path = fixtures.si_gap_18_zip(tmp_path / "silicon-testing-framework-v1.0.zip", n=24)
    spec = {"format": "si-gap-18", "energy_reference": {"Si": -158.54496821}, "split": {"seed": 42}}
    frames, split = datasets.read_labelled_set(spec, path)
    assert len(frames) == 22                                          # the free atom and the far one dropped
    for atoms in frames:
        i = atoms.info["source_index"]          # its position in the file
        assert atoms.get_potential_energy() == pytest.approx(-4.5 * len(atoms) + 0.01 * i)
        assert set(atoms.get_chemical_symbols()) == {"Si"}
    assert len(split.test) == 2 and len(split.val) == 2 and len(split.train) == 18


def test_missing_energy_reference_names_the_element(tmp_path):
    path = fixtures.si_gap_18_zip(tmp_path / "si.zip", n=4)
    spec = {"format": "si-gap-18", "energy_reference": {"C": -148.3}, "split": {"test_size": 1, "val_size": 0}}
    with pytest.raises(KeyError, match=r"structure 2: no reference energy for element\(s\) \['Si'\]"):
        datasets.read_labelled_set(spec, path)


def test_alchemical_transform_scales_and_relabels_but_keeps_labels():
    from synpretrain.io import with_labels

    rng = np.random.default_rng(1)
    carbon = fixtures.random_atoms("C", 5, 4.0, rng)
    carbon = with_labels(carbon, -35.0, rng.normal(0, 1, (5, 3)))
    silicon = alchemical(carbon, element="Si", scale=1.5)
    assert silicon.get_chemical_symbols() == ["Si"] * 5
    np.testing.assert_allclose(silicon.positions, 1.5 * carbon.positions)
    np.testing.assert_allclose(silicon.cell[:], 1.5 * carbon.cell[:])
    assert silicon.get_potential_energy() == -35.0
    np.testing.assert_array_equal(silicon.get_forces(), carbon.get_forces())
    assert "source_density" not in silicon.info                       # the carbon frame had no density


def test_alchemical_frames_carry_their_own_density():
    from ase.build import bulk
    from ase.units import _amu

    from synpretrain.io import with_labels

    diamond = bulk("C", "diamond", a=3.567, cubic=True)               # 8 atoms, 3.51 g/cm3
    diamond.info.update(density=3.51, anneal_T=3000.0, run_id=0)
    silicon = alchemical(with_labels(diamond, -72.0, np.zeros((8, 3))), element="Si", scale=1.5)
    grams = 8 * 28.085 * _amu * 1e3                                  # eight Si atoms
    cm3 = (1.5 * 3.567) ** 3 * 1e-24                                  # the cubic cell scaled x 1.5
    assert silicon.info["density"] == pytest.approx(grams / cm3, rel=1e-4)     # 2.43, not 3.51
    assert silicon.info["source_density"] == 3.51
    assert silicon.info["anneal_T"] == 3000.0 and silicon.info["run_id"] == 0


def test_demo_trajectories_go_through_the_same_path(tmp_path):
    paths = []
    for run_id, density in enumerate((1.5, 2.5)):
        path = tmp_path / f"density-{density:g}-T-3000.extxyz"
        path.write_text(fixtures.extxyz_text(fixtures.c_synth_trajectory(density, 3000, run_id, 15)))
        paths.append(path)
    spec = {"source": "generate", "min_time": 10, "split": {"test_size": 2, "val_size": 2, "seed": 42}}
    summary = datasets.assemble(spec, {"trajectories": paths}, outputs(tmp_path))
    assert summary["counts"] == {"train": 6, "val": 2, "test": 2}


def test_alchemical_map_turns_each_element_into_its_image():
    from ase import Atoms as _Atoms

    from synpretrain.datasets import alchemical, with_labels

    parent = with_labels(_Atoms("SiC", positions=[[0, 0, 0], [1.9, 0, 0]], cell=[4, 4, 4], pbc=True), -1.0,
                         [[0.1, 0, 0], [-0.1, 0, 0]])
    out = alchemical(parent, scale=1.2, map={"C": "Ge"})
    assert out.get_chemical_symbols() == ["Si", "Ge"]
    assert out.get_potential_energy() == -1.0 and out.positions[1, 0] == pytest.approx(1.9 * 1.2)
    with pytest.raises(ValueError, match="`element` or `map`"):
        alchemical(parent, scale=1.0)


def test_c_gap_17_names_structures_by_their_position_in_the_file(tmp_path):
    """A missing label is reported at its file position (dimers dropped before it do not shift
    it), and a file of dimers alone says so instead of failing in the split."""
    from ase.calculators.singlepoint import SinglePointCalculator

    raw = ase.io.read(DATA / "c-gap-17-load-atoms.extxyz", ":")
    raw[4].calc = SinglePointCalculator(raw[4], forces=raw[4].get_forces())   # no energy
    ase.io.write(tmp_path / "broken.extxyz", raw, format="extxyz")
    with pytest.raises(KeyError, match=r"broken.extxyz: structure 4 has no energy label"):
        datasets.read_c_gap_17(tmp_path / "broken.extxyz", E0_CARBON, val_size=1)
    dimers = [atoms for atoms in raw if datasets.is_dimer(atoms)]
    ase.io.write(tmp_path / "dimers.extxyz", dimers, format="extxyz")
    with pytest.raises(ValueError, match=r"dimers.extxyz: no structures left of 2 read: all 2 are dimers"):
        datasets.read_c_gap_17(tmp_path / "dimers.extxyz", E0_CARBON, val_size=1)
