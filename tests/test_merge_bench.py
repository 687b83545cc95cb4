"""Bench JSONs of one GPU session, merged for the forecast (tests/benchmarks/merge_bench.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synpretrain.ledger import forecast
from test_ledger import small_config

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests/benchmarks"))
from merge_bench import merge  # noqa: E402

COMMON = {"device": "GPU X", "model": {"r_max": 4.0}, "atoms": 200, "train": 500, "val": 50, "epochs": 3,
          "workers": 4, "tf32": False}
TRAINING = {**COMMON, "prepare_s": 13.0, "total_s": 200.0, "errors": {"cases:packed": "no MPS daemon"}, "md": [],
            "cases": [{"case": "packed2-oeq", "jobs": 2, "kernel": "openequivariance",
                       "structures_per_s_per_job": 125.0},
                      {"case": "small-oeq", "jobs": 1, "kernel": "openequivariance", "fixed_s": 18.0}]}
MD = {**COMMON, "prepare_s": 0.0, "total_s": 100.5, "errors": {},
      "cases": [{"case": "small", "jobs": 1, "kernel": "e3nn", "fixed_s": 30.0}],
      "md": [{"engine": "torch on cuda", "jobs": 1, "steps_per_s": 300.0},
             {"engine": "torch on cuda", "jobs": 2, "steps_per_s": 250.0}]}


def test_merged_parts_forecast_as_one_bench_run_of_all_cases():
    merged = merge({"oeq.json": TRAINING, "md.json": MD}, note="one session")
    whole = {**COMMON, "cases": TRAINING["cases"] + MD["cases"], "md": MD["md"]}
    config = small_config(k=2)
    config["experiments"]["fig4"] = {"target": "real", "sources": ["a"], "pretrain_sizes": [200], "sizes": [10],
                                     "seeds": [1]}
    config["figures"] = {"fig4": {"md_seed": 1}}
    config["md"] = {"engine": "torch", "ramp_ps": 1, "hold_ps": 2, "timestep_fs": 1.0}
    config["training"]["kernel"] = "auto"
    pd_merged, pd_whole = forecast(config, merged), forecast(config, whole)
    assert pd_merged.equals(pd_whole)
    table = pd_merged.set_index(["scope", "name"])
    assert table.loc[("stage", "MD stability"), "gpu_hours_max"] == pytest.approx(2 * 3000 / 250 / 3600 / 2)
    assert merged["errors"] == {"oeq.json: cases:packed": "no MPS daemon"}
    assert merged["prepare_s"] == 13.0 and merged["total_s"] == 300.5 and merged["note"] == "one session"
    assert merged["sources"] == ["oeq.json", "md.json"]


def test_parts_of_other_models_or_with_a_case_twice_are_refused():
    with pytest.raises(ValueError, match=r"md.json: atoms = 64, but oeq.json has 200"):
        merge({"oeq.json": TRAINING, "md.json": {**MD, "atoms": 64}})
    with pytest.raises(ValueError, match="case names measured twice: small-oeq"):
        merge({"a.json": TRAINING, "b.json": {**TRAINING, "cases": TRAINING["cases"][1:]}})


def test_the_command_skips_a_missing_part_and_writes_the_merge(tmp_path):
    (tmp_path / "oeq.json").write_text(json.dumps(TRAINING))
    (tmp_path / "md.json").write_text(json.dumps({**MD, "device": "GPU Y"}))
    run = [sys.executable, str(REPO / "tests/benchmarks/merge_bench.py"), "--out", str(tmp_path / "gpu.json")]
    done = subprocess.run(run + [str(tmp_path / "oeq.json"), str(tmp_path / "e3nn.json")], capture_output=True,
                          text=True, check=True)
    assert "e3nn.json missing, skipped" in done.stdout
    assert [c["case"] for c in json.loads((tmp_path / "gpu.json").read_text())["cases"]] == ["packed2-oeq", "small-oeq"]
    refused = subprocess.run(run + [str(tmp_path / "oeq.json"), str(tmp_path / "md.json")], capture_output=True,
                             text=True)
    assert refused.returncode == 1 and "device = 'GPU Y', but" in refused.stderr
