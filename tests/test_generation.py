from pathlib import Path

import numpy as np
import pytest
import yaml
from ase.geometry import get_distances

from synpretrain.generation import (MeltQuenchAnneal, composition_counts, cubic_cell_length, element_order,
                                    load_structure, melt_quench_anneal, n_frames, random_cell, run_seeds,
                                    synthetic_trajectory)
from synpretrain.lammps_runtime import new_lammps, potentials_dir

REPO = Path(__file__).resolve().parents[1]


def test_cell_length_by_hand():
    # 64 C atoms (12.011 u) at 2.0 g/cm3: V = 64 * 12.011 / (2.0 * 0.6022140857) A^3
    volume = 64 * 12.011 / (2.0 * 0.60221408)
    assert cubic_cell_length(64, 2.0) == pytest.approx(volume ** (1 / 3), rel=1e-4)


def test_random_cell_density_and_min_distance():
    atoms = random_cell(32, 3.0, min_distance=1.3, seed=3)
    grams = atoms.get_masses().sum() / 6.02214076e23
    assert grams / (atoms.get_volume() * 1e-24) == pytest.approx(3.0, rel=1e-6)
    _, d = get_distances(atoms.positions, cell=atoms.cell, pbc=True)
    assert d[~np.eye(len(atoms), dtype=bool)].min() >= 1.3
    np.testing.assert_array_equal(random_cell(32, 3.0, seed=3).positions, random_cell(32, 3.0, seed=3).positions)


def test_single_element_cell_is_unchanged():
    """The composition-aware random_cell gives carbon cells identical to the carbon-only version."""
    atoms = random_cell(32, 3.0, "C", 1.3, seed=3)
    # Pre-change values: computed with the carbon-only random_cell before compositions were added.
    np.testing.assert_array_equal(atoms.positions[:3], [
        [0.5112996215646527, 1.413687096362298, 4.7833661959892995],
        [3.475331268894614, 0.5619195231076252, 2.5856368254113264],
        [2.859791351370975, 0.9535930041926437, 4.385203406540427]])
    assert atoms.cell.lengths().tolist() == [5.969697530242865] * 3
    assert atoms.get_chemical_formula() == "C32"
    for same in ({"C": 32}, ["C"], {"C": 1}):
        np.testing.assert_array_equal(random_cell(32, 3.0, same, 1.3, seed=3).positions, atoms.positions)


def test_composition_by_dict_list_and_formula():
    si8c8 = random_cell(16, 3.2, {"Si": 8, "C": 8}, 1.5, seed=2)
    assert si8c8.symbols.formula.count() == {"Si": 8, "C": 8}
    grams = (8 * 28.085 + 8 * 12.011) / 6.02214076e23                      # real masses, by hand
    assert grams / (si8c8.get_volume() * 1e-24) == pytest.approx(3.2, rel=1e-4)
    assert cubic_cell_length(16, 3.2, {"Si": 8, "C": 8}) == pytest.approx(si8c8.cell.lengths()[0])
    # The counts are a ratio scaled to n_atoms: every spelling of SiC gives the same cell.
    for same in ("SiC", ["Si", "C"], {"C": 1, "Si": 1}, {"Si": 8, "C": 8, "O": 0}):
        other = random_cell(16, 3.2, same, 1.5, seed=2)
        np.testing.assert_array_equal(other.positions, si8c8.positions)
        assert other.get_chemical_symbols() == si8c8.get_chemical_symbols()
    assert composition_counts({"Si": 1, "O": 2}, 24) == {"O": 16, "Si": 8}
    assert composition_counts("SiO2", 24) == {"O": 16, "Si": 8} and element_order("SiO2") == ["O", "Si"]
    assert random_cell(16, 3.2, "SiC", 1.5, seed=4).get_chemical_symbols() != si8c8.get_chemical_symbols()
    with pytest.raises(ValueError, match="multiple of 3"):
        composition_counts("SiO2", 16)
    with pytest.raises(ValueError, match="unknown element"):
        composition_counts({"Qq": 2}, 16)


def test_per_pair_min_distances_are_honoured():
    limits = {"C-C": 1.2, "Si-C": 1.6, "Si-Si": 2.2}
    atoms = random_cell(64, 3.0, {"Si": 32, "C": 32}, limits, seed=5)
    symbols = np.array(atoms.get_chemical_symbols())
    _, d = get_distances(atoms.positions, cell=atoms.cell, pbc=True)
    np.fill_diagonal(d, np.inf)
    for pair, limit in limits.items():
        a, b = pair.split("-")
        closest = d[np.ix_(symbols == a, symbols == b)].min()
        assert closest >= limit, (pair, closest)
    assert d[np.ix_(symbols == "C", symbols == "C")].min() < 1.6   # C-C pairs did use their shorter limit
    swapped = {"C-C": 1.2, "C-Si": 1.6, "Si-Si": 2.2}                  # keys are order-insensitive
    np.testing.assert_array_equal(random_cell(64, 3.0, {"Si": 32, "C": 32}, swapped, seed=5).positions,
                                  atoms.positions)
    with pytest.raises(ValueError, match="no entry for the pairs"):
        random_cell(16, 3.0, "SiC", {"C-C": 1.2, "Si-Si": 2.0})


def test_impossible_packing_fails_clearly():
    with pytest.raises(RuntimeError, match="could not place"):
        random_cell(64, 3.5, min_distance=3.0, max_attempts=2000)


@pytest.mark.parametrize("potential", ["tersoff", "lcbop"])
def test_short_trajectory_has_the_c_synth_layout(potential):
    protocol = MeltQuenchAnneal(melt_T=5000, melt_ps=0.02, quench_ps=0.02, anneal_ps=0.02, frame_every_ps=0.01)
    frames = synthetic_trajectory(16, 2.0, 3000, run_id=7, seed=11, potential=potential, protocol=protocol)
    assert len(frames) == n_frames(protocol) == 7
    assert [f.info["time"] for f in frames] == pytest.approx([0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    for frame in frames:
        assert frame.info["density"] == 2.0 and frame.info["anneal_T"] == 3000.0 and frame.info["run_id"] == 7
        assert len(frame) == 16 and frame.pbc.all()
    assert not np.allclose(frames[0].positions, frames[-1].positions)  # the atoms moved
    again = synthetic_trajectory(16, 2.0, 3000, run_id=7, seed=11, potential=potential, protocol=protocol)
    np.testing.assert_allclose(again[-1].positions, frames[-1].positions)


def test_unknown_driving_potential():
    with pytest.raises(KeyError, match="unknown driving potential"):
        synthetic_trajectory(8, 2.0, 3000, 0, 1, potential="gap")
    with pytest.raises(KeyError, match="exactly the keys"):
        synthetic_trajectory(8, 2.0, 3000, 0, 1, potential={"pair_style": "tersoff"})
    with pytest.raises(FileNotFoundError, match="neither"):
        synthetic_trajectory(8, 2.0, 3000, 0, 1, potential={"pair_style": "tersoff", "potential": "nope.tersoff"})


SHORT_MQA = MeltQuenchAnneal(melt_T=4000, melt_ps=0.1, quench_ps=0.1, anneal_ps=0.2, frame_every_ps=0.1)
SI_C_LIMITS = {"C-C": 1.2, "Si-C": 1.6, "Si-Si": 2.0}


@pytest.mark.parametrize("potential, composition, density, min_distance", [
    ({"pair_style": "tersoff", "potential": "SiC.tersoff"}, {"Si": 8, "C": 8}, 3.2, SI_C_LIMITS),
    ({"pair_style": "vashishta", "potential": "SiC.vashishta"}, "SiC", 3.2, SI_C_LIMITS),
    ({"pair_style": "sw", "potential": "GaN.sw"}, ["Ga", "N"], 6.1, 1.6),
])
def test_multi_element_mqa_from_wheel_potential_files(potential, composition, density, min_distance):
    frames = synthetic_trajectory(16, density, 2500, run_id=4, seed=9, potential=potential, element=composition,
                                  min_distance=min_distance, protocol=SHORT_MQA)
    assert len(frames) == n_frames(SHORT_MQA) == 5
    expected = composition_counts(composition, 16)
    for frame in frames:
        assert frame.symbols.formula.count() == expected and len(expected) == 2
        assert np.isfinite(frame.positions).all() and frame.pbc.all()
        assert {"density", "anneal_T", "run_id", "time"} <= set(frame.info)
        assert frame.info["density"] == density and frame.info["anneal_T"] == 2500.0 and frame.info["run_id"] == 4
    assert [f.info["time"] for f in frames] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    assert frames[0].get_chemical_symbols() == frames[-1].get_chemical_symbols()
    assert not np.allclose(frames[0].positions, frames[-1].positions)
    again = synthetic_trajectory(16, density, 2500, run_id=4, seed=9, potential=potential, element=composition,
                                 min_distance=min_distance, protocol=SHORT_MQA)
    np.testing.assert_array_equal(again[-1].positions, frames[-1].positions)


def test_potential_file_by_path(tmp_path, monkeypatch):
    (tmp_path / "pots").mkdir()
    (tmp_path / "pots" / "mine.tersoff").write_text((potentials_dir() / "SiC.tersoff").read_text())
    start = random_cell(16, 3.2, "SiC", SI_C_LIMITS, seed=1)
    by_name = melt_quench_anneal(start, 2500, {"pair_style": "tersoff", "potential": "SiC.tersoff"}, SHORT_MQA)
    by_path = melt_quench_anneal(start, 2500, {"pair_style": "tersoff",
                                               "potential": str(tmp_path / "pots" / "mine.tersoff")}, SHORT_MQA)
    monkeypatch.chdir(tmp_path)
    relative = melt_quench_anneal(start, 2500, {"pair_style": "tersoff", "potential": "pots/mine.tersoff"}, SHORT_MQA)
    np.testing.assert_array_equal(by_path[-1].positions, by_name[-1].positions)
    np.testing.assert_array_equal(relative[-1].positions, by_name[-1].positions)


def test_lammps_types_follow_the_sorted_elements():
    """LAMMPS' energy of a SiC cell (types C=1, Si=2, pair_coeff ... C Si) equals ASE's own Tersoff."""
    from ase.calculators.tersoff import Tersoff

    atoms = random_cell(16, 3.2, {"Si": 8, "C": 8}, SI_C_LIMITS, seed=4)
    assert element_order(atoms) == ["C", "Si"]
    lmp = new_lammps()
    try:
        load_structure(lmp, atoms, "tersoff")
        lmp.command("run 0")
        energy = lmp.get_thermo("pe")
    finally:
        lmp.close()
    atoms.calc = Tersoff.from_lammps(str(potentials_dir() / "SiC.tersoff"))
    assert energy == pytest.approx(atoms.get_potential_energy(), abs=1e-8)


@pytest.mark.parametrize("config_file", ["config/config.yaml", "tests/data/tiny.yaml"])
def test_no_two_generated_runs_share_a_seed(config_file):
    """Pre-training pools and real sets come from different runs: no (density, temperature,
    seed), indeed no seed, appears twice, although the grids overlap (2.75 g/cm3 in the demo's
    c-synth and c-real; their base seeds are 1000 apart, as their old run seeds were)."""
    config = yaml.safe_load((REPO / config_file).read_text())
    runs = [(name, point, seed) for name, spec in config["datasets"].items() if spec["source"] == "generate"
            for point, (_, seed) in run_seeds({"seed": 0, **spec["generate"]}).items()]
    seeds = [seed for _, _, seed in runs]
    assert len(set(seeds)) == len(seeds), runs
    assert all(1 <= seed <= 2**31 - 2 for seed in seeds)


def test_run_seeds_are_stable_and_follow_the_grid():
    generate = {"seed": 2000, "densities": [1.75, 2.25], "anneal_temperatures": [2500, 3000]}
    seeds = run_seeds(generate)
    assert list(seeds) == [(1.75, 2500.0), (1.75, 3000.0), (2.25, 2500.0), (2.25, 3000.0)]
    assert [run_id for run_id, _ in seeds.values()] == [0, 1, 2, 3]
    assert seeds == run_seeds(dict(generate))                                # a pure function
    assert seeds[(1.75, 2500.0)][1] != run_seeds({**generate, "seed": 2001})[(1.75, 2500.0)][1]


def test_any_ase_calculator_drives_the_protocol():
    """`driving_potential: {labeller: ...}`: the same protocol in ASE MD (here ASE's own Tersoff,
    SiC 1989 parameters, on Si4C4): every frame, the info keys, atoms kept apart."""
    from ase.calculators.tersoff import Tersoff

    protocol = MeltQuenchAnneal(melt_T=3000, melt_ps=0.1, quench_ps=0.1, anneal_ps=0.1, frame_every_ps=0.05,
                                timestep_fs=1.0)
    calc = Tersoff.from_lammps(str(potentials_dir() / "SiC.tersoff"))
    frames = synthetic_trajectory(8, 3.0, 2000, run_id=0, seed=11, element={"Si": 1, "C": 1},
                                  min_distance={"Si-Si": 2.0, "Si-C": 1.6, "C-C": 1.2}, protocol=protocol,
                                  calculator=calc)
    assert len(frames) == n_frames(protocol)
    assert [f.info["time"] for f in frames[:3]] == [0.0, 0.05, 0.1]
    assert all(sorted(f.get_chemical_symbols()) == ["C"] * 4 + ["Si"] * 4 for f in frames)
    assert all(np.isfinite(f.positions).all() and f.info["density"] == 3.0 for f in frames)
    _, d = get_distances(frames[-1].positions, cell=frames[-1].cell, pbc=True)
    assert d[~np.eye(8, dtype=bool)].min() > 0.8
