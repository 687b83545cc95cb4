"""Warm start: one process imports torch, Lightning and NequIP once; training, evaluation and
data-preparation jobs fork from it instead of importing them again.

A job that trains or evaluates a NequIP model spends 4-5 s of a laptop core (10-12 s on a GPU
node) importing torch, Lightning, e3nn and NequIP before it does anything, and a learning curve is
hundreds of such jobs run one after another.  Here the first job on a machine starts a server
(`python -m synpretrain.warm serve SOCKET`) that does those imports and then waits on a Unix
socket; every job (`run_module`) sends it a module to run with its arguments, environment,
working directory and log file descriptors, and the server forks a child that runs the module as
`python -m` would, in the job's environment, writing to the job's log, and reports its exit code.
The server exits after `IDLE_S` seconds without a job.

Used only where forking is safe and pays (`usable`): Linux; not inside a SLURM allocation (a
pack's jobs start at the same moment, so there is nothing to save); not switched off
(`resources.warm_start: false` or SYNPRETRAIN_WARM=0).  GPU machines too: the server never starts
CUDA (it checks), so each forked job starts its own in its own environment (CUDA_VISIBLE_DEVICES,
MPS); on an H200 a 25-structure fine-tune's fixed cost went 30.1 -> 10.2 s (docs/cost.md).
Everywhere else, and whenever the server cannot be reached, the job runs the same module in a
fresh interpreter, as before: one command, the same numbers (tested).  A job killed by Snakemake
closes its socket; its child notices and kills its own process group.  A changed synpretrain
source, interpreter or set of installed packages gets a server of its own (the socket's name is a
hash of them).
"""
from __future__ import annotations

import contextlib
import fcntl
import gc
import hashlib
import importlib
import json
import logging
import os
import runpy
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import traceback
from pathlib import Path

# What the served jobs import (nequip_runner and the modules Hydra instantiates from its config).
PRELOAD = ("torch", "lightning", "nequip.scripts.train", "nequip.scripts.package", "nequip.integrations.ase",
           "synpretrain.evaluation", "synpretrain.nequip_models",
           "synpretrain.nequip_datasets", "synpretrain.nequip_callbacks", "synpretrain.finetune_strategies")
IDLE_S = float(os.environ.get("SYNPRETRAIN_WARM_IDLE_S", 180))  # the server's life without a job
START_TIMEOUT_S = 180.0  # the imports take seconds; a server not listening by then is given up on
SWITCH = "SYNPRETRAIN_WARM"  # "0": never use the warm server


_forked = False  # set in a job forked from the server


def forked() -> bool:
    """Whether this process is a job forked from the warm server (its imports were done there)."""
    return _forked


def usable(enabled: bool = True) -> bool:
    """Whether a job here may fork from the warm server (see the module's docstring)."""
    return (enabled and os.environ.get(SWITCH) != "0" and sys.platform.startswith("linux")
            and "SLURM_JOB_ID" not in os.environ)


def socket_path() -> Path:
    """The server's address: one per user and per (interpreter, synpretrain sources, installed
    packages), so that a changed one never serves stale code."""
    package = Path(__file__).parent
    sources = sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in package.glob("*.py"))
    site = Path(sysconfig.get_paths()["purelib"])
    key = repr((sys.executable, sources, site.stat().st_mtime_ns if site.exists() else 0))
    base = Path(tempfile.gettempdir()) / f"synpretrain-warm-{os.getuid()}"
    return base / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.sock"


# ---- the job's side --------------------------------------------------------------------------


def run_module(module: str, args: list[str], log, env: dict | None = None, threads: int = 1,
               warm: bool = True) -> int | None:
    """Run `python -m module args...` with stdout and stderr to `log` (an open file, which gets the
    command first) and `env`; forked from the warm server where `warm` and `usable()`, else in a
    fresh interpreter.  Returns the exit code (`exit_reason` says it in words)."""
    env = dict(os.environ if env is None else env)
    log.write(f"$ python -m {module} {' '.join(args)}\n")
    log.flush()
    if warm and usable():
        try:
            conn = _connect()
        except OSError as error:  # no server: say so and run cold
            log.write(f"warm start unavailable ({error}); starting a fresh interpreter\n")
            log.flush()
        else:
            with conn:
                return _run_warm(conn, module, args, log, env, threads)
    return subprocess.run([sys.executable, "-m", module, *args], stdout=log, stderr=subprocess.STDOUT,
                          env=env).returncode


def _run_warm(conn: socket.socket, module: str, args: list[str], log, env: dict, threads: int) -> int | None:
    """Hand the job to the server; its exit code.  Once handed over, a broken connection is the
    job's failure, not a reason to run it again."""
    request = {"module": module, "args": list(args), "env": env, "cwd": os.getcwd(), "threads": threads}
    try:
        socket.send_fds(conn, [b"J"], [log.fileno(), log.fileno()])
        conn.sendall(json.dumps(request).encode() + b"\n")
        reply = conn.makefile("rb").readline()
    except OSError as error:
        reply, reason = b"", str(error)
    else:
        reason = "a crash or a kill"
    if not reply.strip():
        log.write(f"the warm-started job ended without an exit code ({reason})\n")
        return None
    return int(reply)


def exit_reason(code: int | None) -> str:
    """How a job's process ended, in words: `run_module`'s code (negative: killed by that signal;
    None: the forked job vanished without a code, i.e. it was killed)."""
    if code is None:
        return "was killed (it ended without an exit code: a signal, such as the out-of-memory killer's)"
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"failed (exit code {code})"


def _connect() -> socket.socket:
    """A connection to this configuration's server, started here if none is listening."""
    path = socket_path()
    with contextlib.suppress(OSError):
        return _dial(path)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one job starts the server, the others wait for it
        with contextlib.suppress(OSError):
            return _dial(path)
        return _start_server(path)


def _dial(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        raise
    return conn


def _start_server(path: Path) -> socket.socket:
    path.unlink(missing_ok=True)  # a dead server's socket
    with open(path.with_suffix(".log"), "ab") as server_log:
        server = subprocess.Popen([sys.executable, "-m", "synpretrain.warm", "serve", str(path)],
                                  stdin=subprocess.DEVNULL, stdout=server_log, stderr=subprocess.STDOUT,
                                  start_new_session=True, close_fds=True)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise OSError(f"the warm server exited with code {server.returncode} (log: {path.with_suffix('.log')})")
        with contextlib.suppress(OSError):
            return _dial(path)
        time.sleep(0.05)
    server.kill()
    raise OSError(f"the warm server did not listen within {START_TIMEOUT_S:.0f} s")


# ---- the server's side -----------------------------------------------------------------------


def preload() -> None:
    """Import PRELOAD, and OpenEquivariance where the jobs will use it; refuse if CUDA started.
    Imports only: a job forked after a parallel tensor operation ran here hangs in its own first
    one (OpenMP is not fork-safe; test_a_job_forked_after_preload_runs_parallel_operations)."""
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")  # a CUDA probe must not start CUDA
    for name in PRELOAD:
        importlib.import_module(name)
    import torch

    from .nequip_models import openequivariance_usable

    # its import loads (or first builds) its kernels; on an H200 it left CUDA alone and a warm job's model
    # build took 2.7 s instead of 3.3
    if openequivariance_usable():
        try:
            importlib.import_module("openequivariance")
        except Exception as error:  # the jobs import it themselves, and say why it fails
            print(f"warm server: openequivariance not preloaded ({type(error).__name__}: {error})", flush=True)
    if torch.cuda.is_initialized():
        raise SystemExit("CUDA started during the imports: a forked job could not use it")


def serve(path: Path, idle_s: float = IDLE_S) -> None:
    """Import what the jobs need (`preload`), then fork one child per job until `idle_s` pass without one."""
    preload()
    # the imports' objects out of reach of the garbage collector: a job's collections would walk them
    # all, and touching them copies the server's memory pages into the job (copy-on-write)
    gc.collect()
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    print(f"{time.strftime('%F %T')} warm server {os.getpid()} listening on {path}", flush=True)
    listener.settimeout(idle_s)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            break
        _fork_job(listener, conn)
        _reap()
    path.unlink(missing_ok=True)  # no new connections; serve those already queued, then go
    listener.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            _fork_job(listener, listener.accept()[0])
    print(f"{time.strftime('%F %T')} warm server {os.getpid()} idle for {idle_s:.0f} s: exiting", flush=True)


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _fork_job(listener: socket.socket, conn: socket.socket) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    if os.fork():
        conn.close()
        return
    code = 1
    try:
        listener.close()
        conn.setblocking(True)
        code = _run_job(conn)
    except BaseException:  # noqa: BLE001 - whatever happens, the job's log says it and the job fails
        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
            logging.shutdown()
            conn.sendall(f"{code}\n".encode())
        os._exit(code)


def _run_job(conn: socket.socket) -> int:
    global _forked
    _forked = True
    os.setpgid(0, 0)  # the job and its DataLoader workers: one group to kill
    _, fds, _, _ = socket.recv_fds(conn, 1, 2)
    request = json.loads(conn.makefile("rb").readline())
    for fd, target in zip(fds, (1, 2)):
        os.dup2(fd, target)
        os.close(fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    # what `python -m` would have put in front of sys.path: the working directory, then PYTHONPATH
    sys.path[0] = os.getcwd()
    sys.path[1:1] = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p not in sys.path]
    logging.root.handlers.clear()
    import torch

    torch.set_num_threads(int(request["threads"]))
    threading.Thread(target=_die_with_client, args=(conn,), daemon=True).start()
    print(f"warm start: forked from server {os.getppid()} (torch, Lightning and NequIP already imported)",
          flush=True)
    sys.argv = [request["module"], *request["args"]]
    try:
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        if exit_.code is None:
            return 0
        if isinstance(exit_.code, int):
            return exit_.code
        print(exit_.code, file=sys.stderr)
        return 1
    return 0


def _die_with_client(conn: socket.socket) -> None:
    """The job's client (the Snakemake job) closed the connection before the job ended: it was
    killed, so the job and its workers go too."""
    with contextlib.suppress(OSError):
        conn.recv(1)
    os.killpg(0, signal.SIGKILL)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "serve":
        raise SystemExit("usage: python -m synpretrain.warm serve SOCKET")
    # run as the importable module, not as __main__: its state (`forked`) is what the jobs import
    importlib.import_module("synpretrain.warm").serve(Path(sys.argv[2]))
