"""Deterministic train/validation/test splits (docs/protocol.md, "Datasets and splits").

Splits are index arrays into a dataset's structures.  The train part keeps its shuffled order,
so "the first n training structures" are nested across n and identical for every seed.
"""
from __future__ import annotations

import dataclasses

import numpy as np

SHUFFLE_SEED = 42


@dataclasses.dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "val": self.val, "test": self.test}


def shuffled(indices, seed: int = SHUFFLE_SEED) -> np.ndarray:
    indices = np.asarray(indices, dtype=int)
    return indices[np.random.default_rng(seed).permutation(len(indices))]


def default_test_size(n: int) -> int:
    return min(1000, n // 10)


def default_val_size(n_rest: int) -> int:
    return min(n_rest // 10, 100)


def random_split(n: int, seed: int = SHUFFLE_SEED, test_size: int | None = None,
                 val_size: int | None = None) -> Split:
    """For datasets without a split flag: shuffle; test = the last `test_size`, validation = the
    last `val_size` of the remainder, train = the rest (sizes default to docs/protocol.md's rule)."""
    order = shuffled(np.arange(n), seed)
    n_test = default_test_size(n) if test_size is None else int(test_size)
    rest, test = order[: n - n_test], order[n - n_test:]
    n_val = default_val_size(len(rest)) if val_size is None else int(val_size)
    if n_test < 0 or n_val < 0 or n_test + n_val >= n:
        raise ValueError(f"cannot split {n} structures into test={n_test}, val={n_val} and a "
                         "non-empty train set")
    return Split(train=rest[: len(rest) - n_val], val=rest[len(rest) - n_val:], test=test)


def flagged_split(is_test, seed: int = SHUFFLE_SEED, val_size: int = 100) -> Split:
    """For datasets with a published train/test flag (C-GAP-17): keep the test part; shuffle the
    train part with `seed`, its last `val_size` are validation, the rest is train."""
    is_test = np.asarray(is_test, dtype=bool)
    test = np.flatnonzero(is_test)
    order = shuffled(np.flatnonzero(~is_test), seed)
    if val_size >= len(order):
        raise ValueError(f"validation size {val_size} leaves no training structures ({len(order)} flagged train)")
    return Split(train=order[: len(order) - val_size], val=order[len(order) - val_size:], test=test)
