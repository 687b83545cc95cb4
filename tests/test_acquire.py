import hashlib

import pytest

from synpretrain.acquire import AcquireError, ChecksumError, acquire


@pytest.fixture
def published(tmp_path):
    path = tmp_path / "upstream" / "C-GAP-17.extxyz"
    path.parent.mkdir()
    path.write_bytes(b"2\nenergy=-1.0\nC 0 0 0\nC 0 0 1.4\n" * 100)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_with_full_and_prefix_checksums(tmp_path, published):
    source, digest = published
    for expected in (digest, digest[:12]):
        destination = tmp_path / "cache" / expected[:6] / "C-GAP-17.extxyz"
        info = acquire(destination, url=source.as_uri(), sha256_expected=expected)
        assert destination.read_bytes() == source.read_bytes()
        assert info["sha256"] == digest and info["origin"] == source.as_uri()


def test_wrong_checksum_leaves_nothing_and_says_what_was_expected(tmp_path, published):
    source, _ = published
    destination = tmp_path / "cache" / "C-GAP-17.extxyz"
    with pytest.raises(ChecksumError, match="datasets.c-gap-17: .*expected one starting with 8dd037b59c88"):
        acquire(destination, url=source.as_uri(), sha256_expected="8dd037b59c88", what="datasets.c-gap-17")
    assert not destination.exists() and list(destination.parent.iterdir()) == []


def test_local_copy_file_or_folder(tmp_path, published):
    source, digest = published
    for given in (source, source.parent):
        destination = tmp_path / "cache" / given.name / "C-GAP-17.extxyz"
        info = acquire(destination, url="https://example.org/data/C-GAP-17.extxyz", path=str(given),
                       sha256_expected=digest[:12])
        assert destination.read_bytes() == source.read_bytes() and info["origin"] == str(source)


def test_local_copy_with_wrong_checksum_is_not_cached(tmp_path, published):
    source, _ = published
    destination = tmp_path / "cache" / "C-GAP-17.extxyz"
    with pytest.raises(ChecksumError, match=r"accept it with `datasets.c-gap-17.sha256: [0-9a-f]{12}`"):
        acquire(destination, path=str(source), sha256_expected="0" * 64, what="datasets.c-gap-17")
    assert not destination.exists()


def test_failed_download_and_missing_path_are_explained(tmp_path):
    destination = tmp_path / "cache" / "x.zip"
    with pytest.raises(AcquireError, match=r"^Download .* by hand .* set the config's `path:`.*failed") as caught:
        acquire(destination, url=(tmp_path / "nowhere" / "x.zip").as_uri())
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no urllib traceback
    assert not destination.exists() and list(destination.parent.iterdir()) == []
    with pytest.raises(AcquireError, match="does not exist"):
        acquire(destination, path=str(tmp_path / "nowhere"))
    with pytest.raises(AcquireError, match="neither `url` nor `path`"):
        acquire(destination, what="datasets.si")
