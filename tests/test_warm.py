"""Warm start (`synpretrain.warm`): jobs fork from a process that has imported torch and NequIP,
with the job's environment, working directory and log; a killed job's child goes too; and a model
trained that way is the one a fresh interpreter trains."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from fixtures import TINY_MODEL, TINY_TRAINING, lcbop_training_split
from synpretrain import nequip_config, training, warm

PROBE = """
import gc, os, sys, time
from pathlib import Path
print("nequip already imported:", "nequip.scripts.train" in sys.modules)
print("gc-frozen objects:", gc.get_freeze_count() > 0)
print("server:", os.getppid(), "cwd:", os.getcwd(), "PROBE_VALUE:", os.environ.get("PROBE_VALUE"), "args:", sys.argv[1:])
import torch
print("threads:", torch.get_num_threads())
if sys.argv[1] == "sleep":
    Path(sys.argv[2]).write_text(str(os.getpid()))
    time.sleep(120)
if sys.argv[1] == "raise":
    raise ValueError("the probe failed on purpose")
sys.exit(int(sys.argv[1]))
"""


@pytest.fixture
def probe(tmp_path, monkeypatch):
    """A module `warm_probe` importable through PYTHONPATH; the job's environment."""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "warm_probe.py").write_text(textwrap.dedent(PROBE))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv(warm.SWITCH, raising=False)
    return {**os.environ, "PYTHONPATH": str(tmp_path / "mods"), "PROBE_VALUE": "seen"}


def run_probe(tmp_path: Path, env: dict, args: list[str], warm_: bool = True, threads: int = 2) -> tuple[int, str]:
    log_path = tmp_path / f"probe-{time.monotonic_ns()}.log"
    with open(log_path, "w") as log:
        code = warm.run_module("warm_probe", args, log, env=env, threads=threads, warm=warm_)
    return code, log_path.read_text()


def test_usable_on_linux_outside_slurm_unless_switched_off(monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv(warm.SWITCH, raising=False)
    for gpus in ("", "0"):                                     # with a GPU too: the server never starts CUDA
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", gpus)
        assert warm.usable() == sys.platform.startswith("linux")
    assert not warm.usable(enabled=False)                      # resources.warm_start: false
    monkeypatch.setenv("SLURM_JOB_ID", "17")
    assert not warm.usable()
    monkeypatch.delenv("SLURM_JOB_ID")
    monkeypatch.setenv(warm.SWITCH, "0")
    assert not warm.usable()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm start is Linux-only")
def test_a_job_forks_from_the_warm_server_with_its_own_environment(tmp_path, probe):
    code, text = run_probe(tmp_path, probe, ["3", "x y"])
    assert code == 3
    assert "warm start: forked from server" in text
    assert "nequip already imported: True" in text
    assert "gc-frozen objects: True" in text  # out of the job's garbage collections
    assert f"cwd: {os.getcwd()} PROBE_VALUE: seen args: ['3', 'x y']" in text
    assert "threads: 2" in text
    server = text.split("server: ")[1].split()[0]
    code, again = run_probe(tmp_path, probe, ["0"], threads=1)
    assert code == 0 and f"server: {server} " in again and "threads: 1" in again   # the same server
    # a fresh interpreter (warm_start off): the same job, without the imports done
    code, cold = run_probe(tmp_path, probe, ["3", "x y"], warm_=False)
    assert code == 3 and "warm start" not in cold and "nequip already imported: False" in cold
    assert "gc-frozen objects: False" in cold
    assert "PROBE_VALUE: seen args: ['3', 'x y']" in cold


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm start is Linux-only")
def test_a_failing_job_fails_with_its_traceback_in_the_log(tmp_path, probe):
    code, text = run_probe(tmp_path, probe, ["raise"])
    assert code == 1
    assert "ValueError: the probe failed on purpose" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm start is Linux-only")
def test_killing_the_job_kills_its_forked_child(tmp_path, probe):
    pid_file = tmp_path / "child.pid"
    client = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from synpretrain import warm
        with open({str(tmp_path / 'client.log')!r}, "w") as log:
            sys.exit(warm.run_module("warm_probe", ["sleep", {str(pid_file)!r}], log))
        """)], env=probe)
    deadline = time.monotonic() + 120
    while not pid_file.exists() or not pid_file.read_text():
        assert client.poll() is None and time.monotonic() < deadline, (tmp_path / "client.log").read_text()
        time.sleep(0.1)
    child = int(pid_file.read_text())
    os.kill(client.pid, signal.SIGKILL)             # what Snakemake does to a cancelled job
    client.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and Path(f"/proc/{child}/stat").read_text().split()[2] != "Z":
        assert time.monotonic() < deadline, "the forked job outlived its client"
        time.sleep(0.1)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm start is Linux-only")
def test_a_model_trained_warm_equals_one_trained_in_a_fresh_interpreter(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    (tmp_path / "data").mkdir()
    data = lcbop_training_split(tmp_path / "data", n_train=8, n_val=4, repeat=(2, 1, 1))
    histories, logs = {}, {}
    for kind in ("warm", "cold"):
        out = tmp_path / kind
        config = nequip_config.render(train_file=str(data / "train.extxyz"), val_file=str(data / "val.extxyz"),
                                      symbols=["C"], model=TINY_MODEL, training={**TINY_TRAINING, "max_epochs": 3},
                                      seed=5, out_dir=str(out))
        with open(tmp_path / f"{kind}.log", "w") as log:
            summary = training.train(out, config, out / "model.nequip.zip", out / "training.json", 1, log,
                                     warm=kind == "warm")
        assert summary["epochs"] == 3 and summary["phase_warm_start"] is (kind == "warm")
        histories[kind], logs[kind] = training.read_history(out), (tmp_path / f"{kind}.log").read_text()
    assert "warm start: forked from server" in logs["warm"] and "warm start" not in logs["cold"]
    pd.testing.assert_frame_equal(histories["warm"], histories["cold"], rtol=0, atol=0)


def test_preload_imports_openequivariance_where_jobs_use_it_and_survives_its_failure(monkeypatch, capsys):
    """Where a CUDA GPU and OpenEquivariance are there, the server imports it too; an import that
    fails there is reported and left to the jobs (here: usable, but no such module)."""
    from synpretrain import nequip_models

    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")           # what preload sets: undone afterwards
    imported = []
    real_import = warm.importlib.import_module

    def recording(name):
        imported.append(name)
        return real_import(name)

    monkeypatch.setattr(warm.importlib, "import_module", recording)
    monkeypatch.setattr(nequip_models, "openequivariance_usable", lambda: False)
    warm.preload()
    assert imported == list(warm.PRELOAD)
    monkeypatch.setattr(nequip_models, "openequivariance_usable", lambda: True)
    monkeypatch.setitem(sys.modules, "openequivariance", None)       # an import of it raises ImportError
    warm.preload()
    assert imported[-1] == "openequivariance"
    assert "warm server: openequivariance not preloaded (ModuleNotFoundError" in capsys.readouterr().out


FORK_AFTER_PRELOAD = """
import os, signal, sys, torch
from synpretrain import warm
warm.preload()
pid = os.fork()
if pid == 0:  # a job: its own threads, then a parallel reduction
    torch.set_num_threads(2)
    signal.alarm(30)  # hung in an OpenMP barrier: killed (SIGALRM) instead
    print("child sum:", float(torch.ones(4_000_000).sum()), flush=True)
    os._exit(0)
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="warm start is Linux-only")
def test_a_job_forked_after_preload_runs_parallel_operations():
    """The server may import but not compute: a child forked after OpenMP ran (a parallel tensor
    operation with more than one thread) hangs in its own first parallel region."""
    env = {**training.thread_env(2), "PYTORCH_NVML_BASED_CUDA_CHECK": "1"}  # a 2-thread job's environment
    done = subprocess.run([sys.executable, "-c", FORK_AFTER_PRELOAD], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "child sum: 4000000.0" in done.stdout, done.stdout + done.stderr


def test_how_a_job_ended_in_words():
    """A job killed by a signal says so (it used to read "failed (exit code 1)")."""
    assert warm.exit_reason(-9) == "was killed by SIGKILL"
    assert warm.exit_reason(-15) == "was killed by SIGTERM"
    assert warm.exit_reason(None).startswith("was killed (it ended without an exit code")
    assert warm.exit_reason(2) == "failed (exit code 2)"
