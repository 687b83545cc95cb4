import multiprocessing
import os
import time

from synpretrain.gpus import claim_gpu, visible_gpus


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
