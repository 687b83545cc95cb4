import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, graphene
from ase.calculators.morse import MorsePotential

from synpretrain import labellers
from synpretrain.md_stability import (HeatingProtocol, coordination_fractions, coordination_numbers, run,
                                      unphysical)

C_CUTOFF = 1.85  # Angstrom: first minimum of the a-C radial distribution function


def test_coordination_of_hand_built_structures():
    diamond = bulk("C", "diamond", a=3.567, cubic=True)
    assert (coordination_numbers(diamond, C_CUTOFF) == 4).all()
    sheet = graphene("C2", a=2.46, vacuum=5.0).repeat((3, 3, 1))
    assert (coordination_numbers(sheet, C_CUTOFF) == 3).all()
    chain = Atoms("C4", positions=[[0, 0, 0], [1.3, 0, 0], [2.6, 0, 0], [3.9, 0, 0]], cell=[5.2, 20, 20],
                  pbc=[True, False, False])
    assert (coordination_numbers(chain, C_CUTOFF) == 2).all()
    free = Atoms("C3", positions=[[0, 0, 0], [1.4, 0, 0], [8.0, 8.0, 8.0]], cell=[20] * 3, pbc=True)
    np.testing.assert_array_equal(coordination_numbers(free, C_CUTOFF), [1, 1, 0])
    crowded = bulk("C", "fcc", a=2.2)                      # 12 neighbours at 1.56 A
    assert (coordination_numbers(crowded, C_CUTOFF) == 12).all()


def test_fractions_and_unphysical_flags():
    cn = np.array([0, 3, 3, 4, 4, 4, 5, 9])
    fractions = coordination_fractions(cn)
    assert fractions.sum() == pytest.approx(1.0)
    assert fractions[0] == fractions[5] == fractions[8] == pytest.approx(1 / 8)   # 9 counts as "8+"
    assert fractions[3] == pytest.approx(2 / 8) and fractions[4] == pytest.approx(3 / 8)
    assert unphysical(np.array([3, 4, 3]), high=5) is False
    assert unphysical(np.array([3, 0, 3]), high=5) is True
    assert unphysical(np.array([3, 5, 3]), high=5) is True


SHORT = HeatingProtocol(timestep_fs=0.5, T_start=300, T_end=600, ramp_ps=0.02, hold_ps=0.02,
                        frame_every_ps=0.01, seed=1)


def test_a_stable_potential_keeps_diamond_four_fold():
    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat(2)
    calc = labellers.make_calculator("lammps", {"pair_style": "lcbop", "potential": "C.lcbop"})
    rows, summary = run(atoms, calc, SHORT, cutoff=C_CUTOFF)
    assert len(rows) == 5 and [r["time_ps"] for r in rows] == pytest.approx([0, 0.01, 0.02, 0.03, 0.04])
    assert [r["target_T"] for r in rows] == pytest.approx([300, 450, 600, 600, 600])
    assert all(r["cn4"] == 1.0 for r in rows)
    assert summary["completed"] and summary["first_unphysical_ps"] is None
    assert np.isfinite(summary["hold_epot_drift_mev_per_atom_per_ps"])


def test_a_collapsing_potential_is_caught():
    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat(2)
    calc = MorsePotential(epsilon=5.0, r0=0.9, rho0=4.0, rcut1=2.0, rcut2=2.6)
    protocol = HeatingProtocol(timestep_fs=0.5, ramp_ps=0.05, hold_ps=0.15, frame_every_ps=0.01, seed=2)
    rows, summary = run(atoms, calc, protocol, cutoff=C_CUTOFF)
    assert summary["first_unphysical_ps"] is not None
    assert summary["first_unphysical_ps"] <= rows[-1]["time_ps"]
