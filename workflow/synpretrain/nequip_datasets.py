"""The dataset classes rendered configs read training data with (importable by `_target_`): prepared
(LMDB) files, and extxyz files with their transforms applied once."""
from __future__ import annotations

import os
import pickle

import lmdb
import torch
from nequip.data.dataset import ASEDataset, NequIPLMDBDataset
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


class CachedASEDataset(ASEDataset):
    """NequIP's extxyz dataset, with each structure's transforms (type mapping, neighbour list)
    applied once and kept, instead of on every access: a fine-tuning set is read 30-300 times,
    and rebuilding its neighbour lists was ~8 % of a demo fine-tune on CPU.  The cached items are
    exactly what the transforms return, so training is unchanged to the bit.

    The cache holds up to `cache_mb` of tensors (neighbour lists dominate: ~80 kB per 64-atom
    carbon cell at r_max 4); structures beyond it are transformed on every access as before.
    Large sets belong in a prepared LMDB file (`training.prepare_data`)."""

    def __init__(self, *args, cache_mb: float = 1024.0, **kwargs):
        super().__init__(*args, **kwargs)
        self._cache: dict[int, dict] = {}
        self._budget = int(cache_mb * 2**20)

    def __getitems__(self, indices):
        if isinstance(indices, slice):
            indices = range(*indices.indices(len(self)))
        return [self._item(int(index)) for index in indices]

    def _item(self, index: int) -> dict:
        item = self._cache.get(index)
        if item is None:
            item = self._transform(self.data_list[index])
            size = sum(v.element_size() * v.nelement() for v in item.values() if isinstance(v, torch.Tensor))
            if size <= self._budget:
                self._cache[index] = item
                self._budget -= size
        return dict(item)  # a new dict, as `_transform` gives: callers may add or replace keys
