"""Quality gates on labels: garbage is dropped and counted, too many drops fail the job, a normal
split passes byte for byte."""
import json
import runpy
import types
from pathlib import Path

import numpy as np
import pytest
import yaml
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from synpretrain import label_gates, labellers
from synpretrain.io import concatenate, read_extxyz, write_extxyz
from synpretrain.label_gates import DEFAULTS, LabelGateError, check_drop_fraction, robust_bounds
from synpretrain.labelling import label, merge

REPO = Path(__file__).resolve().parents[1]
E_ISO = {"C": -1.0}


class GarbageCalculator(Calculator):
    """Ordinary labels (E/atom = -7 + tag/20 eV over E_iso, forces of a few eV/A), except where the
    structure's `garbage` info says: "energy" (1e12 eV), "negative" (-3.5e12 eV/atom), "force" (4e4 eV/A)."""

    implemented_properties = ["energy", "forces"]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        n, tag = len(self.atoms), self.atoms.info.get("tag", 0)
        energy = (-7.0 + tag / 20) * n + n * E_ISO["C"]
        forces = np.zeros((n, 3))
        forces[:, 0] = 1.0 + tag / 10
        garbage = self.atoms.info.get("garbage")
        if garbage == "energy":
            energy = 1e12
        elif garbage == "negative":
            energy = -3.5e12 * n
        elif garbage == "force":
            forces[0] = [4e4, 0, 0]
        self.results = {"energy": energy, "forces": forces}


def structures(n, garbage=None, n_atoms=4):
    """n carbon structures, `tag` 0..n-1; `garbage`: {position: kind} for GarbageCalculator."""
    frames = []
    for i in range(n):
        atoms = Atoms("C" * n_atoms, positions=np.eye(n_atoms, 3) * 1.5 + i * 0.01, cell=[8] * 3, pbc=True)
        atoms.info["tag"] = i
        if garbage and i in garbage:
            atoms.info["garbage"] = garbage[i]
        frames.append(atoms)
    return frames


def chunks(tmp_path, frames, n_chunks, gates=DEFAULTS):
    """Label `frames` in `n_chunks` chunks as label_chunk does: their files and summaries."""
    files, summaries = [], []
    bounds = np.linspace(0, len(frames), n_chunks + 1).astype(int)
    for c, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
        result = label(frames[start:stop], GarbageCalculator(), E_ISO, first_index=start, gates=gates)
        files.append(str(tmp_path / f"chunk{c}.extxyz"))
        write_extxyz(files[-1], result.frames)
        summaries.append({**result.summary(), "labeller": "toy", "n_input": stop - start})
    return files, summaries


def test_garbage_labels_are_dropped_and_counted_with_reasons():
    frames = structures(10, {2: "energy", 5: "negative", 7: "force"})
    result = label(frames, GarbageCalculator(), E_ISO, first_index=100)
    assert [d["index"] for d in result.dropped] == [102, 105, 107]
    assert [d["gate"] for d in result.dropped] == ["energy_cap", "energy_cap", "force_cap"]
    assert "max_energy_per_atom 100" in result.dropped[0]["reason"]
    assert result.dropped[1]["energy_per_atom"] == pytest.approx(-3.5e12, rel=1e-6)
    assert result.dropped[2]["max_force"] == pytest.approx(4e4)
    summary = result.summary()
    assert summary["drop_counts"] == {"energy_cap": 2, "force_cap": 1}
    assert summary["kept"]["index"] == [100, 101, 103, 104, 106, 108, 109]
    assert summary["kept"]["energy_per_atom"][1] == pytest.approx(-7.0 + 1 / 20)
    assert summary["kept"]["max_force"][1] == pytest.approx(1.1)
    assert [a.info["source_index"] for a in result.frames] == summary["kept"]["index"]


def test_a_chunk_that_loses_too_many_fails_naming_labeller_split_count_and_worst():
    frames = structures(10, {2: "energy", 5: "negative", 7: "force"})
    result = label(frames, GarbageCalculator(), E_ISO, first_index=100)
    what = "labeller sevennet, dataset c-synth, split train, chunk 0"
    with pytest.raises(LabelGateError) as error:
        check_drop_fraction(what, "sevennet", 10, result.dropped, DEFAULTS, result.kept)
    message = str(error.value)
    assert message.startswith(what) and "3 of 10 structures dropped" in message
    assert "labellers.sevennet.gates.max_drop_fraction = 0.1" in message
    assert "energy_cap 2, force_cap 1" in message
    assert "worst: structure 105: E/atom -3.5e+12 eV/atom, max |F| 1.5 eV/A" in message
    # one drop in ten is allowed, and a looser fraction lets all three through
    check_drop_fraction(what, "sevennet", 10, result.dropped[:1], DEFAULTS, result.kept)
    check_drop_fraction(what, "sevennet", 10, result.dropped, {**DEFAULTS, "max_drop_fraction": 0.3}, result.kept)


def test_a_normal_split_merges_byte_identical_to_the_plain_concatenation(tmp_path):
    files, summaries = chunks(tmp_path, structures(30), 3)
    summary = merge(files, summaries, DEFAULTS, "toy", "labeller toy, dataset d, split train",
                    str(tmp_path / "train.extxyz"))
    concatenate(files, tmp_path / "plain.extxyz")
    assert (tmp_path / "train.extxyz").read_bytes() == (tmp_path / "plain.extxyz").read_bytes()
    assert summary["n_input"] == summary["n_labelled"] == 30 and summary["n_dropped"] == 0
    assert summary["dropped"] == [] and summary["drop_counts"] == {}
    assert "kept" not in summary and summary["bounds"]["energy_per_atom"]["median"] == pytest.approx(-7 + 14.5 / 20)


def test_robust_bound_by_hand():
    values = [1.0, 2.0, 2.0, 3.0, 4.0, 10.0, 2.5]
    # sorted 1 2 2 2.5 3 4 10: median 2.5; |v - 2.5| = 1.5 .5 .5 0 .5 1.5 7.5 -> sorted 0 .5 .5 .5 1.5 1.5 7.5: MAD 0.5
    bounds = robust_bounds(values, 4.0, floor=0.1)
    assert bounds == {"median": 2.5, "mad": 0.5, "low": 0.5, "high": 4.5}
    # the floor takes over when most values are equal
    assert robust_bounds([5.0, 5.0, 5.0, 6.0], 2.0, floor=0.25) == {"median": 5.0, "mad": 0.0, "low": 4.5, "high": 5.5}
    # the k that would drop the farthest: energy (10 - 2.5) / 0.5; force (10 - 2.5) / max(0.5, 1 eV/A floor)
    needed = label_gates.needed_k(values, values)
    assert needed["energy_k"] == pytest.approx(15.0) and needed["force_k"] == pytest.approx(7.5)


def test_merge_drops_the_split_outliers_from_the_text_and_counts_them(tmp_path):
    frames = structures(30)
    # within the caps but far from the rest: E/atom -7 + 50 = 43 and 53 eV/atom, max |F| 101 and 121 eV/A
    frames[4].info["tag"], frames[21].info["tag"] = 1000, 1200
    files, summaries = chunks(tmp_path, frames, 3)
    assert sum(s["n_labelled"] for s in summaries) == 30      # the caps let both through
    summary = merge(files, summaries, DEFAULTS, "toy", "labeller toy, dataset d, split train",
                    str(tmp_path / "train.extxyz"))
    assert [(d["index"], d["gate"]) for d in summary["dropped"]] == [(4, "energy_outlier"), (21, "energy_outlier")]
    assert summary["drop_counts"] == {"energy_outlier": 2} and summary["n_labelled"] == 28
    energy = summary["bounds"]["energy_per_atom"]
    # E/atom = -7 + tag/20: tags 0..29 less 4 and 21, plus 43 and 53 (MAD 0.375 eV/atom, above its floor)
    ordinary = sorted([-7 + t / 20 for t in range(30) if t not in (4, 21)] + [43.0, 53.0])
    median = (ordinary[14] + ordinary[15]) / 2
    mad = np.median(np.abs(np.array(ordinary) - median))
    assert mad > label_gates.MAD_FLOOR["energy_per_atom"]
    assert energy["median"] == pytest.approx(median) and energy["high"] == pytest.approx(median + 50 * mad)
    kept = read_extxyz(tmp_path / "train.extxyz")
    assert [a.info["source_index"] for a in kept] == [i for i in range(30) if i not in (4, 21)]
    assert kept[5].get_potential_energy() == pytest.approx(4 * (-7 + 6 / 20))


def test_a_merge_that_loses_too_many_fails_and_writes_nothing(tmp_path):
    frames = structures(30, {1: "energy", 2: "energy", 3: "force"})
    frames[10].info["tag"] = 1000                 # a robust outlier on top of three capped ones: 4 > 0.1 * 30
    files, summaries = chunks(tmp_path, frames, 2)
    out = tmp_path / "train.extxyz"
    with pytest.raises(LabelGateError, match=r"labeller toy, dataset d, split train: 4 of 30 structures dropped .*"
                                             r"energy_cap 2, energy_outlier 1, force_cap 1\); "
                                             r"worst: structure 1: E/atom 2.5e\+11 eV/atom"):
        merge(files, summaries, DEFAULTS, "toy", "labeller toy, dataset d, split train", str(out))
    assert list(tmp_path.glob("train*")) == [] and list(tmp_path.glob(".train*")) == []


def test_small_splits_get_the_caps_only():
    kept = {"index": [0, 1, 2], "energy_per_atom": [-7.3, -7.29, -6.0], "max_force": [1.0, 1.0, 50.0]}
    dropped, bounds = label_gates.robust_drops(kept, DEFAULTS)
    assert dropped == [] and "fewer than 20" in bounds["skipped"]


def test_gates_settings_take_the_labeller_block_over_the_defaults_and_match_the_schema():
    assert label_gates.settings("x", {"type": "xtb"}) == DEFAULTS
    assert label_gates.settings("x", {"gates": {"max_force": None}})["max_force"] is None
    with pytest.raises(KeyError, match=r"labellers.x.gates: unknown key\(s\) \['max_forse'\]"):
        label_gates.settings("x", {"gates": {"max_forse": 1.0}})
    schema = yaml.safe_load((REPO / "config/schema.yaml").read_text())
    labeller = schema["properties"]["labellers"]["additionalProperties"]
    properties = labeller["properties"]["gates"]["properties"]
    assert {key: spec["default"] for key, spec in properties.items()} == DEFAULTS
    assert all("gates" in branch["then"]["propertyNames"]["enum"] for branch in labeller["allOf"])


class Named(dict):
    """A Snakemake input/output stand-in: keys as attributes."""
    __getattr__ = dict.__getitem__


def run_script(name, tmp_path, **parts):
    job = types.SimpleNamespace(log=[str(tmp_path / f"{name}.log")], threads=1, **parts)
    runpy.run_path(str(REPO / "workflow/scripts" / f"{name}.py"), init_globals={"snakemake": job})


def test_the_scripts_fail_a_garbage_chunk_loudly_and_merge_what_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(labellers, "make_calculator", lambda kind, options: GarbageCalculator())
    write_extxyz(tmp_path / "train.extxyz", structures(24, {3: "negative", 9: "force"}))
    (tmp_path / "split.json").write_text(json.dumps({"counts": {"train": 24}}))
    wildcards = types.SimpleNamespace(dataset="c-synth", labeller="sevennet", split="train")

    def label_chunk(chunk, gates):
        run_script("label_chunk", tmp_path, input=Named(frames=str(tmp_path / "train.extxyz"),
                                                        counts=str(tmp_path / "split.json")),
                   output=Named(frames=str(tmp_path / f"chunk{chunk}.extxyz"),
                                summary=str(tmp_path / f"chunk{chunk}.json")),
                   params=types.SimpleNamespace(options={"type": "sevennet", "gates": gates}, n_chunks=2),
                   wildcards=types.SimpleNamespace(chunk=str(chunk), **vars(wildcards)))

    with pytest.raises((LabelGateError, SystemExit)):
        label_chunk(0, {})                         # 2 of 12 > 0.1
    log = (tmp_path / "label_chunk.log").read_text()
    assert ("labeller sevennet, dataset c-synth, split train, chunk 0 (structures 0..11): 2 of 12 structures dropped"
            in log and "worst: structure 3: E/atom -3.5e+12 eV/atom" in log)
    assert not list(tmp_path.glob("chunk*")) and not list(tmp_path.glob(".chunk*"))
    for chunk in (0, 1):
        label_chunk(chunk, {"max_drop_fraction": 0.2})
    run_script("merge_labels", tmp_path, input=Named(frames=[str(tmp_path / f"chunk{c}.extxyz") for c in (0, 1)],
                                                     summaries=[str(tmp_path / f"chunk{c}.json") for c in (0, 1)]),
               output=Named(frames=str(tmp_path / "labels.extxyz"), summary=str(tmp_path / "labels.json")),
               params=types.SimpleNamespace(gates={"max_drop_fraction": 0.2}), wildcards=wildcards)
    summary = json.loads((tmp_path / "labels.json").read_text())
    assert summary["n_input"] == 24 and summary["n_labelled"] == 22 and summary["drop_counts"] == {
        "energy_cap": 1, "force_cap": 1}
    assert [d["index"] for d in summary["dropped"]] == [3, 9] and summary["gates"]["max_drop_fraction"] == 0.2
    assert [a.info["source_index"] for a in read_extxyz(tmp_path / "labels.extxyz")] == [
        i for i in range(24) if i not in (3, 9)]
