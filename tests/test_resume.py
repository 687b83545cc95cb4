"""A training job killed mid-way resumes from last.ckpt and finishes the same training.

The kill is a SIGKILL to the job's whole process group (what a SLURM time limit or pre-emption
does), sent as soon as a few epochs are in last.ckpt.  Not bit-identical to an uninterrupted run:
the weights, optimiser, EMA and epoch counter come back from the checkpoint, but the training
set's shuffling generator is not in Lightning's checkpoint, so after the resume the batches come
in another order.  Everything before the kill is identical, and the end point agrees closely.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from fixtures import TINY_MODEL, TINY_TRAINING, lcbop_training_split
from synpretrain import nequip_config, training

MODEL, TRAINING = TINY_MODEL, {**TINY_TRAINING, "max_epochs": 14}

RUNNER = """
import sys, yaml
from pathlib import Path
from synpretrain import training
out = Path(sys.argv[1])
config = yaml.safe_load(Path(sys.argv[2]).read_text())
training.train(out, config, out / "model.nequip.zip", out / "training.json", 1, sys.stdout)
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return lcbop_training_split(tmp_path_factory.mktemp("data"), n_train=20, n_val=4, repeat=(2, 1, 1))


def start(out: Path, data: Path) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    config = nequip_config.render(train_file=str(data / "train.extxyz"), val_file=str(data / "val.extxyz"),
                                  symbols=["C"], model=MODEL, training=TRAINING, seed=7, out_dir=str(out))
    (out / "wanted.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(out), str(out / "wanted.yaml")], env=env,
                            stdout=open(out / "run.log", "a"), stderr=subprocess.STDOUT, start_new_session=True)


def epochs_done(out: Path) -> int:
    path = out / "csv" / "version_0" / "metrics.csv"
    if not (out / "last.ckpt").exists() or not path.exists():
        return 0
    return int(pd.read_csv(path)["val0_epoch/forces_rmse"].notna().sum())


def history(out: Path):
    return training.read_history(out)["val0_epoch/forces_rmse"].to_numpy()


def weights(package: Path) -> dict:
    checkpoint = torch.load(package.parent / "best.ckpt", map_location="cpu", weights_only=False)
    return checkpoint["state_dict"]


def test_killed_training_resumes_and_matches_an_uninterrupted_run(tmp_path, data):
    reference = start(tmp_path / "reference", data)
    assert reference.wait(timeout=600) == 0, (tmp_path / "reference" / "run.log").read_text()[-3000:]

    job = start(tmp_path / "killed", data)
    deadline = time.monotonic() + 300
    while epochs_done(tmp_path / "killed") < 4:
        assert job.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGKILL)                      # the whole job: runner and nequip child
    job.wait()
    killed = tmp_path / "killed"
    assert not (killed / "model.nequip.zip").exists() and not (killed / "training.json").exists()
    done_before = epochs_done(killed)
    assert 4 <= done_before < TRAINING["max_epochs"]

    resumed = start(killed, data)
    assert resumed.wait(timeout=600) == 0, (killed / "run.log").read_text()[-3000:]
    assert "resuming from" in (killed / "run.log").read_text()

    assert (killed / "csv" / "version_1").is_dir()                  # the resumed attempt's own log
    ours, theirs = history(killed), history(tmp_path / "reference")
    assert len(ours) == len(theirs) == TRAINING["max_epochs"]      # no epoch repeated or lost
    resumed_at = int(pd.read_csv(killed / "csv/version_1/metrics.csv")["epoch"].min())
    assert 0 < resumed_at <= done_before                              # continued, not started over
    assert (ours[:resumed_at] == theirs[:resumed_at]).all()           # bit-identical up to the checkpoint
    assert abs(ours[-1] - theirs[-1]) < 0.05 * theirs[-1]             # and the same training after it
    assert ours[-1] < ours[0] * 0.8                                   # which really continued learning
    a, b = weights(killed / "model.nequip.zip"), weights(tmp_path / "reference" / "model.nequip.zip")
    assert a.keys() == b.keys()
