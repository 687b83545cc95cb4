"""Label structures with one labeller: energies referenced to its isolated atoms, forces as is.

Synthetic energies become E - sum_i E_iso(Z_i), where E_iso is the same labeller's energy of one
isolated atom in a box with 20 Angstrom of vacuum (docs/protocol.md).  A structure on which the labeller
fails (an exception, e.g. SCC not converged, or a non-finite result) or whose labels exceed the
labeller's absolute caps is dropped and recorded with its index and the reason; zeros are never
written in its place.  Merging a split's chunks drops its robust outliers (synpretrain.label_gates).
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Iterable

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from . import label_gates
from .io import concatenate, with_labels
from .labellers import isolated_atom


@dataclasses.dataclass
class LabelResult:
    frames: list[Atoms]
    dropped: list[dict]            # {"index": i, "reason": "...", "gate": ...} (label_gates.drop)
    e_iso: dict[str, float]        # eV per element
    # per kept frame, in order: source index, E/atom, max |F| (what merge_labels' robust bounds need)
    kept: dict[str, list] = dataclasses.field(
        default_factory=lambda: {"index": [], "energy_per_atom": [], "max_force": []})

    def summary(self) -> dict:
        return {"n_labelled": len(self.frames), "n_dropped": len(self.dropped), "dropped": self.dropped,
                "drop_counts": label_gates.drop_counts(self.dropped), "e_iso": self.e_iso, "kept": self.kept}


def chunk_bounds(n_total: int, n_chunks: int, chunk: int) -> tuple[int, int]:
    """[start, stop) of chunk `chunk` when n_total structures are cut into n_chunks near-equal parts."""
    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} is not in 0..{n_chunks - 1}")
    return n_total * chunk // n_chunks, n_total * (chunk + 1) // n_chunks


def isolated_atom_energies(calc: Calculator, symbols: Iterable[str], vacuum: float = 20.0) -> dict[str, float]:
    energies = {}
    for symbol in sorted(set(symbols)):
        atom = isolated_atom(symbol, vacuum)
        atom.calc = calc
        energies[symbol] = float(atom.get_potential_energy())
        if not np.isfinite(energies[symbol]):
            raise RuntimeError(f"isolated {symbol} atom energy is not finite: {energies[symbol]}")
    return energies


def reference_energy(atoms: Atoms, e_ref: dict[str, float]) -> float:
    """sum over atoms of the per-element reference energy."""
    counts = Counter(atoms.get_chemical_symbols())
    missing = set(counts) - set(e_ref)
    if missing:
        raise KeyError(f"no reference energy for element(s) {sorted(missing)}")
    return float(sum(n * e_ref[s] for s, n in counts.items()))


def label(frames: list[Atoms], calc: Calculator, e_iso: dict[str, float], first_index: int = 0,
          progress=None, gates: dict | None = None) -> LabelResult:
    """Label `frames` (their global indices start at `first_index`) with `calc`; drop those beyond
    the absolute caps of `gates` (default label_gates.DEFAULTS)."""
    gates = label_gates.DEFAULTS if gates is None else gates
    result = LabelResult([], [], e_iso)
    labelled, dropped = result.frames, result.dropped
    for offset, atoms in enumerate(frames):
        index = first_index + offset
        work = atoms.copy()
        work.calc = calc
        try:
            energy = float(work.get_potential_energy())
            forces = np.array(work.get_forces(), dtype=float)
        except Exception as error:  # any labeller failure drops this structure, never the job
            dropped.append(label_gates.drop(index, "labeller_error", f"{type(error).__name__}: {error}"[:300]))
        else:
            if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
                dropped.append(label_gates.drop(index, "non_finite", "non-finite energy or forces"))
            else:
                energy -= reference_energy(atoms, e_iso)
                per_atom, max_force = label_gates.measures(energy, forces)
                capped = label_gates.cap_drop(index, per_atom, max_force, gates)
                if capped:
                    dropped.append(capped)
                else:
                    frame = with_labels(atoms, energy, forces)
                    frame.info["source_index"] = index
                    labelled.append(frame)
                    result.kept["index"].append(index)
                    result.kept["energy_per_atom"].append(per_atom)
                    result.kept["max_force"].append(max_force)
        if progress is not None:
            progress.update(1)
    return result


def merge(frames: list[str], summaries: list[dict], gates: dict, name: str, what: str, out: str) -> dict:
    """Join the chunks' labelled frames (`frames`, their `summaries`) into `out`, less the split's
    robust outliers (label_gates.robust_drops); the split's summary.  Without outliers the chunks
    are concatenated as they are; raises LabelGateError, writing nothing, when the split lost more
    than `max_drop_fraction` (`what` names the split in the message, `name` the labeller)."""
    kept = {key: [v for s in summaries for v in s["kept"][key]] for key in ("index", "energy_per_atom", "max_force")}
    outliers, bounds = label_gates.robust_drops(kept, gates)
    for drop in outliers:
        print(f"DROPPED structure {drop['index']}: {drop['reason']}", flush=True)
    dropped = sorted([d for s in summaries for d in s["dropped"]] + outliers, key=lambda d: d["index"])
    n_input = sum(s["n_input"] for s in summaries)
    label_gates.check_drop_fraction(what, name, n_input, dropped, gates, kept)
    if outliers:
        gone = {d["index"] for d in outliers}
        label_gates.filter_blocks(frames, [[i not in gone for i in s["kept"]["index"]] for s in summaries], out)
    else:
        concatenate(frames, out)
    return {"labeller": summaries[0]["labeller"], "backend": summaries[0].get("backend"),
            "e_iso": {k: v for s in summaries for k, v in s["e_iso"].items()},
            "n_input": n_input, "n_labelled": len(kept["index"]) - len(outliers), "n_dropped": len(dropped),
            "dropped": dropped, "drop_counts": label_gates.drop_counts(dropped), "gates": gates, "bounds": bounds}
