"""The example configs: each plans, and a tiny version of the SiC example runs end to end (the real
DAG: Tersoff-driven Si-C structures, Tersoff + CHGNet synthetic labels, GFN1-xTB "real" labels,
pre-training, fine-tuning, direct training, learning curves and Table 1)."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from synpretrain import nequip_config

from test_workflow import planned_jobs, snakemake

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "config" / "examples").glob("*.yaml"))
pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("configfile", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_plans(tmp_path, configfile):
    (tmp_path / "resources").symlink_to(REPO / "resources")   # paths are relative to where snakemake runs
    jobs = planned_jobs(snakemake(tmp_path, "-n", "all", configfile=configfile))
    assert jobs["fig3"] == 1 and jobs["table1"] == 1 and jobs["finetune"] > 0 and jobs["direct"] > 0


def tiny_sic(path: Path) -> Path:
    """config/examples/sic.yaml at the smallest numbers that still run every stage."""
    config = yaml.safe_load((REPO / "config" / "examples" / "sic.yaml").read_text())
    for name, spec in config["datasets"].items():
        spec["generate"].update(n_atoms=8, melt_ps=1, quench_ps=1, anneal_ps=5)
        spec["min_time"] = 2
        spec["split"] = {"test_size": 2, "val_size": 2}
    config["datasets"]["sic-synth"]["generate"].update(densities=[2.6, 3.2], anneal_temperatures=[2600])
    config["datasets"]["sic-real"]["generate"].update(densities=[2.9, 3.1])
    config["experiments"]["fig3"].update(pretrain_sizes=[6], sizes=[2, 4], seeds=[1, 2])
    config["model"].update(num_layers=1, num_features=4, r_max=3.0)
    config["training"].update(max_epochs=2, finetune={"batch_size": 2, "max_epochs": 2},
                              direct={"batch_size": 2, "max_epochs": 2})
    path.write_text(yaml.safe_dump(config))
    return path


def test_tiny_sic_example_runs_end_to_end(tmp_path):
    result = snakemake(tmp_path, "all", configfile=tiny_sic(tmp_path / "sic.yaml"))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    results = tmp_path / "results"
    assert (results / "fig3.pdf").read_bytes()[:5] == b"%PDF-"
    table = pd.read_csv(results / "tables" / "table1.csv", index_col="n")
    assert list(table.columns) == ["Direct", "Tersoff (SiC)", "CHGNet"] and list(table.index) == [2, 4]
    for cell in table.to_numpy().ravel():
        assert re.match(r"^[\d.]+ ± [\d.]+\*?†?$", cell), cell
    import ase.io

    frames = ase.io.read(results / "labels/sic-synth/chgnet/train.extxyz", ":")
    assert all(set(a.get_chemical_symbols()) == {"Si", "C"} for a in frames)
    training = yaml.safe_load((results / "models/pretrain/chgnet/n6/config.yaml").read_text())
    assert nequip_config.trained_model(training)["type_names"] == ["C", "Si"]     # both elements, sorted
