import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from synpretrain.gpus import claim_gpu, visible_gpus

REPO = Path(__file__).resolve().parents[1]


def _hold(lock_dir, queue, seconds, jobs_per_gpu=1):
    with claim_gpu(lock_dir, gpus=["0", "1"], jobs_per_gpu=jobs_per_gpu, poll_s=0.05) as gpu:
        queue.put((gpu, os.environ["CUDA_VISIBLE_DEVICES"], time.monotonic()))
        time.sleep(seconds)


def test_concurrent_jobs_get_different_gpus(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    queue = multiprocessing.Queue()
    jobs = [multiprocessing.Process(target=_hold, args=(tmp_path, queue, 1.0)) for _ in range(2)]
    for job in jobs:
        job.start()
    got = sorted(queue.get(timeout=30)[:2] for _ in jobs)
    for job in jobs:
        job.join()
    assert got == [("0", "0"), ("1", "1")]
    # locks die with their jobs: both GPUs are free again
    with claim_gpu(tmp_path, gpus=["0", "1"]) as gpu:
        assert gpu in ("0", "1")


def test_slurm_and_single_gpu_machines_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    with claim_gpu(tmp_path, gpus=["3", "5"]) as gpu:
        assert gpu == "3" and os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    monkeypatch.delenv("SLURM_JOB_ID")
    with claim_gpu(tmp_path) as gpu:
        assert gpu == "3" and visible_gpus() == ["3"]
    assert not list(tmp_path.iterdir())          # no locks taken


def test_jobs_per_gpu_packs_k_jobs_on_each_gpu(tmp_path, monkeypatch):
    """Six jobs, two GPUs, three slots each: all six start at once, three on each GPU; a seventh
    waits for a slot."""
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    queue = multiprocessing.Queue()
    jobs = [multiprocessing.Process(target=_hold, args=(tmp_path, queue, 3.0, 3)) for _ in range(7)]
    for job in jobs:
        job.start()
    got = sorted((queue.get(timeout=60) for _ in jobs), key=lambda item: item[2])
    for job in jobs:
        job.join()
    first_six, seventh = got[:6], got[6]
    assert sorted(gpu for gpu, _, _ in first_six) == ["0", "0", "0", "1", "1", "1"]
    assert all(gpu == visible for gpu, visible, _ in got)
    assert max(t for _, _, t in first_six) - min(t for _, _, t in first_six) < 2.5   # concurrent
    assert seventh[2] - min(t for _, _, t in first_six) > 2.5                       # waited


FAKE_MPS = """#!/bin/sh
# stands in for nvidia-cuda-mps-control: records each call with the pipe directory it was given
if [ "$1" = "-d" ]; then echo "start $CUDA_MPS_PIPE_DIRECTORY $CUDA_VISIBLE_DEVICES" >> "$MPS_CALLS"; exit 0; fi
read command; echo "$command" >> "$MPS_CALLS"
"""


def _mps_client(root, queue, seconds):
    from synpretrain.gpus import shared_gpu

    with shared_gpu("1", True, root=root, log=lambda _: None) as on:
        queue.put((on, os.environ["CUDA_MPS_PIPE_DIRECTORY"], time.monotonic()))
        time.sleep(seconds)
    queue.put(("left", time.monotonic()))


def fake_mps(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "nvidia-cuda-mps-control").write_text(FAKE_MPS)
    (bin_dir / "nvidia-cuda-mps-control").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("MPS_CALLS", str(tmp_path / "calls"))
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    return tmp_path / "calls"


def test_jobs_sharing_a_gpu_start_one_mps_daemon_and_the_last_stops_it(tmp_path, monkeypatch):
    calls = fake_mps(tmp_path, monkeypatch)
    queue = multiprocessing.Queue()
    jobs = [multiprocessing.Process(target=_mps_client, args=(tmp_path / "mps", queue, s)) for s in (1.0, 2.0)]
    for job in jobs:
        job.start()
    events = [queue.get(timeout=30) for _ in range(4)]
    for job in jobs:
        job.join()
    inside = [e for e in events if e[0] is True]
    pipe = str(tmp_path / "mps" / f"synpretrain-mps-{os.getuid()}-77-gpu1" / "pipe")
    assert len(inside) == 2 and {e[1] for e in inside} == {pipe}      # both clients of the same daemon
    lines = calls.read_text().splitlines()
    # a stale daemon is asked to quit, then ONE daemon starts on GPU 1; quit once, after both left
    assert lines == ["quit", f"start {pipe} 1", "quit"]
    assert "CUDA_MPS_PIPE_DIRECTORY" not in os.environ


def test_a_dead_clients_registration_does_not_keep_the_daemon(tmp_path, monkeypatch):
    from synpretrain.gpus import shared_gpu

    calls = fake_mps(tmp_path, monkeypatch)
    clients = tmp_path / f"synpretrain-mps-{os.getuid()}-77-gpu1" / "clients"
    clients.mkdir(parents=True)
    dead = multiprocessing.Process(target=time.sleep, args=(0,))
    dead.start()
    dead.join()
    (clients / str(dead.pid)).touch()               # a job killed while it held the GPU
    with shared_gpu("1", True, root=tmp_path, log=lambda _: None) as on:
        assert on and os.environ["CUDA_MPS_PIPE_DIRECTORY"].endswith("gpu1/pipe")
    assert calls.read_text().splitlines()[-1] == "quit" and calls.read_text().count("start") == 1
    assert not list(clients.iterdir())


def test_without_mps_nothing_changes(tmp_path, monkeypatch):
    from synpretrain.gpus import shared_gpu

    monkeypatch.setenv("PATH", str(tmp_path))                   # no nvidia-cuda-mps-control
    for gpu, enabled in (("0", True), ("0", False), (None, True)):
        with shared_gpu(gpu, enabled, root=tmp_path, log=lambda _: None) as on:
            assert on is False and "CUDA_MPS_PIPE_DIRECTORY" not in os.environ
    assert not list(tmp_path.iterdir())


def test_the_bench_measures_its_packs_again_under_the_workflows_mps_daemon(tmp_path, monkeypatch):
    """bench_training.py --mps: each packed case once as usual, then again as clients of the daemon
    that `shared_gpu` starts for the first visible GPU (as a job with `resources.mps` does) and stops."""
    calls = fake_mps(tmp_path, monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")             # the fake daemon's GPU; torch still finds none
    work, out = tmp_path / "work", tmp_path / "bench.json"
    subprocess.run([sys.executable, REPO / "tests/benchmarks/bench_training.py", "--tiny", "--only", "packed", "--mps",
                    "--work", work, "--out", out], check=True, timeout=600)
    result = json.loads(out.read_text())
    assert not result["errors"]
    cases = {c["case"]: c for c in result["cases"]}
    assert sorted(cases) == ["packed2", "packed2-mps"]
    assert cases["packed2"]["mps"] is False and cases["packed2-mps"]["mps"] is True
    assert all(c["jobs"] == 2 and c["structures_per_s_per_job"] > 0 for c in cases.values())
    pipe = work / "mps-daemon" / f"synpretrain-mps-{os.getuid()}-77-gpu0" / "pipe"
    assert calls.read_text().splitlines() == ["quit", f"start {pipe} 0", "quit"]   # one daemon, stopped after
