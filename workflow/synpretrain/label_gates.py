"""Quality gates on labels: drop structures whose energy or forces cannot be right, and fail a job
that drops too many.

Two gates, set per labeller in `labellers.<name>.gates` (config/README.md):
- absolute caps, per structure, where a chunk is labelled: |E/atom| (isolated-atom referenced) and
  the largest per-atom force magnitude max_i |F_i|;
- robust bounds from the whole split, where the chunks are merged: E/atom within median ± k·MAD and
  max_i |F_i| at most median + k·MAD (a large force is the only suspicious side), each over the
  split's structures that passed the caps.
Every drop is listed with its source index, reason and gate (`labeller_error`, `non_finite` from
synpretrain.labelling, `energy_cap`, `force_cap`, `energy_outlier`, `force_outlier`); `drop_counts`
sums them per gate.

`python -m synpretrain.label_gates FILE.extxyz ...` prints each labelled file's statistics and the
k each gate would need to drop its most extreme structure (how the defaults were chosen).
"""
from __future__ import annotations

import os
from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from .extxyz_stream import blocks
from .io import atomic_path

DEFAULTS = {
    "max_energy_per_atom": 100.0,   # eV/atom, |E - sum E_iso| / N
    "max_force": 1000.0,            # eV/Angstrom, max_i |F_i|
    "energy_mad_k": 50.0,
    "force_mad_k": 100.0,
    "max_drop_fraction": 0.1,
}
# A median and MAD of fewer structures are no robust estimate: small splits get the caps only.
ROBUST_MIN_STRUCTURES = 20
# A split of near-identical structures has a MAD near 0; a bound of k * MAD would then drop
# ordinary ones.  The MAD used is at least this.
MAD_FLOOR = {"energy_per_atom": 0.1, "max_force": 1.0}   # eV/atom, eV/Angstrom


class LabelGateError(RuntimeError):
    """A labelling job dropped more structures than its labeller's `max_drop_fraction` allows."""


def settings(name: str, options: dict) -> dict:
    """A labeller's gates: its `gates` block over DEFAULTS (null switches a gate off)."""
    gates = options.get("gates") or {}
    unknown = set(gates) - set(DEFAULTS)
    if unknown:
        raise KeyError(f"labellers.{name}.gates: unknown key(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **gates}


def measures(energy: float, forces: np.ndarray) -> tuple[float, float]:
    """(energy per atom, largest per-atom force magnitude) of one labelled structure."""
    forces = np.asarray(forces, dtype=float).reshape(-1, 3)
    if not len(forces):
        return float(energy), 0.0
    return float(energy) / len(forces), float(np.linalg.norm(forces, axis=1).max())


def cap_drop(index: int, energy_per_atom: float, max_force: float, gates: dict) -> dict | None:
    """The drop record of a structure beyond the absolute caps, None if within them."""
    cap_e, cap_f = gates["max_energy_per_atom"], gates["max_force"]
    if cap_e is not None and abs(energy_per_atom) > cap_e:
        return drop(index, "energy_cap", f"|E/atom| = {abs(energy_per_atom):.6g} eV/atom > "
                    f"max_energy_per_atom {cap_e:g}", energy_per_atom, max_force)
    if cap_f is not None and max_force > cap_f:
        return drop(index, "force_cap", f"max |F| = {max_force:.6g} eV/A > max_force {cap_f:g}",
                    energy_per_atom, max_force)
    return None


def drop(index: int, gate: str, reason: str, energy_per_atom: float | None = None,
         max_force: float | None = None) -> dict:
    record = {"index": int(index), "reason": reason, "gate": gate}
    if energy_per_atom is not None and max_force is not None:
        record.update(energy_per_atom=float(energy_per_atom), max_force=float(max_force))
    return record


def drop_counts(dropped: Iterable[dict]) -> dict[str, int]:
    return dict(sorted(Counter(d.get("gate", "labeller_error") for d in dropped).items()))


def robust_bounds(values: Sequence[float], k: float | None, floor: float) -> dict:
    """median, MAD (raw, not scaled to a Gaussian sigma) and median ± k·max(MAD, floor)."""
    values = np.asarray(values, dtype=float)
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median)))
    scale = max(mad, floor)
    bounds = {"median": median, "mad": mad}
    if k is not None:
        bounds.update(low=median - k * scale, high=median + k * scale)
    return bounds


def robust_drops(kept: dict, gates: dict) -> tuple[list[dict], dict]:
    """Drops of the structures in `kept` ({"index", "energy_per_atom", "max_force"} lists, the
    whole split) outside the robust bounds, and the bounds; no bounds below ROBUST_MIN_STRUCTURES."""
    n = len(kept["index"])
    if n < ROBUST_MIN_STRUCTURES:
        return [], {"skipped": f"{n} structures, fewer than {ROBUST_MIN_STRUCTURES}"}
    energy = robust_bounds(kept["energy_per_atom"], gates["energy_mad_k"], MAD_FLOOR["energy_per_atom"])
    force = robust_bounds(kept["max_force"], gates["force_mad_k"], MAD_FLOOR["max_force"])
    force.pop("low", None)
    dropped = []
    for index, e, f in zip(kept["index"], kept["energy_per_atom"], kept["max_force"]):
        if "low" in energy and not energy["low"] <= e <= energy["high"]:
            dropped.append(drop(index, "energy_outlier", f"E/atom = {e:.6g} eV/atom outside median ± "
                                f"{gates['energy_mad_k']:g} MAD [{energy['low']:.6g}, {energy['high']:.6g}]", e, f))
        elif "high" in force and f > force["high"]:
            dropped.append(drop(index, "force_outlier", f"max |F| = {f:.6g} eV/A above median + "
                                f"{gates['force_mad_k']:g} MAD = {force['high']:.6g}", e, f))
    return dropped, {"energy_per_atom": energy, "max_force": force}


def worst(dropped: Sequence[dict], reference: dict | None = None) -> dict:
    """The dropped structure farthest from the median of `reference` (lists of energy_per_atom and
    max_force; default the dropped ones themselves), in MADs; one without values only if none has them."""
    measured = [d for d in dropped if "energy_per_atom" in d]
    if not measured:
        return dropped[0]
    reference = reference if reference and len(reference["energy_per_atom"]) else {
        "energy_per_atom": [d["energy_per_atom"] for d in measured], "max_force": [d["max_force"] for d in measured]}

    def distance(key):
        bounds = robust_bounds(reference[key], None, MAD_FLOOR[key])
        return lambda d: abs(d[key] - bounds["median"]) / max(bounds["mad"], MAD_FLOOR[key])

    energy, force = distance("energy_per_atom"), distance("max_force")
    return max(measured, key=lambda d: max(energy(d), force(d)))


def describe(record: dict) -> str:
    if "energy_per_atom" in record:
        return (f"structure {record['index']}: E/atom {record['energy_per_atom']:.6g} eV/atom, "
                f"max |F| {record['max_force']:.6g} eV/A ({record['reason']})")
    return f"structure {record['index']}: {record['reason']}"


def check_drop_fraction(what: str, name: str, n_input: int, dropped: Sequence[dict], gates: dict,
                        reference: dict | None = None) -> None:
    """Raise LabelGateError when `dropped` is more than `max_drop_fraction` of `n_input`;
    `what` names the job (labeller, dataset, split, chunk)."""
    limit = gates["max_drop_fraction"]
    if limit is None or not dropped or len(dropped) <= limit * n_input:
        return
    counts = ", ".join(f"{gate} {n}" for gate, n in drop_counts(dropped).items())
    raise LabelGateError(
        f"{what}: {len(dropped)} of {n_input} structures dropped ({len(dropped) / n_input:.0%}), more than "
        f"labellers.{name}.gates.max_drop_fraction = {limit:g} allows ({counts}); worst: "
        f"{describe(worst(dropped, reference))}")


def filter_blocks(parts: Sequence[str | os.PathLike], keep: Sequence[Sequence[bool]],
                  path: str | os.PathLike) -> None:
    """Join extxyz files into `path`, atomically, keeping frame j of parts[i] where keep[i][j]: the
    frames are copied as text (extxyz_stream.blocks), never built into Atoms."""
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        for part, flags in zip(parts, keep):
            n_frames = 0
            with open(part, "rb") as handle:
                for n_frames, block in enumerate(blocks(handle, str(part)), start=1):
                    if n_frames <= len(flags) and flags[n_frames - 1]:
                        out.write(block.text)
            if n_frames != len(flags):
                raise ValueError(f"{part}: {n_frames} frames, but its chunk summary lists {len(flags)} kept")


def needed_k(energy_per_atom: Sequence[float], max_force: Sequence[float]) -> dict:
    """Statistics of one label set and the smallest k at which its robust bounds would drop a structure."""
    e, f = np.asarray(energy_per_atom, dtype=float), np.asarray(max_force, dtype=float)
    energy = robust_bounds(e, None, MAD_FLOOR["energy_per_atom"])
    force = robust_bounds(f, None, MAD_FLOOR["max_force"])
    return {"n": len(e), "energy_min": float(e.min()), "energy_max": float(e.max()), "energy_median": energy["median"],
            "energy_mad": energy["mad"], "force_median": force["median"], "force_mad": force["mad"],
            "force_max": float(f.max()),
            "energy_k": float(np.abs(e - energy["median"]).max() / max(energy["mad"], MAD_FLOOR["energy_per_atom"])),
            "force_k": float((f - force["median"]).max() / max(force["mad"], MAD_FLOOR["max_force"]))}


if __name__ == "__main__":
    import sys

    from .io import read_extxyz

    for path in sys.argv[1:]:
        frames = read_extxyz(path)
        values = [measures(a.get_potential_energy(), a.get_forces()) for a in frames]
        if values:
            s = needed_k(*zip(*values))
            print(f"{path}: n {s['n']}, E/atom [{s['energy_min']:.3f}, {s['energy_max']:.3f}] median "
                  f"{s['energy_median']:.3f} MAD {s['energy_mad']:.3f} (k {s['energy_k']:.1f}); max |F| median "
                  f"{s['force_median']:.2f} MAD {s['force_mad']:.2f} max {s['force_max']:.1f} (k {s['force_k']:.1f})")
