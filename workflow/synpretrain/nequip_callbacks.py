"""Lightning callbacks that the rendered NequIP configs use (importable by `_target_`)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from lightning.pytorch.callbacks import Callback, Checkpoint


class EpochTimer(Callback):
    """Append one JSON line per epoch to `path`: seconds of training and of validation, the
    structures seen, and the Unix time the epoch ended.  Throughput (structures/s), the compile
    overhead of the first epoch and the compute ledger are read from it."""

    def __init__(self, path: str):
        self.path = path
        self._train_start = self._val_start = None

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._train_start, self._val_start = time.perf_counter(), None

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._val_start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if self._train_start is None:
            return
        end = time.perf_counter()
        val_start = self._val_start or end
        record = {"epoch": int(trainer.current_epoch), "train_s": round(val_start - self._train_start, 4),
                  "val_s": round(end - val_start, 4), "n_train": _count(trainer.train_dataloader),
                  "n_val": _count(trainer.val_dataloaders), "unix_time": round(time.time(), 3)}
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")


class LastCheckpoint(Checkpoint):
    """`path` (last.ckpt) at the end of a training epoch, written atomically: what a killed job
    resumes from.  At most every `every_s` seconds (a job killed loses at most that much training;
    epochs of a real training take longer, so it is then every epoch; a tiny test training of
    9000 short epochs would spend most of its time writing checkpoints).

    Lightning's `ModelCheckpoint(save_last=True)` writes last.ckpt only when it saves a new best, so
    a job killed on a plateau of the validation error would restart from its last best epoch (the
    SLURM e2e test saw one restart three times from epoch 472 of 9000).  Saved where ModelCheckpoint
    saves when validation runs every epoch: at the end of the training epoch, after validation (and
    NequIP's EMA weight swap) is over; a `Checkpoint` subclass runs after the other callbacks, so
    the early-stopping state of the epoch is in the file."""

    def __init__(self, path: str, every_s: float = 30.0):
        self.path, self.every_s = Path(path), every_s
        self._saved = time.monotonic()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        last_epoch = trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
        if time.monotonic() - self._saved < self.every_s and not last_epoch and not trainer.should_stop:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        trainer.save_checkpoint(tmp)
        os.replace(tmp, self.path)
        self._saved = time.monotonic()


def _count(loader) -> int | None:
    loaders = loader if isinstance(loader, (list, tuple)) else [loader]
    try:
        return sum(len(item.dataset) for item in loaders)
    except (AttributeError, TypeError):
        return None
