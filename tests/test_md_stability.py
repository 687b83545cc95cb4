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


def collapsing_morse():
    """A Morse potential whose minimum (0.9 A) is far inside carbon's bond length: diamond collapses."""
    return MorsePotential(epsilon=5.0, r0=0.9, rho0=4.0, rcut1=2.0, rcut2=2.6)


COLLAPSE = HeatingProtocol(timestep_fs=0.5, ramp_ps=0.05, hold_ps=0.15, frame_every_ps=0.01, seed=2)


def test_a_collapsing_potential_is_caught():
    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat(2)
    rows, summary = run(atoms, collapsing_morse(), COLLAPSE, cutoff=C_CUTOFF)
    end = COLLAPSE.ramp_ps + COLLAPSE.hold_ps
    # The default collapse distance (0.5 A) is never reached (closest pair ~0.66 A), so this run goes
    # on to the end; what catches the collapse is the coordination analysis.
    assert summary["completed"] is True and summary["simulated_ps"] == pytest.approx(end) and len(rows) == 21
    assert rows[0]["unphysical"] is False and rows[0]["cn4"] == 1.0             # starts as diamond
    first = summary["first_unphysical_ps"]
    assert first is not None and 0 < first <= 0.05                              # caught during the ramp,
    assert not any(r["unphysical"] for r in rows if r["time_ps"] < first - 1e-9)  # not before the event,
    assert all(r["unphysical"] for r in rows if r["time_ps"] >= first - 1e-9)     # and it does not recover:
    assert rows[-1]["mean_cn"] > 8 and rows[-1]["cn8+"] > 0.5                    # atoms piled up,
    assert summary["min_distance"] < 1.0                                         # far below a C-C bond


def test_a_collapse_below_the_collapse_distance_stops_the_run():
    """The same trajectory as above, with a collapse distance it crosses: the MD stops there."""
    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat(2)
    whole, _ = run(atoms, collapsing_morse(), COLLAPSE, cutoff=C_CUTOFF)
    crossing = next(i for i, r in enumerate(whole) if r["min_distance"] < 1.0)
    rows, summary = run(atoms, collapsing_morse(), COLLAPSE, cutoff=C_CUTOFF, collapse_distance=1.0)
    assert summary["completed"] is False
    assert rows == whole[:crossing + 1]                       # stopped at the first frame that crossed it
    assert summary["simulated_ps"] == rows[-1]["time_ps"] < COLLAPSE.ramp_ps + COLLAPSE.hold_ps
    assert summary["steps_this_attempt"] == crossing * 20      # 0.01 ps frames of 0.5 fs steps
    assert summary["min_distance"] < 1.0


class _FailsAfter:
    """A calculator that fails after `calls` force evaluations: its energy and forces turn NaN (a
    model that blew up), or `raises` is raised (a job killed at its time limit)."""

    def __init__(self, calc, calls, raises=None):
        self.calc, self.calls, self.raises = calc, calls, raises

    def __getattr__(self, name):
        return getattr(self.calc, name)

    def get_forces(self, atoms=None):
        self.calls -= 1
        if self.calls >= 0:
            return self.calc.get_forces(atoms)
        if self.raises is not None:
            raise self.raises()
        return np.full((len(atoms), 3), np.nan)

    def get_potential_energy(self, atoms=None, force_consistent=False):
        return self.calc.get_potential_energy(atoms) if self.calls >= 0 else float("nan")


def test_non_finite_forces_stop_the_run():
    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat(2)
    calc = MorsePotential(epsilon=6.0, r0=1.54, rho0=6.0, rcut1=2.0, rcut2=2.6)
    rows, summary = run(atoms, _FailsAfter(calc, calls=45), SHORT, cutoff=C_CUTOFF)
    assert summary["completed"] is False
    assert 1 <= len(rows) < 5 and summary["simulated_ps"] == rows[-1]["time_ps"] < 0.04
    assert all(np.isfinite(r["epot_per_atom"]) and np.isfinite(r["min_distance"]) for r in rows)
    assert summary["steps_this_attempt"] == len(rows) * 20     # the frame that went NaN was run, not kept


class _Killed(Exception):
    pass


def test_a_killed_run_resumes_and_equals_an_uninterrupted_one(tmp_path):
    import ase.io

    from synpretrain.md_stability import Checkpoint

    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat(2)
    protocol = HeatingProtocol(timestep_fs=0.5, T_start=300, T_end=2000, ramp_ps=0.03, hold_ps=0.03,
                               frame_every_ps=0.005, seed=3)

    def lcbop():
        return labellers.make_calculator("lammps", {"pair_style": "lcbop", "potential": "C.lcbop"})

    whole = Checkpoint(tmp_path / "a.npz", tmp_path / "a.extxyz", every_ps=0.01)
    rows, summary = run(atoms, lcbop(), protocol, cutoff=C_CUTOFF, checkpoint=whole)
    assert summary["completed"] and summary["resumed_at_ps"] is None and len(rows) == 13

    parts = Checkpoint(tmp_path / "b.npz", tmp_path / "b.extxyz", every_ps=0.01)
    with pytest.raises(_Killed):                       # dies in mid-run, some frames after a save
        run(atoms, _FailsAfter(lcbop(), calls=115, raises=_Killed), protocol, cutoff=C_CUTOFF, checkpoint=parts)
    written = len(ase.io.read(parts.trajectory, ":"))
    assert parts.state.exists() and 4 <= written < 13
    resumed_rows, resumed = run(atoms, lcbop(), protocol, cutoff=C_CUTOFF, checkpoint=parts)
    saved_frame = round(resumed["resumed_at_ps"] / protocol.frame_every_ps)
    assert saved_frame % 2 == 0 and 2 <= saved_frame < written            # the last save before the kill
    assert resumed["steps_this_attempt"] == (12 - saved_frame) * 10     # only what was left was run
    assert resumed_rows == rows                                   # the analysis equals the uninterrupted run's
    assert {k: v for k, v in resumed.items() if k not in ("resumed_at_ps", "steps_this_attempt", "steps_per_s")} \
        == {k: v for k, v in summary.items() if k not in ("resumed_at_ps", "steps_this_attempt", "steps_per_s")}
    first, second = ase.io.read(whole.trajectory, ":"), ase.io.read(parts.trajectory, ":")
    assert len(first) == len(second) == 13
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.positions, b.positions)
        np.testing.assert_array_equal(a.get_momenta(), b.get_momenta())


def test_a_state_of_another_protocol_is_not_resumed(tmp_path):
    from synpretrain.md_stability import Checkpoint

    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat(2)
    calc = labellers.make_calculator("lammps", {"pair_style": "lcbop", "potential": "C.lcbop"})
    checkpoint = Checkpoint(tmp_path / "s.npz", tmp_path / "t.extxyz", every_ps=0.01)
    run(atoms, calc, SHORT, cutoff=C_CUTOFF, checkpoint=checkpoint)
    other = HeatingProtocol(**{**SHORT.__dict__, "seed": 99})
    rows, summary = run(atoms, calc, other, cutoff=C_CUTOFF, checkpoint=checkpoint)
    assert summary["resumed_at_ps"] is None and len(rows) == 5
