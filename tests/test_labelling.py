import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes

from synpretrain import labellers
from synpretrain.labelling import isolated_atom_energies, label, reference_energy

LCBOP = {"type": "lammps", "pair_style": "lcbop", "potential": "C.lcbop"}
TERSOFF_KIM = {"type": "kim", "kim_model": "Tersoff_LAMMPS_Tersoff_1988_C__MO_579868029681_003"}


class ToyCalculator(Calculator):
    """E = -1 eV per atom + 0.5 eV; fails on any structure with exactly 3 atoms."""

    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if len(self.atoms) == 3:
            raise RuntimeError("SCC not converged")
        energy = -1.0 * len(self.atoms) + 0.5
        if len(self.atoms) == 5:
            energy = float("nan")
        self.results = {"energy": energy, "forces": np.full((len(self.atoms), 3), 0.25)}


def diamond(n_repeat=1):
    return bulk("C", "diamond", a=3.567, cubic=True).repeat(n_repeat)


def test_registry_knows_the_demo_labellers_and_rejects_unknown_ones():
    assert {"lammps", "kim", "chgnet", "xtb"} <= set(labellers.REGISTRY)
    with pytest.raises(KeyError, match="unknown labeller 'gap-99'"):
        labellers.get("gap-99")


def test_isolated_atom_box_has_20_angstrom_vacuum():
    atom = labellers.isolated_atom("C")
    assert len(atom) == 1 and atom.pbc.all()
    np.testing.assert_allclose(atom.cell.lengths(), [20.0] * 3)


def test_energies_are_referenced_to_the_isolated_atom_and_failures_dropped():
    calc = ToyCalculator()
    e_iso = isolated_atom_energies(calc, ["C"])
    assert e_iso == {"C": pytest.approx(-0.5)}
    frames = [Atoms("C" * n, positions=np.arange(3 * n).reshape(n, 3), cell=[10] * 3, pbc=True) for n in (2, 3, 4, 5)]
    result = label(frames, calc, e_iso, first_index=10)
    # n=2: E = -1.5 -> -1.5 - 2 * (-0.5) = -0.5 ; n=4: E = -3.5 -> -1.5
    assert [a.get_potential_energy() for a in result.frames] == pytest.approx([-0.5, -1.5])
    assert [a.info["source_index"] for a in result.frames] == [10, 12]
    np.testing.assert_allclose(result.frames[0].get_forces(), 0.25)
    assert [d["index"] for d in result.dropped] == [11, 13]
    assert "SCC not converged" in result.dropped[0]["reason"]
    assert "non-finite" in result.dropped[1]["reason"]


def test_reference_energy_needs_every_element():
    with pytest.raises(KeyError, match="Si"):
        reference_energy(Atoms("CSi"), {"C": -1.0})


def test_lcbop_through_lammps():
    calc = labellers.make_calculator("lammps", LCBOP)
    e_iso = isolated_atom_energies(calc, ["C"])
    atoms = diamond()
    atoms.rattle(0.05, seed=1)
    result = label([atoms], calc, e_iso)
    per_atom = result.frames[0].get_potential_energy() / len(atoms)
    assert -7.6 < per_atom < -7.0          # LCBOP's diamond cohesive energy is about -7.35 eV/atom
    forces = result.frames[0].get_forces()
    assert np.abs(forces).max() > 0.01 and np.allclose(forces.sum(axis=0), 0.0, atol=1e-6)


def test_tersoff_1988_through_openkim():
    kim = labellers.make_calculator("kim", TERSOFF_KIM)
    atoms = diamond()
    atoms.calc = kim
    # Tersoff (1988) fitted the diamond cohesive energy, 7.37 eV/atom at a = 3.566 A
    assert atoms.get_potential_energy() / len(atoms) == pytest.approx(-7.37, abs=0.01)
    rattled = diamond()
    rattled.rattle(0.05, seed=2)
    rattled.calc = kim
    assert np.allclose(rattled.get_forces().sum(axis=0), 0.0, atol=1e-6)
    assert np.abs(rattled.get_forces()).max() > 0.1


def test_missing_kim_model_says_how_to_install_it():
    with pytest.raises(labellers.LabellerUnavailable, match="kim-api-collections-management install"):
        labellers.make_calculator("kim", {"type": "kim", "kim_model": "EDIP_NotInstalled__MO_000000000000_000"})


def test_missing_potential_file_names_the_file():
    with pytest.raises(FileNotFoundError, match="C.nothere"):
        labellers.make_calculator("lammps", {"pair_style": "lcbop", "potential": "C.nothere"})


def test_xtb_labels_a_small_cell():
    calc = labellers.make_calculator("xtb", {"method": "GFN1-xTB"})
    e_iso = isolated_atom_energies(calc, ["C"])
    result = label([diamond()], calc, e_iso)
    assert not result.dropped
    assert result.frames[0].get_potential_energy() < 0     # bound relative to free atoms


def zincblende_sic():
    return bulk("SiC", "zincblende", a=4.36, cubic=True)     # 8 atoms: Si4C4


@pytest.mark.parametrize("options", [
    {"type": "lammps", "pair_style": "tersoff", "potential": "SiC.tersoff", "element": ["Si", "C"]},
    {"type": "chgnet"},
    {"type": "sevennet"},                                      # 7net-0: weights in the wheel
    {"type": "xtb", "method": "GFN1-xTB"},
])
def test_two_element_labels(options):
    """Every labeller of a two-element material: isolated-atom energies per element, referenced
    energies, and (a perfect zincblende crystal) forces that cancel by symmetry."""
    labeller = labellers.REGISTRY[options["type"]]
    assert {"Si", "C"} <= labeller.covers(options)
    calc = labellers.make_calculator(options["type"], options)
    e_iso = isolated_atom_energies(calc, ["Si", "C"])
    assert set(e_iso) == {"C", "Si"} and all(np.isfinite(list(e_iso.values())))
    result = label([zincblende_sic()], calc, e_iso)
    assert not result.dropped
    energy = result.frames[0].get_potential_energy()
    assert -8 * 12 < energy < -8 * 2                          # bound: 2-12 eV/atom below free atoms
    assert np.abs(result.frames[0].get_forces()).max() < 0.05


def test_kim_model_names_declare_their_species():
    assert labellers.kim_species("Tersoff_LAMMPS_Tersoff_1989_SiC__MO_171585019474_002") == {"Si", "C"}
    assert labellers.kim_species("EDIP_LAMMPS_Marks_2000_C__MO_374144505645_000") == {"C"}
    assert labellers.kim_species("not a KIM name") is None
