"""Langevin MD that stays on the model's device (`md.engine: torch`).

The ASE engines move the structure to the host every step: ASE integrates, a neighbour list is
built on the CPU (~3 ms for 200 atoms) and the model is called in eager mode, ~1,500 small kernel
launches (17-21 ms on an H200: launch-bound).  Here positions, momenta, the neighbour list and
the thermostat are torch tensors on the model's device, and a step is a fixed sequence of tensor
operations with static shapes, so on a GPU it is captured once as a CUDA graph and replayed: one
launch per step.  The host sees the state once per frame (analysis, checkpoints).

- Integrator: BAOAB Langevin (Leimkuhler & Matthews), friction 1 / damping time, the target
  temperature following the protocol's ramp step by step, the centre of mass kept still.
- Neighbour list: every pair and periodic image within r_max, found among all N^2 x images
  candidates every step (a 200-atom cell has ~1 M: trivial for a GPU) and compacted without a host
  sync into a fixed number of slots (slot k: a binary search for the k-th pair in the running
  count).  Unused slots hold a pair farther apart than r_max, which a NequIP model gives exactly
  zero weight (its cutoff envelope is zero there).  If a step finds more
  pairs than slots, the frame is run again from its start with more slots: never a missed pair.
- Compiled model (`compiled`, with fixed slots): the model's energy and forces at the run's fixed
  shapes are traced into one flat graph of tensor operations (`make_fx` unfolds the forces'
  autograd, as NequIP's training compile does) and compiled by Inductor, which fuses its ~1,500
  kernels into far fewer; a CUDA graph replays the fused kernels.  The compiled output is checked
  against the model's on the first structure; a failure is said in the log and the model runs as is.
- Noise: a counter-based generator (a 32-bit integer hash of seed, step and component), so the
  thermostat's state is the step number: a resumed run continues the same random sequence exactly,
  with or without CUDA graphs, and graph capture needs no generator bookkeeping.
"""
from __future__ import annotations

import itertools
import math
import time

import numpy as np
import torch
from ase import Atoms, units
from nequip.data import AtomicDataDict, from_ase

MASK32 = 0xFFFFFFFF
MAX_CANDIDATES = 50_000_000   # pairs x images a step may test: ~1,300 atoms in a cell wider than 2 r_max


def _mul32(x: torch.Tensor, c: int) -> torch.Tensor:
    """(x * c) mod 2^32 for 0 <= x, c < 2^32, in int64 without overflow."""
    low = (x & 0xFFFF) * c
    high = ((x >> 16) * c) & 0xFFFF
    return (low + (high << 16)) & MASK32


def hash32(x: torch.Tensor) -> torch.Tensor:
    """An avalanching 32-bit integer hash (C. Wellons' "lowbias32") of int64 tensors in [0, 2^32)."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


class CounterNormal:
    """Standard normal numbers of shape `shape` for step k: a pure function of (seed, k)."""

    def __init__(self, seed: int, shape: tuple[int, ...], device):
        count = math.prod(shape)
        self.shape = shape
        self.key = hash32(torch.tensor(seed & MASK32, dtype=torch.int64, device=device))
        self.components = hash32(torch.arange(2 * count, dtype=torch.int64, device=device))

    def __call__(self, step: torch.Tensor) -> torch.Tensor:
        bits = hash32(hash32(self.key ^ (step & MASK32)) ^ self.components)
        uniform = (bits.to(torch.float64) + 0.5) / 2.0**32        # in (0, 1): log() stays finite
        u1, u2 = uniform.view(2, -1)
        return (torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)).view(self.shape)


def image_shifts(cell: np.ndarray, r_max: float) -> np.ndarray:
    """Integer cell shifts that can hold a neighbour within r_max of an atom of a wrapped cell."""
    volume = abs(np.linalg.det(cell))
    widths = [volume / np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3])) for k in range(3)]
    reach = [int(r_max // w) + 1 for w in widths]
    return np.array(list(itertools.product(*(range(-m, m + 1) for m in reach))), dtype=np.float64)


class NeighbourList:
    """All (i, j, shift) with |x_j - x_i + shift @ cell| < r_max, for positions wrapped into the cell.

    Squared distances of every pair and image come from one matrix product, |d + o|^2 = |d|^2 +
    2 d.o + |o|^2 (N^2 pair vectors d, image offsets o).  `capacity` None: exactly the pairs found
    (shapes change with them; for eager stepping).  `capacity` k: k slots filled without a host
    sync, slot m by a binary search for the (m+1)-th pair in the running count, the rest by a
    padding pair (atom 0 and an image of itself farther than r_max).  The count returned is the
    number of pairs found, a device tensor: more than `capacity` means some were dropped."""

    def __init__(self, cell: np.ndarray, n_atoms: int, r_max: float, device, capacity: int | None = None,
                 dtype=torch.float64):
        shifts = image_shifts(cell, r_max)
        far = np.zeros((1, 3))
        far[0, 0] = shifts[:, 0].max() + 1                  # farther than r_max along a
        shifts = np.vstack([shifts, far])
        self.n_atoms, self.n_images = n_atoms, len(shifts) - 1
        if n_atoms * n_atoms * self.n_images > MAX_CANDIDATES:
            raise ValueError(f"md.engine torch: {n_atoms} atoms x {self.n_images} periodic images are "
                             f"{n_atoms * n_atoms * self.n_images:,} candidate pairs per step, more than its "
                             f"all-pairs neighbour list is meant for ({MAX_CANDIDATES:,}); use md.engine: eager")
        self.shift = torch.as_tensor(shifts, dtype=dtype, device=device)             # integer shifts
        offsets = self.shift[:-1] @ torch.as_tensor(cell, dtype=dtype, device=device)
        self.offsets_t, self.offset_sq = offsets.T.contiguous(), (offsets * offsets).sum(-1)
        self_pair = torch.zeros((n_atoms, n_atoms, self.n_images), dtype=torch.bool, device=device)
        atoms = torch.arange(n_atoms, device=device)
        self_pair[atoms, atoms, int(np.flatnonzero(~shifts[:-1].any(1))[0])] = True
        self.allowed = ~self_pair.view(n_atoms * n_atoms, self.n_images)    # an atom is not its own neighbour
        self.r_max_sq, self.capacity = r_max**2, capacity
        self.padding = n_atoms * n_atoms * self.n_images                      # the candidate after the last
        if capacity is not None:
            self.slots = torch.arange(1, capacity + 1, device=device)

    def __call__(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pair = (positions[None, :, :] - positions[:, None, :]).view(-1, 3)       # x_j - x_i, row i * N + j
        distance_sq = (pair * pair).sum(-1, keepdim=True) + 2.0 * (pair @ self.offsets_t) + self.offset_sq
        within = ((distance_sq < self.r_max_sq) & self.allowed).view(-1)
        if self.capacity is None:
            chosen = torch.nonzero(within).view(-1)
            count = chosen.new_tensor(len(chosen))
        else:
            found = torch.cumsum(within, 0)
            chosen = torch.searchsorted(found, self.slots).clamp_(max=self.padding)   # past the last: padding
            count = found[-1]
        image = torch.where(chosen < self.padding, chosen % self.n_images, self.n_images)
        pair_index = torch.where(chosen < self.padding, chosen // self.n_images, 0)
        edges = torch.stack([pair_index // self.n_atoms, pair_index % self.n_atoms])
        return edges, self.shift[image], count


def model_r_max(calc) -> float:
    """The cutoff of a NequIP ASE calculator's neighbour-list transform."""
    for transform in calc.transforms:
        if hasattr(transform, "r_max"):
            return float(transform.r_max)
    raise ValueError("the NequIP calculator has no neighbour-list transform to take r_max from")


class CompiledForces:
    """A model's (energy, forces) for inputs of fixed shapes, as one Inductor-compiled graph."""

    OUTPUTS = [AtomicDataDict.TOTAL_ENERGY_KEY, AtomicDataDict.FORCE_KEY]

    def __init__(self, model, data: dict):
        from nequip.nn.compile import ListInputOutputWrapper
        from nequip.utils.fx import nequip_decomp_table
        from torch.fx.experimental.proxy_tensor import make_fx

        self.keys = sorted(data)
        wrapper = ListInputOutputWrapper(model, self.keys, self.OUTPUTS)
        inputs = [data[k].clone() for k in self.keys]
        # fake tensors: an operation whose result depends on the data (and would be baked in) fails
        traced = make_fx(wrapper, decomposition_table=nequip_decomp_table(), tracing_mode="fake",
                         _allow_non_fake_inputs=True, _error_on_data_dependent_ops=True)(*inputs)
        self.function = torch.compile(traced, dynamic=False, fullgraph=True)
        energy, forces = self(data)
        expected = model(dict(data))
        want_energy = expected[AtomicDataDict.TOTAL_ENERGY_KEY].detach().reshape(())
        want_forces = expected[AtomicDataDict.FORCE_KEY].detach()
        scale = float(want_forces.abs().max()) + 1e-3
        energy_error, force_error = float((energy - want_energy).abs()), float((forces - want_forces).abs().max())
        if energy_error > 1e-5 * abs(float(want_energy)) + 1e-4 or force_error > 1e-4 * scale:
            raise RuntimeError(f"the compiled model differs from the model: energy by {energy_error:.2e} eV, "
                               f"forces by up to {force_error:.2e} eV/A")

    def __call__(self, data: dict) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():      # the forces' gradient is in the graph: Inductor compiles it for inference
            energy, forces = self.function(*[data[k] for k in self.keys])
        return energy.detach().reshape(()), forces.detach()


class DeviceEngine:
    """`md.engine: torch`: a NequIP model (from its ASE calculator) stepped by `DeviceLangevin`.
    `cuda_graphs`: None = on CUDA devices, where capturing works (else eager, said in the log);
    `compiled`: None = where CUDA graphs are used on a CUDA device (the compiled model is what they replay)."""

    integrator = "baoab-device"

    def __init__(self, calc, cuda_graphs: bool | None = None, log=None, compiled: bool | None = None):
        self.calc, self.cuda_graphs, self.log, self.compiled = calc, cuda_graphs, log, compiled
        self.running = None

    def start(self, atoms: Atoms, protocol, rng, saved: dict | None) -> DeviceLangevin:
        """(`rng`, numpy's, drew the initial momenta; the thermostat here has its own counter-based noise.)
        A run after one of the same cell starts with the slots the last one ended with: no overflows
        again, and Inductor's cache has the model compiled for them."""
        last = self.running
        same_cell = last is not None and len(last.atoms) == len(atoms) and np.allclose(last.atoms.cell, atoms.cell)
        slots = last.neighbours.capacity if same_cell else None   # (too few for this start: they grow)
        self.running = DeviceLangevin(self.calc, atoms, protocol, saved["rng"] if saved else None, self.cuda_graphs,
                                      self.log, slots=slots, compiled=self.compiled)
        return self.running

    @property
    def ran_compiled(self) -> bool:
        """Whether the last run's model runs compiled (not where compiling failed or was off)."""
        return self.running is not None and self.running.compiled_forces is not None


class DeviceLangevin:
    """The state of one run on the device, advanced frame by frame (the `run` loop's stepper)."""

    def __init__(self, calc, atoms: Atoms, protocol, rng_state: dict | None, cuda_graphs: bool | None = None,
                 log=None, slots: int | None = None, compiled: bool | None = None):
        """`cuda_graphs` None: on a CUDA device.  Graphs need a fixed number of neighbour slots, sized
        from the first structure (or `slots`, which also fixes them without graphs); else the
        neighbour list has exactly the pairs found.  `compiled` (None: with graphs on CUDA) needs fixed slots:
        the model is compiled for them (again when they grow)."""
        self.atoms, self.protocol, self.log = atoms, protocol, log
        self.model = calc.model
        device = next(self.model.parameters()).device
        dtype = torch.float64
        bare = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=atoms.pbc)
        template = from_ase(bare)
        for transform in calc.transforms:
            if not hasattr(transform, "r_max"):                 # the type mapping; edges come from here
                template = transform(template)
        self.template = {k: v.to(device) for k, v in template.items()}
        self.r_max = model_r_max(calc)
        self.cell = np.array(atoms.cell)
        n = len(atoms)
        masses = torch.as_tensor(atoms.get_masses(), dtype=dtype, device=device)[:, None]
        self.inverse_cell = torch.as_tensor(np.linalg.inv(self.cell), dtype=dtype, device=device)
        self.cell_t = torch.as_tensor(self.cell, dtype=dtype, device=device)
        # BAOAB constants (ASE units: Angstrom, eV, amu; time in ASE units)
        dt = protocol.timestep_fs * units.fs
        friction = 1.0 / (protocol.damping_ps * 1000 * units.fs)
        self.masses, self.half_dt = masses, 0.5 * dt
        self.c1 = math.exp(-friction * dt)
        self.noise_scale = torch.sqrt((1.0 - self.c1**2) * units.kB * masses)      # x sqrt(T)
        self.mass_fraction = masses / masses.sum()
        self.noise = CounterNormal(protocol.seed, (n, 3), device)
        # the state
        self.step = torch.tensor(int(rng_state["step"]) if rng_state else 0, dtype=torch.int64, device=device)
        # positions and momenta as the host has them (a resumed run continues exactly: the checkpoint
        # keeps both), positions wrapped into the cell at the start (the neighbour list needs it)
        self.positions = torch.as_tensor(atoms.get_positions(), dtype=dtype, device=device).clone()
        if rng_state is None:
            self._wrap(self.positions)
        self.momenta = torch.as_tensor(atoms.get_momenta(), dtype=dtype, device=device).clone()
        self.most_pairs = torch.zeros((), dtype=torch.int64, device=device)
        self.graph = None
        self.use_graphs = cuda_graphs if cuda_graphs is not None else device.type == "cuda"
        self.use_compiled = compiled if compiled is not None else self.use_graphs and device.type == "cuda"
        self.compiled_forces = None
        if slots is None and (self.use_graphs or self.use_compiled):
            slots = self._room_for(int(NeighbourList(self.cell, n, self.r_max, device)(self.positions)[2]))
        self._set_capacity(slots)
        self._first_forces()
        if self.use_graphs:
            self._capture()

    # --- one step ---------------------------------------------------------------------------
    @staticmethod
    def _room_for(pairs: int) -> int:
        return int(pairs * 1.3) + 64

    def _set_capacity(self, capacity: int | None) -> None:
        self.neighbours = NeighbourList(self.cell, len(self.atoms), self.r_max, self.positions.device, capacity)
        self.compiled_forces = None                     # compiled for the old slots: compiled again on first use

    def _overflowed(self) -> bool:
        """Whether a step since `most_pairs` was zeroed found more pairs than slots (then: more slots)."""
        found = int(self.most_pairs.item())
        if self.neighbours.capacity is None or found <= self.neighbours.capacity:
            return False
        self._set_capacity(self._room_for(found))
        return True

    def _first_forces(self) -> None:
        """Energy and forces of the current positions, into new state tensors (and the model
        compiled for the slots they fit in)."""
        while True:
            self.most_pairs.zero_()
            self.energy_t, self.forces = self._forces(self.positions)
            if not self._overflowed():
                break
        if self.use_compiled and self.compiled_forces is None:     # (compiled runs have fixed slots)
            self._compile()

    def _model_input(self, positions: torch.Tensor) -> dict:
        edges, shifts, count = self.neighbours(positions)
        torch.maximum(self.most_pairs, count, out=self.most_pairs)
        data = dict(self.template)
        data[AtomicDataDict.POSITIONS_KEY] = positions.clone()          # the model marks it for autograd
        data[AtomicDataDict.EDGE_INDEX_KEY] = edges
        data[AtomicDataDict.EDGE_CELL_SHIFT_KEY] = shifts
        return data

    def _forces(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        data = self._model_input(positions)
        if self.compiled_forces is not None:
            return self.compiled_forces(data)
        out = self.model(data)
        return (out[AtomicDataDict.TOTAL_ENERGY_KEY].detach().reshape(()),
                out[AtomicDataDict.FORCE_KEY].detach())

    def _compile(self) -> None:
        """Compile the model for the current slots (a failure: the model runs as is, said in the log)."""
        start = time.perf_counter()
        try:
            self.compiled_forces = CompiledForces(self.model, self._model_input(self.positions))
            seconds = time.perf_counter() - start
            message = f"compiled model for {self.neighbours.capacity} neighbour slots in {seconds:.1f} s"
        except Exception as error:
            self.use_compiled = False
            message = f"compiling the model failed ({type(error).__name__}: {str(error)[:300]}); the model runs as is"
        if self.log is not None:
            self.log.write(f"device MD: {message}\n")
            self.log.flush()

    def _target_temperature(self) -> torch.Tensor:
        p = self.protocol
        time_ps = (self.step + 1).to(torch.float64) * (p.timestep_fs / 1000.0)
        ramp = torch.clamp(time_ps / p.ramp_ps, max=1.0) if p.ramp_ps > 0 else torch.ones_like(time_ps)
        return p.T_start + (p.T_end - p.T_start) * ramp

    def _step(self) -> None:
        """B A O A B, in place on the state tensors (what a CUDA graph replays)."""
        p, x = self.momenta, self.positions
        p.add_(self.forces, alpha=self.half_dt)
        x.add_(p / self.masses, alpha=self.half_dt)
        p.mul_(self.c1).add_(self.noise_scale * torch.sqrt(self._target_temperature()) * self.noise(self.step))
        p.sub_(self.mass_fraction * p.sum(0))                               # centre of mass at rest
        x.add_(p / self.masses, alpha=self.half_dt)
        self._wrap(x)
        energy, forces = self._forces(x)
        self.energy_t.copy_(energy)
        self.forces.copy_(forces)
        p.add_(self.forces, alpha=self.half_dt)
        self.step.add_(1)

    def _wrap(self, x: torch.Tensor) -> None:
        x.sub_(torch.floor(x @ self.inverse_cell) @ self.cell_t)

    def _state(self) -> list[torch.Tensor]:
        return [self.positions, self.momenta, self.forces, self.energy_t, self.step]

    def _snapshot(self) -> list[torch.Tensor]:
        return [t.clone() for t in self._state()]

    def _restore(self, saved: list[torch.Tensor]) -> None:
        for tensor, value in zip(self._state(), saved):
            tensor.copy_(value)

    def _capture(self) -> None:
        """Record one step as a CUDA graph (after warm-up steps whose effect is undone)."""
        saved = self._snapshot()
        try:
            if self.positions.device.type != "cuda":  # where CUDA is there, capturing CPU work "succeeds", empty
                raise RuntimeError(f"CUDA graphs need the model on a CUDA device, not {self.positions.device}")
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    self._step()
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._step()
            self.graph = graph
        except Exception as error:  # e.g. an operation that syncs with the host: run eagerly
            self.graph = None
            if self.log is not None:
                self.log.write(f"CUDA graph capture failed ({type(error).__name__}: {error}); stepping eagerly\n")
        self._restore(saved)
        if self.log is not None:
            self.log.write(f"device MD: {'CUDA graph' if self.graph else 'eager'} steps, "
                           f"{self.neighbours.capacity} neighbour slots\n")
            self.log.flush()

    # --- the stepper interface of md_stability.run ----------------------------------------
    def advance(self, n_steps: int) -> None:
        """n_steps steps; the host's `atoms` then hold the new positions and momenta."""
        saved = self._snapshot() if self.neighbours.capacity is not None else None  # fixed slots may overflow
        while True:
            self.most_pairs.zero_()
            for _ in range(n_steps):
                if self.graph is not None:
                    self.graph.replay()
                else:
                    self._step()
            if not self._overflowed():
                break
            self._restore(saved)                                   # pairs were dropped: again, with room
            self._first_forces()
            if self.use_graphs:
                self._capture()
        self.atoms.set_positions(self.positions.cpu().numpy())
        self.atoms.set_momenta(self.momenta.cpu().numpy())

    @property
    def energy(self) -> float:
        return float(self.energy_t.item())

    def forces_finite(self) -> bool:
        return bool(torch.isfinite(self.forces).all().item())

    def rng_state(self) -> dict:
        return {"step": int(self.step.item())}
