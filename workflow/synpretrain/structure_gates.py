"""Quality gates on generated structures: a frame that cannot be physical never reaches a dataset.

A frame passes when its positions and cell are finite, no two atoms are closer than their pair's
minimum distance (default `covalent_factor` x the sum of ASE's covalent radii; a number or a
per-pair dict overrides it) and its mass density equals its run's density within 1% and lies in
the dataset's range of densities (a corrupted cell fails).  One function, `failure`, judges a
frame: generation fails a trajectory of which more than `max_fail_fraction` fails, before anything
is written (`check_trajectory`); assembly drops the failing frames and counts them in split.json
(`Tally`).  Set per dataset in `generate.gates` (config/README.md).
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list

from .generation import mass_density, pair_table

DEFAULTS = {
    "min_distance": None,        # Å, a number for every pair or {A-B: Å}; None: covalent_factor
    "covalent_factor": 0.5,      # x (r_a + r_b), ASE's covalent radii: C-C 0.76 Å, Si-C 0.935, Si-Si 1.11
    "max_fail_fraction": 0.2,    # of one trajectory's frames, beyond which its generation fails
}
DENSITY_TOLERANCE = 0.01         # relative: the cell's density against the run's, and the range
N_EXAMPLES = 5                   # failing frames listed in split.json


class StructureGateError(ValueError):
    """A generated trajectory of which more frames fail the gates than `max_fail_fraction` allows."""


@dataclasses.dataclass(frozen=True)
class Failure:
    """Why a frame fails: `reason` is what drops are counted by ("min_distance C-C", "density", ...)."""

    reason: str
    detail: str
    pair: str | None = None
    distance: float | None = None

    def record(self, file: str, frame: int) -> dict:
        out = {"file": str(file), "frame": int(frame), "reason": self.reason, "detail": self.detail}
        if self.pair is not None:
            out.update(pair=self.pair, distance=round(float(self.distance), 4))
        return out


class Gates:
    """The gates of one dataset: its `generate.gates` block over DEFAULTS, and its densities."""

    def __init__(self, gates: Mapping | None = None, densities: Sequence[float] | None = None):
        unknown = set(gates or {}) - set(DEFAULTS)
        if unknown:
            raise KeyError(f"generate.gates: unknown key(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
        self.settings = {**DEFAULTS, **{k: v for k, v in (gates or {}).items() if v is not None}}
        given = self.settings["min_distance"]
        self._table = pair_table(given) if isinstance(given, Mapping) else {}
        self._all_pairs = None if given is None or isinstance(given, Mapping) else float(given)
        self.density_range = (min(densities), max(densities)) if densities else None
        self._limits: dict[tuple[str, ...], np.ndarray] = {}

    @classmethod
    def of(cls, spec: Mapping) -> "Gates":
        """The gates of a dataset spec (`source: generate`)."""
        generate = spec["generate"]
        return cls(generate.get("gates"), generate.get("densities"))

    def pair_limit(self, a: str, b: str) -> float:
        """Minimum distance (Å) between elements `a` and `b`."""
        if self._all_pairs is not None:
            return self._all_pairs
        given = self._table.get(frozenset((a, b)))
        if given is not None:
            return given
        radius = covalent_radii[Atoms([a, b]).numbers]
        return float(self.settings["covalent_factor"]) * float(radius.sum())

    def limits(self, species: tuple[str, ...]) -> np.ndarray:
        if species not in self._limits:
            self._limits[species] = np.array([[self.pair_limit(a, b) for b in species] for a in species])
        return self._limits[species]

    def failure(self, atoms: Atoms, density: float | None = None) -> Failure | None:
        """Why `atoms` fails the gates, None if it passes.  `density`: the run's requested density
        (g/cm3; default the frame's `density` info key)."""
        if not np.all(np.isfinite(atoms.positions)):
            return Failure("non-finite positions", f"{int((~np.isfinite(atoms.positions)).any(axis=1).sum())} "
                           "atoms with NaN or infinite coordinates")
        cell = np.asarray(atoms.cell[:])
        if not np.all(np.isfinite(cell)):
            return Failure("non-finite cell", f"cell {cell.tolist()}")
        if atoms.pbc.all():
            if not atoms.get_volume() > 0:
                return Failure("density", f"cell {cell.tolist()} has no volume")
            actual = mass_density(atoms)
            requested = density if density is not None else atoms.info.get("density")
            if requested is not None and abs(actual / float(requested) - 1) > DENSITY_TOLERANCE:
                return Failure("density", f"the cell's density {actual:.4f} g/cm3 is not the run's "
                               f"{float(requested):g} g/cm3 (±{DENSITY_TOLERANCE:.0%})")
            if self.density_range is not None:
                low, high = self.density_range
                if not low * (1 - DENSITY_TOLERANCE) <= actual <= high * (1 + DENSITY_TOLERANCE):
                    return Failure("density", f"the cell's density {actual:.4f} g/cm3 is outside the "
                                   f"dataset's densities {low:g}-{high:g} g/cm3")
        return self._too_close(atoms)

    def _too_close(self, atoms: Atoms) -> Failure | None:
        symbols = atoms.get_chemical_symbols()
        species = tuple(sorted(set(symbols)))
        limits = self.limits(species)
        if len(atoms) < 2 or not limits.max() > 0:
            return None
        kind = np.searchsorted(species, symbols)
        first, second, distance = neighbor_list("ijd", atoms, float(limits.max()))
        short = distance < limits[kind[first], kind[second]]
        if not short.any():
            return None
        k = np.flatnonzero(short)[np.argmin(distance[short])]   # the closest offending pair
        i, j = int(first[k]), int(second[k])
        pair = "-".join(sorted((symbols[i], symbols[j])))
        limit = limits[kind[i], kind[j]]
        return Failure(f"min_distance {pair}", f"{pair} distance {distance[k]:.3f} Å between atoms {min(i, j)} "
                       f"and {max(i, j)}, below the minimum {limit:.3f} Å", pair, float(distance[k]))


def describe(frame: int, atoms: Atoms, failure: Failure) -> str:
    time = atoms.info.get("time")
    return f"frame {frame}{'' if time is None else f' (time {time:g} ps)'}: {failure.detail}"


def check_trajectory(frames: Sequence[Atoms], gates: Gates, density: float, where: str) -> list[tuple[int, Failure]]:
    """The failing frames of one generated trajectory, as (index, Failure); raise StructureGateError
    naming `where` (dataset, density, temperature), the first failing frame, its pair and distance
    when more than `max_fail_fraction` of the frames fail."""
    failed = [(i, f) for i, atoms in enumerate(frames) if (f := gates.failure(atoms, density)) is not None]
    limit = gates.settings["max_fail_fraction"]
    if failed and len(failed) > limit * len(frames):
        first, failure = failed[0]
        counts = ", ".join(f"{reason} {n}" for reason, n in sorted(Counter(f.reason for _, f in failed).items()))
        raise StructureGateError(
            f"{where}: {len(failed)} of {len(frames)} frames fail the structure gates, more than "
            f"generate.gates.max_fail_fraction = {limit:g} allows ({counts}); first: "
            f"{describe(first, frames[first], failure)}.  The driving potential lets atoms collapse "
            "(or the cell broke): nothing was written")
    return failed


class Tally:
    """Assembly's use of the gates: `keep` judges a frame and counts it when it fails; `summary`
    is split.json's `gates` entry."""

    def __init__(self, gates: Gates):
        self.gates = gates
        self.checked = 0
        self.reasons: Counter = Counter()
        self.examples: list[dict] = []

    def keep(self, atoms: Atoms, file: str, frame: int) -> bool:
        self.checked += 1
        failure = self.gates.failure(atoms)
        if failure is None:
            return True
        self.reasons[failure.reason] += 1
        if len(self.examples) < N_EXAMPLES:
            self.examples.append(failure.record(file, frame))
        return False

    @property
    def dropped(self) -> int:
        return sum(self.reasons.values())

    def summary(self) -> dict:
        return {"checked": self.checked, "dropped": self.dropped, "reasons": dict(sorted(self.reasons.items())),
                "examples": self.examples, "settings": self.gates.settings}
