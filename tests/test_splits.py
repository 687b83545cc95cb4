import numpy as np
import pytest

from synpretrain.splits import flagged_split, random_split


def test_random_split_follows_protocol_sizes():
    split = random_split(4000)
    assert len(split.test) == 400                   # min(1000, N // 10)
    assert len(split.val) == 100                    # min(N_rest // 10, 100)
    assert len(split.train) == 4000 - 400 - 100
    big = random_split(20000)
    assert len(big.test) == 1000 and len(big.val) == 100
    small = random_split(50)
    assert len(small.test) == 5 and len(small.val) == 4 and len(small.train) == 41


def test_random_split_is_a_deterministic_partition():
    a, b = random_split(500), random_split(500)
    for name in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    together = np.concatenate([a.train, a.val, a.test])
    assert sorted(together.tolist()) == list(range(500))
    assert not np.array_equal(a.train, np.sort(a.train))  # shuffled
    c = random_split(500, seed=7)
    assert not np.array_equal(a.test, c.test)


def test_explicit_sizes_and_impossible_sizes():
    split = random_split(100, test_size=24, val_size=10)
    assert (len(split.train), len(split.val), len(split.test)) == (66, 10, 24)
    with pytest.raises(ValueError, match="non-empty train"):
        random_split(10, test_size=5, val_size=5)


def test_flagged_split_keeps_the_published_test_set_and_nests_train():
    is_test = np.zeros(1000, dtype=bool)
    is_test[::10] = True                             # 100 published test structures
    split = flagged_split(is_test)
    np.testing.assert_array_equal(split.test, np.flatnonzero(is_test))
    assert len(split.val) == 100 and len(split.train) == 800
    assert not set(split.train) & set(split.test) and not set(split.val) & set(split.test)
    # "a run with n structures takes the first n": one shuffled order, the same on every call, so
    # the first n are a random sample and nested across n (test_workflow checks the subset files)
    assert not np.array_equal(split.train, np.sort(split.train))
    np.testing.assert_array_equal(flagged_split(is_test).train, split.train)
    assert not np.array_equal(flagged_split(is_test, seed=7).train, split.train)
