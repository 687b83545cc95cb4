"""Scripts run by hand: `mock_snakemake` gives a script the object its rule's job would get."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ase.io
import pytest

from synpretrain.layout import Layout, ModelId
from synpretrain.mock import mock_snakemake, wildcards_from_argv

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "tests" / "data" / "tiny.yaml"


def test_the_mock_object_is_the_jobs(tmp_path):
    model = ModelId("finetune", 4, source="lcbop", npre=8, target="c-real", seed=1)
    job = mock_snakemake("finetune", configfiles=[TINY], workdir=tmp_path,
                         source="lcbop", npre=8, target="c-real", n=4, seed=1)
    assert list(job.output) == [model.package("results"), model.summary("results"), model.eval_file("results", "c-real")]
    assert job.input.parent == model.parent.package("results")
    assert job.input.test == Layout().labels("c-real", "xtb", "test")
    assert job.params.eval_meta["n"] == 4 and job.params.stage == "finetune"
    assert job.log[0] == model.log("results") and job.threads == 1 and job.config["scale"] == "test"
    with pytest.raises(ValueError, match="needs the wildcards"):
        mock_snakemake("finetune", configfiles=[TINY], workdir=tmp_path, source="lcbop")


def test_wildcards_on_the_command_line():
    assert wildcards_from_argv(["dataset=c-synth", "chunk=0"]) == {"dataset": "c-synth", "chunk": "0"}
    with pytest.raises(SystemExit, match="key=value"):
        wildcards_from_argv(["c-synth"])


def test_a_script_runs_by_hand(tmp_path):
    """generate_trajectory.py outside Snakemake writes what its rule declares."""
    script = REPO / "workflow" / "scripts" / "generate_trajectory.py"
    result = subprocess.run([sys.executable, str(script), f"configfile={TINY}", "dataset=c-synth",
                             "density=1.5", "temperature=3000"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    frames = ase.io.read(tmp_path / Layout().trajectory("c-synth", 1.5, 3000), ":")
    assert len(frames) > 5 and frames[0].info["density"] == 1.5 and len(frames[0]) == 16
    assert (tmp_path / "results/logs/generate/c-synth/density-1.5-T-3000.log").exists()
