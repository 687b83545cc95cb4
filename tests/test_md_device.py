"""`md.engine: torch` (synpretrain.md_device): its neighbour list against ASE's, its noise, its
forces against NequIP's own ASE calculator, its thermostat, and a killed run's resume.

On a CPU the model-level tests run on the CPU, where CUDA graphs cannot be captured (the fallback
to eager steps is tested); the fixed-slot neighbour list they need is (static shapes, padding,
running a frame again when the slots overflow).  Where CUDA is there (tests/benchmarks/gpu_session.sh
runs this file on a GPU) they run on it too, with the CUDA graphs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list

from fixtures import TINY_MODEL
from synpretrain.md_device import CounterNormal, DeviceEngine, DeviceLangevin, NeighbourList, image_shifts
from synpretrain.md_stability import Checkpoint, HeatingProtocol, run

C_CUTOFF = 1.85
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def same_run_tolerance(calc) -> float:
    """How far two runs of the same steps may differ (absolute, positions and momenta): nothing on a
    CPU; on CUDA the model's float32 scatter sums use atomics, whose order varies from run to run
    (measured on an H200: 1.5e-8 after 21 steps, the energy of one frame 1e-9 relative)."""
    return 0.0 if next(calc.model.parameters()).device.type == "cpu" else 1e-6


def assert_rows_match(rows: list[dict], expected: list[dict], tolerance: float) -> None:
    if tolerance == 0:
        assert rows == expected
        return
    assert [row.keys() for row in rows] == [row.keys() for row in expected]
    for row, want in zip(rows, expected):
        for key, value in want.items():
            assert row[key] == (pytest.approx(value, rel=tolerance) if isinstance(value, float) else value), key


def pairs_of(edges: torch.Tensor, shifts: torch.Tensor) -> set:
    return {(int(i), int(j), *map(int, s)) for (i, j), s in zip(edges.T.tolist(), shifts.tolist())}


def wrapped_random(n: int, cell, seed: int) -> Atoms:
    rng = np.random.default_rng(seed)
    atoms = Atoms("C" * n, scaled_positions=rng.random((n, 3)), cell=cell, pbc=True)
    return atoms


@pytest.mark.parametrize("cell, r_max", [
    (np.diag([5.0, 5.0, 5.0]), 4.0),                                  # r_max > L/2: several images of a pair
    (np.array([[6.0, 0.0, 0.0], [2.5, 5.5, 0.0], [1.0, 1.5, 7.0]]), 3.5),   # triclinic
    (np.diag([3.0, 9.0, 12.0]), 4.5),                                 # thin along a: two images each way
])
def test_neighbour_list_finds_what_ase_finds(cell, r_max):
    atoms = wrapped_random(9, cell, seed=4)
    i, j, shift = neighbor_list("ijS", atoms, r_max)
    expected = {(a, b, *map(int, s)) for a, b, s in zip(i, j, shift)}
    positions = torch.as_tensor(atoms.positions)
    edges, shifts, count = NeighbourList(np.array(atoms.cell), len(atoms), r_max, "cpu")(positions)
    assert pairs_of(edges, shifts) == expected and int(count) == len(expected) == edges.shape[1]

    slots = len(expected) + 7                                        # fixed slots: the pairs, then padding
    edges, shifts, count = NeighbourList(np.array(atoms.cell), len(atoms), r_max, "cpu", capacity=slots)(positions)
    assert edges.shape == (2, slots) and int(count) == len(expected)
    assert pairs_of(edges[:, :len(expected)], shifts[:len(expected)]) == expected
    vectors = positions[edges[1]] - positions[edges[0]] + shifts @ torch.as_tensor(np.array(atoms.cell))
    assert (vectors[len(expected):].norm(dim=1) > r_max).all()      # padding carries no weight

    edges, _, count = NeighbourList(np.array(atoms.cell), len(atoms), r_max, "cpu", capacity=5)(positions)
    assert edges.shape == (2, 5) and int(count) == len(expected) > 5   # too few slots: the count says so


def test_a_cell_too_large_for_all_pairs_is_refused_by_name():
    with pytest.raises(ValueError, match=r"md.engine torch: 2000 atoms x 27 periodic images.*md.engine: eager"):
        NeighbourList(np.diag([30.0, 30.0, 30.0]), 2000, 5.0, "cpu")


def test_image_shifts_reach_far_enough():
    assert len(image_shifts(np.diag([10.0, 10.0, 10.0]), 4.0)) == 27
    assert {int(s[0]) for s in image_shifts(np.diag([3.0, 10.0, 10.0]), 4.5)} == {-2, -1, 0, 1, 2}


def test_counter_noise_is_a_function_of_seed_and_step():
    noise = CounterNormal(seed=7, shape=(4000, 3), device="cpu")
    step = torch.tensor(12)
    first, again = noise(step), noise(step.clone())
    assert torch.equal(first, again)                                 # what a resumed run draws
    following = noise(step + 1)
    other_seed = CounterNormal(seed=8, shape=(4000, 3), device="cpu")(step)
    samples = torch.cat([noise(torch.tensor(k)).view(-1) for k in range(20)])
    assert abs(float(samples.mean())) < 0.01 and abs(float(samples.std()) - 1.0) < 0.01
    assert abs(float(torch.corrcoef(torch.stack([first.view(-1), following.view(-1)]))[0, 1])) < 0.02
    assert abs(float(torch.corrcoef(torch.stack([first.view(-1), other_seed.view(-1)]))[0, 1])) < 0.02
    fourth = ((samples - samples.mean()) ** 4).mean() / samples.var() ** 2
    assert abs(float(fourth) - 3.0) < 0.1                            # Gaussian tails (kurtosis 3)


@pytest.fixture(scope="module", params=DEVICES)
def nequip_calc(request):
    """NequIP's ASE calculator around a small random (untrained) NequIP model of carbon, on each device."""
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
    from nequip.integrations.ase import NequIPCalculator
    from nequip.model import NequIPGNNModel
    from nequip.utils.global_state import set_global_state

    set_global_state()   # float64 default dtype, as NequIP's scripts set it
    settings = {k: v for k, v in TINY_MODEL.items()}
    model = NequIPGNNModel(seed=3, type_names=["C"], avg_num_neighbors=20.0, per_type_energy_shifts={"C": -5.0},
                           per_type_energy_scales={"C": 1.0}, **{**settings, "num_features": 8})
    model.eval()
    transforms = [ChemicalSpeciesToAtomTypeMapper(model_type_names=["C"], chemical_species_to_atom_type_map={"C": "C"}),
                  NeighborListTransform(r_max=settings["r_max"])]
    return NequIPCalculator(model=model.to(request.param), device=request.param, transforms=transforms)


def amorphous_carbon(n=32, density=2.5, seed=1) -> Atoms:
    from synpretrain.generation import random_cell

    return random_cell(n, density, "C", min_distance=1.3, seed=seed)


@pytest.mark.parametrize("slots", [None, 40])
def test_forces_equal_nequips_calculator(nequip_calc, slots):
    """Same energy and forces as NequIP's own calculator, with exact pairs or fixed slots (40 is
    too few: the first frame runs again with more)."""
    atoms = amorphous_carbon()
    reference = atoms.copy()
    reference.calc = nequip_calc
    stepper = DeviceLangevin(nequip_calc, atoms.copy(), HeatingProtocol(seed=1), None, cuda_graphs=False, slots=slots)
    assert stepper.energy == pytest.approx(reference.get_potential_energy(), rel=1e-6)
    np.testing.assert_allclose(stepper.forces.cpu().numpy(), reference.get_forces(), atol=1e-5)
    if slots is not None:                                            # 40 slots overflow: the frame is rerun
        eager = DeviceLangevin(nequip_calc, atoms.copy(), HeatingProtocol(seed=1), None, cuda_graphs=False)
        stepper.advance(10)
        eager.advance(10)
        assert stepper.neighbours.capacity > 40
        np.testing.assert_allclose(stepper.atoms.positions, eager.atoms.positions, atol=1e-9)


def test_graph_steps_equal_eager_steps_and_a_failed_capture_steps_eagerly(nequip_calc):
    """On CUDA one step is captured as a graph and replayed: the same trajectory as eager steps.  Where
    capture fails (on a CPU, always) the run says so and steps eagerly."""
    import io

    atoms = amorphous_carbon(seed=4)
    log = io.StringIO()
    graphs = DeviceLangevin(nequip_calc, atoms.copy(), HeatingProtocol(seed=2), None, cuda_graphs=True, log=log,
                            compiled=False)
    eager = DeviceLangevin(nequip_calc, atoms.copy(), HeatingProtocol(seed=2), None, cuda_graphs=False)
    for _ in range(3):
        graphs.advance(7)
        eager.advance(7)
    if next(nequip_calc.model.parameters()).device.type == "cuda":
        assert graphs.graph is not None and "device MD: CUDA graph steps" in log.getvalue()
    else:
        assert graphs.graph is None and "CUDA graph capture failed" in log.getvalue()
        assert "device MD: eager steps" in log.getvalue()
    assert int(graphs.step.item()) == int(eager.step.item()) == 21
    tolerance = max(same_run_tolerance(nequip_calc), 1e-9)
    np.testing.assert_allclose(graphs.atoms.positions, eager.atoms.positions, rtol=0, atol=tolerance)
    np.testing.assert_allclose(graphs.atoms.get_momenta(), eager.atoms.get_momenta(), rtol=0, atol=tolerance)


def test_a_compiled_model_steps_as_the_model_does(nequip_calc):
    """`compiled`: the model traced and compiled for the run's slots (40 are too few: the first
    frame runs again with more, and the model is compiled for those) steps as the model does, with
    CUDA graphs where there is CUDA."""
    import io

    atoms = amorphous_carbon(seed=5)
    log = io.StringIO()
    compiled = DeviceLangevin(nequip_calc, atoms.copy(), HeatingProtocol(seed=2), None, log=log, slots=40,
                              compiled=True)
    slots = compiled.neighbours.capacity
    assert slots > 40 and compiled.compiled_forces is not None
    assert f"device MD: compiled model for {slots} neighbour slots" in log.getvalue()
    assert "compiled model for 40 " not in log.getvalue()                # not compiled for slots that overflowed
    plain = DeviceLangevin(nequip_calc, atoms.copy(), HeatingProtocol(seed=2), None, cuda_graphs=False, slots=slots,
                           compiled=False)
    assert plain.compiled_forces is None
    for _ in range(2):
        compiled.advance(10)
        plain.advance(10)
    np.testing.assert_allclose(compiled.atoms.positions, plain.atoms.positions, rtol=0, atol=1e-6)
    np.testing.assert_allclose(compiled.atoms.get_momenta(), plain.atoms.get_momenta(), rtol=0, atol=1e-5)
    assert compiled.energy == pytest.approx(plain.energy, rel=1e-6)


def test_a_run_starts_with_the_slots_the_last_run_of_its_cell_ended_with(nequip_calc):
    """(A heating run's pairs outgrow its first slots; the next run of the same cell, e.g. the bench's
    measured run after its warm-up, then neither overflows nor compiles again.)"""
    engine = DeviceEngine(nequip_calc, cuda_graphs=True, compiled=False)   # graphs: fixed slots (on a CPU too)
    atoms = amorphous_carbon(seed=7)
    first = engine.start(atoms.copy(), HeatingProtocol(seed=1), None, None)
    sized = first.neighbours.capacity
    first._set_capacity(sized + 500)                                     # as if it had grown
    assert engine.start(atoms.copy(), HeatingProtocol(seed=1), None, None).neighbours.capacity == sized + 500
    other = amorphous_carbon(n=40, seed=7)                               # another cell: sized afresh
    assert engine.start(other, HeatingProtocol(seed=1), None, None).neighbours.capacity != sized + 500


def test_a_model_that_fails_to_compile_runs_as_is_and_the_log_says_so(nequip_calc, monkeypatch):
    import io

    from synpretrain import md_device

    def fails(self, model, data):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(md_device.CompiledForces, "__init__", fails)
    atoms = amorphous_carbon(seed=6)
    log = io.StringIO()
    stepper = DeviceLangevin(nequip_calc, atoms.copy(), HeatingProtocol(seed=2), None, cuda_graphs=False, log=log,
                             compiled=True)
    plain = DeviceLangevin(nequip_calc, atoms.copy(), HeatingProtocol(seed=2), None, cuda_graphs=False,
                           slots=stepper.neighbours.capacity)
    assert "compiling the model failed (RuntimeError: no C++ compiler); the model runs as is" in log.getvalue()
    assert stepper.compiled_forces is None and not stepper.use_compiled
    stepper.advance(5)
    plain.advance(5)
    tolerance = same_run_tolerance(nequip_calc)
    np.testing.assert_allclose(stepper.atoms.positions, plain.atoms.positions, rtol=0, atol=tolerance)


def test_thermostat_holds_the_target_temperature(nequip_calc):
    """BAOAB at a fixed target: the mean kinetic temperature matches it, the centre of mass stays."""
    atoms = bulk("C", "diamond", a=3.567, cubic=True).repeat((2, 2, 2))
    protocol = HeatingProtocol(timestep_fs=0.5, T_start=800, T_end=800, ramp_ps=0.0, hold_ps=1.0,
                               frame_every_ps=0.01, damping_ps=0.02, seed=5)
    rows, summary = run(atoms, DeviceEngine(nequip_calc), protocol, cutoff=C_CUTOFF, collapse_distance=0.0)
    assert summary["integrator"] == "baoab-device" and len(rows) == 101
    held = np.array([r["T"] for r in rows[20:]])
    assert abs(held.mean() - 800) < 80                               # 64 atoms: T fluctuates ~15 %


def test_a_killed_device_run_resumes_and_equals_an_uninterrupted_one(tmp_path, nequip_calc, monkeypatch):
    import ase.io

    atoms = amorphous_carbon(seed=2)
    protocol = HeatingProtocol(timestep_fs=0.5, T_start=300, T_end=1500, ramp_ps=0.02, hold_ps=0.02,
                               frame_every_ps=0.005, seed=3)
    whole = Checkpoint(tmp_path / "a.npz", tmp_path / "a.extxyz", every_ps=0.01)
    rows, summary = run(atoms, DeviceEngine(nequip_calc), protocol, cutoff=C_CUTOFF, checkpoint=whole)
    assert summary["completed"] and len(rows) == 9

    class Killed(Exception):
        pass

    calls = {"n": 0}
    advance = DeviceLangevin.advance

    def dies_in_frame_six(self, n_steps):
        calls["n"] += 1
        if calls["n"] == 6:
            raise Killed
        advance(self, n_steps)

    parts = Checkpoint(tmp_path / "b.npz", tmp_path / "b.extxyz", every_ps=0.01)
    monkeypatch.setattr(DeviceLangevin, "advance", dies_in_frame_six)
    with pytest.raises(Killed):
        run(atoms, DeviceEngine(nequip_calc), protocol, cutoff=C_CUTOFF, checkpoint=parts)
    monkeypatch.setattr(DeviceLangevin, "advance", advance)
    resumed_rows, resumed = run(atoms, DeviceEngine(nequip_calc), protocol, cutoff=C_CUTOFF, checkpoint=parts)
    assert resumed["resumed_at_ps"] == pytest.approx(0.02) and resumed["steps_this_attempt"] == 4 * 10
    tolerance = same_run_tolerance(nequip_calc)  # on a CPU: to the bit
    assert_rows_match(resumed_rows, rows, tolerance)
    for a, b in zip(ase.io.read(whole.trajectory, ":"), ase.io.read(parts.trajectory, ":"), strict=True):
        np.testing.assert_allclose(a.positions, b.positions, rtol=0, atol=tolerance)
        np.testing.assert_allclose(a.get_momenta(), b.get_momenta(), rtol=0, atol=tolerance)
