"""Training and MD throughput of the configured NequIP model on this machine (a benchmark, not a test).

    .venv/bin/python tests/benchmarks/bench_training.py                      # the paper's model, GPU: < 6 min
    .venv/bin/python tests/benchmarks/bench_training.py --tiny               # CPU check: < 1 min
    .venv/bin/python tests/benchmarks/bench_training.py --config config/config.yaml --jobs 2

It trains through the workflow's own code (`synpretrain.training.train`: the rendered NequIP
config, the runner, packaging) on random cells of the config's pre-training element labelled by a
Morse potential (labels only have to be smooth and finite: throughput does not depend on them),
and measures:
  - `extxyz`:    one job reading extxyz (types and neighbour lists rebuilt on every access);
  - `prepared`:  one job reading the prepared LMDB file (`synpretrain.prepared_data`);
  - `packed`:    K jobs at once on the same device, prepared data (K = --jobs);
  - `small`:     a fine-tune-sized job (25 structures): its fixed cost (start-up, statistics, packaging);
  - `small-warm`: the same forked from the warm server (`synpretrain.warm`; where jobs use it:
                 outside SLURM; `--only small` runs it too, `--only small-warm` alone);
                 these three once per tensor-product kernel in --kernels (`-oeq`: OpenEquivariance);
  - `compiled-first`, `compiled`, `small-compiled`, when --compile: `compile: true` (NequIP's
                 torch.compile through `synpretrain.compile_cache`): the first job of the model
                 with empty caches (it compiles), then the same job and the small job loading it;
  - `md`:        the heating protocol's steps/s with each engine of --md-engines (`torch` with
                 its model compiled where md.compile auto compiles it, i.e. on a GPU; `torch+nocompile`,
                 `torch+compile`, `torch+e3nn` for the other variants), and where a
                 step's time goes (graph = neighbour list on the CPU, model = the model call);
                 with --md-jobs K also K runs at once (an MD pack), steps/s per run and per device;
  - `-mps`, when --mps: the packed cases (training and MD) again as clients of an MPS daemon that
                 the bench starts and stops as the workflow's jobs do (`resources.mps`,
                 `synpretrain.gpus.shared_gpu`): what a config with `mps: true` will see.
Prints a table and writes JSON (--out): structures/s per job and per device, GPU busy % (nvidia-smi,
when present), fixed seconds per job, MD steps/s and the device name.  The compute forecast
(`results/tables/compute_forecast.csv`) reads this JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "workflow"))

from synpretrain import nequip_config, training  # noqa: E402
from synpretrain.config import stage_training  # noqa: E402
from synpretrain.generation import random_cell  # noqa: E402
from synpretrain.io import write_extxyz, with_labels  # noqa: E402
from synpretrain.prepared_data import prepare  # noqa: E402
from synpretrain.warm import usable as warm_start_usable  # noqa: E402


def labelled_cell(args: tuple) -> object:
    from ase.calculators.morse import MorsePotential

    n_atoms, element, seed = args
    rng = np.random.default_rng(seed)
    atoms = random_cell(n_atoms, float(rng.uniform(1.5, 3.5)) if element == "C" else 2.3, element,
                        min_distance=1.3 if element == "C" else 2.0, seed=seed)
    atoms.calc = MorsePotential(epsilon=1.0, r0=1.6, rho0=5.0, rcut1=2.8, rcut2=3.4)
    return with_labels(atoms, atoms.get_potential_energy(), atoms.get_forces())


def labelled_cells(n: int, n_atoms: int, element: str, seed: int) -> list:
    """`n` random cells (1.5-3.5 g/cm3 for carbon), made on every core."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor() as pool:
        return list(pool.map(labelled_cell, [(n_atoms, element, seed * 100_000 + i) for i in range(n)], chunksize=8))


class GpuSampler:
    """GPU utilisation (%) sampled by nvidia-smi every 0.5 s while the block runs (None without one)."""

    def __enter__(self):
        self.samples, self.proc = [], None
        if shutil.which("nvidia-smi"):
            self.proc = subprocess.Popen(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                          "--format=csv,noheader,nounits", "-lms", "500"],
                                         stdout=subprocess.PIPE, text=True)
            self.thread = threading.Thread(target=self._read, daemon=True)
            self.thread.start()
        return self

    def _read(self):
        for line in self.proc.stdout:
            try:
                util, mem = (float(x) for x in line.split(",")[:2])
                self.samples.append((time.time(), util, mem))
            except ValueError:
                pass

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()

    def busy_percent(self, window: tuple[float, float] | None = None) -> float | None:
        """Mean utilisation over `window` (Unix times; default: all samples)."""
        values = [u for t, u, _ in self.samples if window is None or window[0] <= t <= window[1]]
        return round(float(np.mean(values)), 1) if values else None

    def peak_memory_mb(self) -> float | None:
        return max((m for _, _, m in self.samples), default=None)


def steady_window(job_dirs: list[Path]) -> tuple[float, float] | None:
    """The time span in which every job was past its first epoch and still training."""
    from synpretrain.nequip_config import TIMINGS

    spans = []
    for job in job_dirs:
        ends = [json.loads(line)["unix_time"] for line in (job / TIMINGS).read_text().splitlines()]
        if len(ends) < 2:
            return None
        spans.append((ends[0], ends[-1]))
    start, end = max(s for s, _ in spans), min(e for _, e in spans)
    return (start, end) if end > start else None


def train_one(work: Path, name: str, train_file: Path, val_file: Path, cfg: dict, training_block: dict,
              seed: int = 1, warm: bool = False) -> dict:
    out_dir = work / name
    config = nequip_config.render(train_file=str(train_file), val_file=str(val_file), symbols=[cfg["element"]],
                                  model=cfg["model"], training=training_block, seed=seed,
                                  out_dir=str(out_dir.resolve()))
    log_file = work / f"{name}.log"
    with open(log_file, "w") as log:
        start = time.perf_counter()
        try:
            summary = training.train(out_dir, config, out_dir / "model.nequip.zip", out_dir / "training.json",
                                     cfg["threads"], log, warm=warm)
        except RuntimeError as error:  # the job's own log says why: name it, with its last line
            log.flush()
            last = (log_file.read_text().strip().splitlines() or [""])[-1]
            raise RuntimeError(f"{error} (the job's log: {log_file}; its last line: {last})") from error
        summary["job_wall_s"] = round(time.perf_counter() - start, 2)
    return summary


def run_case(work: Path, name: str, jobs: int, files: tuple[Path, Path], cfg: dict, training_block: dict,
             warm: bool = False) -> dict:
    """K jobs at once; `warm`: forked from the warm server (synpretrain.warm; where it is usable)."""
    start = time.perf_counter()
    with GpuSampler() as gpu, ThreadPoolExecutor(jobs) as pool:
        summaries = list(pool.map(lambda k: train_one(work, f"{name}-{k}", *files, cfg, training_block, seed=k + 1,
                                                      warm=warm), range(jobs)))
    rates = [s.get("train_structures_per_s") for s in summaries]
    result = {
        "case": name, "jobs": jobs, "kernel": training_block.get("kernel", "e3nn"),
        "mps": bool(os.environ.get("CUDA_MPS_PIPE_DIRECTORY")), "wall_s": round(time.perf_counter() - start, 1),
        "structures_per_s_per_job": round(float(np.mean(rates)), 2) if all(rates) else None,
        "structures_per_s_per_device": round(float(np.sum(rates)), 2) if all(rates) else None,
        "gpu_busy_percent": gpu.busy_percent(steady_window([work / f"{name}-{k}" for k in range(jobs)])),
        "gpu_busy_percent_whole_jobs": gpu.busy_percent(), "gpu_memory_peak_mb": gpu.peak_memory_mb(),
        "first_epoch_extra_s": summaries[0].get("first_epoch_extra_s"),
        "fixed_s": round(float(np.mean([s["fixed_s"] for s in summaries])), 2),
        "job_wall_s": round(float(np.mean([s["job_wall_s"] for s in summaries])), 2), "warm": warm,
        "phases": {k: v for k, v in summaries[0].items() if k.startswith("phase_")},
        "epochs": summaries[0]["epochs"],
    }
    print(f"  {name}: {result}", flush=True)
    return result


def empty_compile_caches(work: Path) -> None:
    """Compiled models (synpretrain.compile_cache) and Inductor's kernels in empty folders of
    `work`, so that the next compiled job compiles from scratch, as a user's first one does."""
    from synpretrain.compile_cache import CACHE_ENV

    for variable, folder in ((CACHE_ENV, work / "compiled-models"), ("TORCHINDUCTOR_CACHE_DIR", work / "inductor")):
        shutil.rmtree(folder, ignore_errors=True)
        os.environ[variable] = str(folder)  # read by the training jobs this process starts


def small_warm(work: Path, name: str, files: tuple[Path, Path], cfg: dict, training_block: dict) -> dict:
    """The small job forked from the warm server (`synpretrain.warm`), once the server is up: the
    first run, which may start it, is not counted.  Only where jobs use the server (not inside
    SLURM): elsewhere the case would be two more cold small jobs."""
    run_case(work, f"{name}-first", 1, files, cfg, training_block, warm=True)
    return run_case(work, name, 1, files, cfg, training_block, warm=True)


def under_mps(measure, work: Path):
    """`measure` run as a client of an MPS daemon on the first visible GPU, started and stopped by
    `synpretrain.gpus.shared_gpu` as a training job with `resources.mps` does (the cases it
    measures then say `mps: true`).  Where no daemon can run (no GPU, no binary) it fails and says why."""
    from synpretrain.gpus import shared_gpu, visible_gpus

    def measured() -> dict:
        gpus = visible_gpus()
        with shared_gpu(gpus[0] if gpus else None, True, root=work / "mps-daemon", log=print) as on:
            if not on:
                raise RuntimeError("no MPS daemon: " + ("no GPU visible" if not gpus else "see the lines above"))
            return measure()
    return measured


def md_speed(package: Path, start_atoms, spec: str, steps: int, work: Path) -> dict:
    """One MD run of `spec`: an md.engine, for `torch` with options after "+": `compile` or
    `nocompile` (md.compile true or false; else auto) and `e3nn` (the e3nn kernels, not OpenEquivariance)."""
    from synpretrain.evaluation import md_engine
    from synpretrain.md_stability import HeatingProtocol, run

    engine, *options = spec.split("+")
    unknown = set(options) - {"compile", "nocompile", "e3nn"}
    if unknown:
        raise ValueError(f"--md-engines: {spec!r} has unknown options {sorted(unknown)} (compile, nocompile, e3nn)")
    compiled = True if "compile" in options else False if "nocompile" in options else "auto"
    kernel = "e3nn" if "e3nn" in options else "auto"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(work / f"md-{spec}.log", "w") as log:
        stepper, description = md_engine(package, engine, work, log, compiled, kernel)
        protocol = HeatingProtocol(ramp_ps=steps / 2000, hold_ps=steps / 2000, frame_every_ps=steps / 10000, seed=1)
        run(start_atoms, stepper, protocol, cutoff=1.85, collapse_distance=0.0)  # warm-up (lazy init, compiling)
        setup_s = time.perf_counter() - t0
        rows, summary = run(start_atoms, stepper, protocol, cutoff=1.85, collapse_distance=0.0)
    result = {"engine": description, "compiled": getattr(stepper, "ran_compiled", False),
              "kernel": kernel, "jobs": 1, "steps": summary["steps_this_attempt"],
              "steps_per_s": summary["steps_per_s"], "setup_s": round(setup_s, 1),
              "finite": bool(np.isfinite(rows[-1]["epot_per_atom"])),
              **step_parts(stepper.calc, start_atoms)}
    print(f"  MD {spec}: {result}", flush=True)
    return result


def md_packed(package: Path, start_atoms, engine: str, steps: int, work: Path, jobs: int, threads: int) -> dict:
    """K MD runs at once, each in its own process with `threads` torch threads: an MD pack
    (`resources.jobs_per_gpu`) on one device.  steps/s per run and per device, and how busy the GPU was."""
    import multiprocessing

    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by torch in each (spawned) run
    with GpuSampler() as gpu, multiprocessing.get_context("spawn").Pool(jobs) as pool:
        runs = pool.starmap(md_speed, [(package, start_atoms, engine, steps, work / f"md{jobs}-{k}") for k in range(jobs)])
    rates = [r["steps_per_s"] for r in runs]
    result = {"engine": runs[0]["engine"], "compiled": runs[0]["compiled"], "kernel": runs[0]["kernel"], "jobs": jobs,
              "mps": bool(os.environ.get("CUDA_MPS_PIPE_DIRECTORY")),
              "steps_per_s": round(float(np.mean(rates)), 2), "steps_per_s_per_device": round(float(np.sum(rates)), 2),
              "gpu_busy_percent_whole_jobs": gpu.busy_percent(), "runs": runs}
    print(f"  MD {engine} x{jobs}: {result['steps_per_s']} steps/s per run, {result['steps_per_s_per_device']} per device",
          flush=True)
    return result


def step_parts(calc, atoms, repeats: int = 50) -> dict:
    """Where one ASE-engine MD step's time goes (ms): the graph (neighbour list, on the CPU) and the
    model call (the `torch` engine builds its neighbour list on the device, inside its step)."""
    import torch

    def timed(fn) -> float:
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(repeats):
            out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return round((time.perf_counter() - start) / repeats * 1000, 3), out

    graph_ms, data = timed(lambda: calc.atoms_to_data(atoms))
    model_ms, _ = timed(lambda: calc.call_model(data))
    return {"graph_ms": graph_ms, "model_ms": model_ms}


def any_package(work: Path) -> Path:
    """A model trained by an earlier case of this --work (MD speed does not depend on its weights)."""
    found = sorted(work.glob("*/model.nequip.zip"))
    if not found:
        raise FileNotFoundError(f"no trained model in {work}: run a training case first (or keep --work)")
    return found[0]


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(REPO / "config/paper.yaml"), help="model and training settings")
    parser.add_argument("--atoms", type=int, default=200, help="atoms per cell")
    parser.add_argument("--train", type=int, default=500, help="training structures of the throughput runs")
    parser.add_argument("--val", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--jobs", default="4", help="K, jobs packed on one device (a comma-separated list: one case each)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers per job")
    parser.add_argument("--md-steps", type=int, default=1000)
    parser.add_argument("--compile", action="store_true", help="also measure compiled training (compile: true)")
    parser.add_argument("--kernels", default="e3nn",
                        help="tensor-product kernels of the prepared/packed/small cases (e3nn,openequivariance)")
    parser.add_argument("--md-engines", default="torch,torch+nocompile,eager",
                        help="MD engines (md.engine values, comma-separated; torch+nocompile, torch+e3nn, "
                             "torch+compile: see md_speed)")
    parser.add_argument("--md-jobs", default="1",
                        help="MD runs at once on the device (comma-separated: one case each; an MD pack)")
    parser.add_argument("--mps", action="store_true",
                        help="also run the packed cases under an MPS daemon, started as the workflow starts it")
    parser.add_argument("--tf32", action="store_true", help="TF32 matmuls in every training case (GPUs that have it)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument("--tiny", action="store_true", help="a CPU check: 2x8 model, 16 atoms, few structures")
    parser.add_argument("--only", default="",
                        help="comma-separated cases (extxyz,prepared,packed,small,small-warm,md,compiled; small: "
                             "small-warm too)")
    parser.add_argument("--work", default=None, help="scratch folder (default: a temporary one; data is reused)")
    parser.add_argument("--tag", default="", help="appended to the case names (runs sharing a --work)")
    parser.add_argument("--out", default="bench_training.json")
    args = parser.parse_args(argv)

    config = yaml.safe_load(Path(args.config).read_text())
    model = dict(config["model"])
    training_block = stage_training(config, "pretrain")
    element = config["datasets"][config["pretrain"]["dataset"]]["element"]
    if args.tiny:
        model.update(num_layers=1, num_features=8)
        args.atoms, args.train, args.val, args.epochs, args.md_steps = 16, 24, 4, 2, 100
        args.jobs = "2"
    training_block.update(max_epochs=args.epochs, num_workers=args.workers, compile=False, tf32=args.tf32, kernel="e3nn",
                          early_stopping={"patience": 10_000, "min_delta": 0.0,
                                          "monitor": training_block["early_stopping"].get("monitor", "forces_rmse")})
    cfg = {"model": model, "element": element, "threads": args.threads}
    cases = set(filter(None, args.only.split(","))) or {"extxyz", "prepared", "packed", "small", "md", "compiled"}
    if "small" in cases:
        cases.add("small-warm")

    work = Path(args.work or tempfile.mkdtemp(prefix="bench-training-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    files = {name: work / f"{name}.extxyz" for name in ("train", "val", "small")}
    lmdb = {name: work / f"{name}.lmdb" for name in files}
    data_key = {"atoms": args.atoms, "train": args.train, "val": args.val, "element": element, "r_max": model["r_max"]}
    if (work / "data.json").exists() and json.loads((work / "data.json").read_text()) == data_key:
        from ase.io import read

        start_atoms, prepare_s = read(files["small"], index=-1), 0.0   # an earlier run's data (same --work)
        print(f"data: reused from {work}", flush=True)
    else:
        frames = labelled_cells(args.train + args.val + 25, args.atoms, element, seed=7)
        write_extxyz(files["train"], frames[: args.train])
        write_extxyz(files["val"], frames[args.train: args.train + args.val])
        write_extxyz(files["small"], frames[args.train + args.val:])
        prepare_start = time.perf_counter()
        for name in files:
            prepare(files[name], lmdb[name], [element], model["r_max"])
        prepare_s = time.perf_counter() - prepare_start
        start_atoms = frames[-1]
        (work / "data.json").write_text(json.dumps(data_key))
        print(f"data: {len(frames)} cells of {args.atoms} atoms in {prepare_start - t0:.1f} s; "
              f"prepared (LMDB) in {prepare_s:.1f} s", flush=True)

    result = {"device": device_name(), "config": args.config, "tf32": args.tf32, "model": model, "atoms": args.atoms,
              "train": args.train, "val": args.val, "epochs": args.epochs, "workers": args.workers,
              "prepare_s": round(prepare_s, 2), "cases": [], "md": [], "errors": {}}
    small = {"max_epochs": 10, "batch_size": min(10, training_block["batch_size"])}
    suffix = {"e3nn": "", "openequivariance": "-oeq"}
    plan = [  # (case, what it adds to, how to measure it)
        ("extxyz", "cases", lambda: run_case(work, "extxyz" + args.tag, 1, (files["train"], files["val"]), cfg,
                                             {**training_block, "num_workers": 0})),
    ]
    kernel_blocks = [({**training_block, "kernel": kernel}, suffix[kernel] + args.tag)
                     for kernel in args.kernels.split(",")]
    jobs = [k for k in map(int, args.jobs.split(",")) if k > 1]
    md_jobs = [k for k in map(int, args.md_jobs.split(",")) if k > 1]

    def packs(suffix: str = "", md_dir: Path = work) -> list:  # the packed cases (training, then MD)
        return [
            *[("packed", "cases", lambda k=k, b=block, t=tag: run_case(
                work, f"packed{k}{t}{suffix}", k, (lmdb["train"], lmdb["val"]), cfg, b))
              for block, tag in kernel_blocks for k in jobs],
            *[("md", "md", lambda e=engine, k=k: md_packed(any_package(work), start_atoms, e, args.md_steps,
                                                           md_dir, k, args.threads))
              for engine in args.md_engines.split(",") for k in md_jobs],
        ]

    for block, tag in kernel_blocks:
        plan += [
            ("prepared", "cases", lambda b=block, t=tag: run_case(work, f"prepared{t}", 1, (lmdb["train"], lmdb["val"]),
                                                                  cfg, b)),
            ("small", "cases", lambda b=block, t=tag: run_case(work, f"small{t}", 1, (lmdb["small"], lmdb["val"]), cfg,
                                                               {**b, **small})),
        ]
        if warm_start_usable():
            plan.append(("small-warm", "cases", lambda b=block, t=tag: small_warm(
                work, f"small-warm{t}", (lmdb["small"], lmdb["val"]), cfg, {**b, **small})))
    plan += [("md", "md", lambda e=engine: md_speed(any_package(work), start_atoms, e, args.md_steps, work))
             for engine in args.md_engines.split(",")]
    plan += packs()
    if args.mps:  # the same packs again, each as clients of an MPS daemon started as the workflow starts it
        plan += [(case, section, under_mps(measure, work)) for case, section, measure in packs("-mps", work / "mps")]
    compiled_block = {**training_block, "compile": True}

    def compiled_first() -> dict:  # a user's first compiled job: nothing compiled yet
        empty_compile_caches(work)
        return run_case(work, "compiled-first" + args.tag, 1, (lmdb["train"], lmdb["val"]), cfg, compiled_block)

    plan += [
        ("compiled", "cases", compiled_first),
        ("compiled", "cases", lambda: run_case(work, "compiled" + args.tag, 1, (lmdb["train"], lmdb["val"]), cfg,
                                               compiled_block)),
        ("compiled", "cases", lambda: run_case(work, "small-compiled" + args.tag, 1, (lmdb["small"], lmdb["val"]),
                                               cfg, {**compiled_block, **small})),
    ]
    for case, section, measure in plan:
        if case not in cases or (case == "compiled" and not args.compile):
            continue
        try:
            result[section].append(measure())
        except Exception as error:  # one failing case must not lose the others' numbers
            key, n = f"{section}:{case}", 1  # a second failure of the same kind of case keeps the first's
            while key in result["errors"]:
                n += 1
                key = f"{section}:{case} ({n})"
            result["errors"][key] = f"{type(error).__name__}: {error}"
            print(f"  {case} failed: {error}", flush=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    result["total_s"] = round(time.perf_counter() - t0, 1)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    return result


def print_table(result: dict) -> None:
    print(f"\n{result['device']}: {result['atoms']}-atom cells, model "
          f"{result['model']['num_layers']}x{result['model']['num_features']}, {result['train']} training structures")
    print(f"{'case':<16}{'jobs':>5}{'struct/s/job':>14}{'struct/s/device':>17}{'GPU busy %':>12}{'fixed s':>9}"
          f"{'job s':>8}{'1st epoch +s':>14}")
    for c in result["cases"]:
        print(f"{c['case']:<16}{c['jobs']:>5}{c['structures_per_s_per_job'] or float('nan'):>14.1f}"
              f"{c['structures_per_s_per_device'] or float('nan'):>17.1f}{c['gpu_busy_percent'] or float('nan'):>12.1f}"
              f"{c['fixed_s']:>9.1f}{c.get('job_wall_s', float('nan')):>8.1f}{c['first_epoch_extra_s'] or float('nan'):>14.1f}")
    for m in result["md"]:
        if m.get("jobs", 1) > 1:
            print(f"MD {m['engine']}{', compiled' * m.get('compiled', False)}, {m['jobs']} runs at once: "
                  f"{m['steps_per_s']} steps/s per run, "
                  f"{m['steps_per_s_per_device']} per device")
            continue
        print(f"MD {m['engine']}{', compiled' * m.get('compiled', False)}: {m['steps_per_s']} steps/s "
              f"(set-up {m['setup_s']} s; per step: graph "
              f"{m['graph_ms']} ms, model {m['model_ms']} ms)")


if __name__ == "__main__":
    main()
