"""K jobs per GPU: slots on a multi-GPU workstation, and MPS for the jobs that share a GPU.

A NequIP training job of the paper's size keeps a GPU only 20-40 % busy, and K such jobs side by
side get more done (six: 4.5 x one job's structures/s on an H200 with OpenEquivariance kernels,
docs/cost.md), so the workflow places `jobs_per_gpu` jobs on every GPU (`claim_gpu`), and with
`resources.mps` their kernels run concurrently through an MPS daemon (`shared_gpu`).
`snakemake --resources gpu=S` limits how many GPU jobs run at once (S = GPUs x jobs_per_gpu job
slots), but it does not say which GPU a job gets: every job would see all of them and use the
first.  `claim_gpu` gives each job a slot on one GPU by holding an exclusive lock file per slot
(released by the OS when the job ends, even if it is killed) and setting CUDA_VISIBLE_DEVICES
before CUDA is initialised; every GPU gets a job before any gets a second, so jobs spread out.
Under SLURM, which sets CUDA_VISIBLE_DEVICES per allocation (a group of K jobs shares one GPU),
and on machines with one GPU or none, nothing is changed.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator


def visible_gpus() -> list[str]:
    """The GPU ids this process may use: CUDA_VISIBLE_DEVICES if set, else those nvidia-smi lists."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    result = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True)
    return [str(i) for i, line in enumerate(result.stdout.splitlines()) if line.startswith("GPU ")]


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """Environment variables set for the block (what the job's subprocesses inherit), then restored."""
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def claim_gpu(lock_dir: str | os.PathLike = ".snakemake/gpu-locks", gpus: list[str] | None = None,
              jobs_per_gpu: int = 1, poll_s: float = 2.0, timeout_s: float = 3600.0) -> Iterator[str | None]:
    """Hold one of `jobs_per_gpu` slots on one of `gpus` (default: `visible_gpus()`) for the block."""
    gpus = visible_gpus() if gpus is None else gpus
    if "SLURM_JOB_ID" in os.environ or len(gpus) <= 1:
        yield gpus[0] if gpus else None
        return
    lock_dir = Path(lock_dir)
    lock_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    slots = [(gpu, k) for k in range(max(1, int(jobs_per_gpu))) for gpu in gpus]
    while True:
        for gpu, k in slots:
            handle = open(lock_dir / f"gpu{gpu}.slot{k}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                with environment(CUDA_VISIBLE_DEVICES=gpu):
                    yield gpu
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no free GPU among {gpus} after {timeout_s:.0f} s (locks in {lock_dir}); "
                               "run with --resources gpu=S where S is the number of GPUs x jobs_per_gpu")
        time.sleep(poll_s)


MPS_CONTROL = "nvidia-cuda-mps-control"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _locked(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def shared_gpu(gpu: str | None, enabled: bool, root: str | os.PathLike | None = None, log=print) -> Iterator[bool]:
    """Run the block as a client of an MPS daemon for `gpu` (`resources.mps`), so that the kernels
    of the K jobs sharing the GPU run side by side instead of taking turns (H200, 6 jobs: +32 %
    structures/s, docs/cost.md).  The first job on the GPU starts the daemon (a user process: no
    admin needed) with a private pipe directory, the last one to leave stops it; jobs register as
    clients under a lock, and a killed job's registration lapses with its process.  Yields whether
    MPS is on; without a GPU, with `enabled` false or without the MPS binary, nothing changes."""
    if not enabled or gpu is None or shutil.which(MPS_CONTROL) is None:
        if enabled and gpu is not None:
            log(f"resources.mps: {MPS_CONTROL} not found; the GPU's jobs take turns")
        yield False
        return
    scope = os.environ.get("SLURM_JOB_ID", "local")           # one daemon per allocation and GPU
    base = Path(root or os.environ.get("TMPDIR") or "/tmp") / f"synpretrain-mps-{os.getuid()}-{scope}-gpu{gpu}"
    clients = base / "clients"
    clients.mkdir(parents=True, exist_ok=True)
    env = {"CUDA_MPS_PIPE_DIRECTORY": str(base / "pipe"), "CUDA_MPS_LOG_DIRECTORY": str(base / "log")}
    daemon_env = {**os.environ, **env, "CUDA_VISIBLE_DEVICES": gpu}

    def live_clients() -> list[Path]:
        found = []
        for entry in clients.iterdir():
            if _alive(int(entry.name)):
                found.append(entry)
            else:
                entry.unlink(missing_ok=True)
        return found

    def control(*args, stdin=None) -> subprocess.CompletedProcess:
        return subprocess.run([MPS_CONTROL, *args], input=stdin, env=daemon_env, capture_output=True, text=True,
                              timeout=30)

    def start() -> bool:
        (base / "pipe").mkdir(exist_ok=True)
        (base / "log").mkdir(exist_ok=True)
        control(stdin="quit\n")            # a daemon left by a killed run, if any
        started = control("-d")
        if started.returncode != 0:
            log(f"resources.mps: the MPS daemon did not start ({started.stderr.strip()}); jobs take turns")
            return False
        log(f"resources.mps: started the MPS daemon for GPU {gpu} ({base})")
        return True

    with _locked(base / "lock"):
        on = bool(live_clients()) or start()
        if on:
            (clients / str(os.getpid())).touch()
    if not on:
        yield False
        return
    try:
        with environment(**env):
            yield True
    finally:
        with _locked(base / "lock"):
            (clients / str(os.getpid())).unlink(missing_ok=True)
            if not live_clients():
                control(stdin="quit\n")
                log(f"resources.mps: stopped the MPS daemon for GPU {gpu}")


def job_resources(config: dict, stage: str, is_cluster, **override) -> dict:
    """Snakemake `resources:` of a training or MD job: runtime, mem_mb and its GPU, from the
    config's `resources.<stage>` (the one place they are set; a profile sets only the partition).

    On one machine the GPU is a count (`gpu: 1`) that `--resources gpu=S` limits.  Under a cluster
    executor it is the GRES string `gpu:1`: Snakemake adds up numeric resources over the jobs of a
    group, but keeps one value of a string, so a pack of K jobs (`resources.jobs_per_gpu`) still
    asks SLURM for one GPU.  Which executor runs the jobs is known when the DAG is built, not when
    the rules are read: `is_cluster()` is asked then (callable resources)."""
    spec = {**config["resources"].get(stage, {}), **override}   # the schema's defaults filled in
    gpus = spec["gpu"]
    return {"runtime": spec["runtime"], "mem_mb": spec["mem_mb"],
            "gpu": lambda wildcards: 0 if is_cluster() else gpus,
            "gres": lambda wildcards: f"gpu:{gpus}" if gpus and is_cluster() else ""}
