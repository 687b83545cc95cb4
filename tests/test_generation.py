from pathlib import Path

import numpy as np
import pytest
import yaml
from ase.geometry import get_distances

from synpretrain.generation import (MeltQuenchAnneal, cubic_cell_length, n_frames, random_cell, run_seeds,
                                    synthetic_trajectory)

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
