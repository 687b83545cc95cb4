import multiprocessing
import os
import time

from synpretrain.gpus import claim_gpu, visible_gpus


def _hold(lock_dir, queue, seconds):
    with claim_gpu(lock_dir, gpus=["0", "1"], poll_s=0.05) as gpu:
        queue.put((gpu, os.environ["CUDA_VISIBLE_DEVICES"]))
        time.sleep(seconds)


def test_concurrent_jobs_get_different_gpus(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    queue = multiprocessing.Queue()
    jobs = [multiprocessing.Process(target=_hold, args=(tmp_path, queue, 1.0)) for _ in range(2)]
    for job in jobs:
        job.start()
    got = sorted(queue.get(timeout=30) for _ in jobs)
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
