"""The dataset class rendered configs read prepared (LMDB) files with (importable by `_target_`)."""
from __future__ import annotations

import os
import pickle

import lmdb
from nequip.data.dataset import NequIPLMDBDataset
from nequip.data.dataset.lmdb_dataset import NUM_FRAMES_METADATA_KEY


class PreparedDataset(NequIPLMDBDataset):
    """NequIP's LMDB dataset, with one open environment per file, shared by everything in a process.

    `nequip-train` builds the training datasets twice in one process (for the data statistics,
    then for fitting) and the first one may still be alive when the second opens the file, which
    py-lmdb refuses ("already open in this process").  A DataLoader worker forked after the parent
    opened the file inherits that refusal (py-lmdb >= 3 keeps its registry of open files across
    fork), so it reads through the inherited environment: safe here, because the file is opened
    read-only and without locks (nothing writes it), so LMDB keeps no per-process reader state."""

    _environments: dict[str, lmdb.Environment] = {}

    def _get_env(self):
        key = os.path.abspath(self.file_path)
        if key not in self._environments:
            self._environments[key] = lmdb.open(self.file_path, readonly=True, lock=False, readahead=False,
                                                subdir=False, max_readers=2048)
        return self._environments[key]

    def _get_length(self):
        with self._get_env().begin() as txn:
            metadata = txn.get(b"__metadata__")
            return int(pickle.loads(metadata)[NUM_FRAMES_METADATA_KEY]) if metadata else txn.stat()["entries"]

    def __del__(self):  # the environment is shared: it stays open for the process's lifetime
        pass
