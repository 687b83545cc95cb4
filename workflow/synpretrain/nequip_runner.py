"""`python -m synpretrain.nequip_runner DIR PACKAGE [override ...]`: train, then package, in one process.

`nequip-train` and `nequip-package` are two console scripts that each import torch, Lightning and
NequIP (about 5 s on a laptop core).  Running NequIP's own two entry points in one process halves
that per model, which matters when a learning curve is hundreds of short fine-tuning runs.  The
training is still NequIP's Hydra `main`, run on the config that `nequip_config` rendered into DIR.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

CONFIG_NAME = "config"
PHASES = "phases.json"  # seconds of this attempt's import, training and packaging


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out_dir, package = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    clock = time.perf_counter()
    phases = {}
    from nequip.scripts import package as nequip_package
    from nequip.scripts import train as nequip_train

    phases["import_s"] = time.perf_counter() - clock

    sys.argv = ["nequip-train", "-cp", str(out_dir), "-cn", CONFIG_NAME, f"hydra.run.dir={out_dir}", *argv[2:]]
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
    nequip_package.main(args=["build", str(best), str(package)])
    phases["package_s"] = time.perf_counter() - clock - phases["import_s"] - phases["train_s"]
    (out_dir / PHASES).write_text(json.dumps({k: round(v, 3) for k, v in phases.items()}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
