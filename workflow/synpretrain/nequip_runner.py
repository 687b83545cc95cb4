"""`python -m synpretrain.nequip_runner DIR PACKAGE [--evaluate TEST METRICS]... [--only-evaluate] [--device D] [override ...]`:
train, package and evaluate one model in one process.

`nequip-train` and `nequip-package` are two console scripts that each import torch, Lightning and
NequIP (about 5 s on a laptop core), and a separate evaluation job would pay that a third time.
Running NequIP's own entry points and the evaluation in one process pays it once, which matters
when a learning curve is hundreds of short fine-tuning runs (and on a CPU machine the process is
forked from one that has imported them already: `synpretrain.warm`).  The training is still NequIP's Hydra
`main`, run on the config that `nequip_config` rendered into DIR; the evaluation is
`synpretrain.evaluation.evaluate` on the package just written (each `--evaluate` writes the metrics
of one labelled extxyz TEST to METRICS).  `--only-evaluate` evaluates an existing PACKAGE.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

CONFIG_NAME = "config"
PHASES = "phases.json"  # seconds of this attempt's import, training, packaging and evaluation


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m synpretrain.nequip_runner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("package", type=Path)
    parser.add_argument("--evaluate", nargs=2, action="append", default=[], metavar=("TEST", "METRICS"),
                        help="evaluate the package on TEST (labelled extxyz), metrics JSON to METRICS")
    parser.add_argument("--only-evaluate", action="store_true", help="PACKAGE exists: evaluate it only")
    parser.add_argument("--device", help="evaluate on this torch device (default: the GPU if there is one)")
    args, overrides = parser.parse_known_args(argv)
    args.overrides = overrides  # Hydra overrides for nequip-train (`++ckpt_path=...`)
    return args


def train_and_package(out_dir: Path, package: Path, overrides: list[str], phases: dict) -> int:
    clock = time.perf_counter()
    from nequip.scripts import package as nequip_package
    from nequip.scripts import train as nequip_train

    from .model_builds import one_network_per_package, remember_activation_moments

    phases["import_s"] = time.perf_counter() - clock
    remember_activation_moments()
    sys.argv = ["nequip-train", "-cp", str(out_dir), "-cn", CONFIG_NAME, f"hydra.run.dir={out_dir}", *overrides]
    print("$ " + " ".join(sys.argv), flush=True)
    try:
        nequip_train.main()
    except SystemExit as exit_:  # Hydra exits on errors
        if exit_.code not in (0, None):
            return int(exit_.code) if isinstance(exit_.code, int) else 1
    phases["train_s"] = time.perf_counter() - clock - phases["import_s"]
    best = out_dir / "best.ckpt"
    if not best.exists():
        print(f"nequip-train finished without writing {best}", file=sys.stderr)
        return 1
    print(f"$ nequip-package build {best} {package}", flush=True)
    with one_network_per_package():
        nequip_package.main(args=["build", str(best), str(package)])
    phases["package_s"] = time.perf_counter() - clock - phases["import_s"] - phases["train_s"]
    return 0


def evaluate_package(package: Path, evaluations: list[tuple[str, str]], phases: dict, device: str | None) -> None:
    from .evaluation import default_device, evaluate
    from .io import read_extxyz, write_json
    from .runlog import progress

    clock = time.perf_counter()
    device = device or default_device()  # the training's own GPU (or the CPU)
    for test, metrics_path in evaluations:
        frames = read_extxyz(test)
        bar = progress(len(frames), f"predicting {Path(test).name}", sys.stdout)
        metrics = evaluate(package, frames, device=device, progress=bar)
        bar.close()
        write_json(metrics_path, {**metrics, "device": device})
        print(f"{test}: {metrics}", flush=True)
    phases["evaluate_s"] = time.perf_counter() - clock


def main(argv: list[str]) -> int:
    args = parse(argv)
    out_dir, package = args.out_dir.resolve(), args.package.resolve()
    phases: dict[str, float] = {}
    if not args.only_evaluate:
        code = train_and_package(out_dir, package, args.overrides, phases)
        if code:
            return code
    evaluate_package(package, args.evaluate, phases, args.device)
    if not args.only_evaluate:
        from .warm import forked

        # warm_start: forked from the warm server, so the imports were done before this process began
        phases = {**{k: round(v, 3) for k, v in phases.items()}, "warm_start": forked()}
        (out_dir / PHASES).write_text(json.dumps(phases) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
