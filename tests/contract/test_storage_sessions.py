"""Writers continued across requests and nodes (upload sessions), for every driver.

A second driver object over the same store stands in for another node: for S3 it shares
nothing with the first but the bucket.
"""

from __future__ import annotations

import hashlib

import pytest

from wharf.storage.driver import NotFoundError, StorageDriver
from wharf.storage.s3 import S3Driver

MiB = 1 << 20


def other_node(driver: StorageDriver) -> StorageDriver:
    if isinstance(driver, S3Driver):
        return S3Driver(driver.bucket, prefix=driver.prefix, client=driver.client,
                        part_size=driver.part_size)
    return driver


def pattern(size: int, seed: int) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest() * 2048  # 64 KiB
    return (block * (size // len(block) + 1))[:size]


# Chunk sizes around S3's 5 MiB part floor and the default 8 MiB part size.
CHUNKS = [1, 100_000, 5 * MiB - 1, 3, 5 * MiB + 7, 6 * MiB, 2, 9 * MiB + 1, 17]


def test_append_sessions_of_any_chunk_size_across_nodes(driver: StorageDriver) -> None:
    nodes = [driver, other_node(driver), other_node(driver)]
    key = "uploads/s1/data"
    expected = b""
    for i, size in enumerate(CHUNKS):
        node = nodes[i % len(nodes)]
        w = node.writer(key, append=True)
        assert w.size == len(expected)
        chunk = pattern(size, i)
        # Writes arrive in pieces of varying size within one request, too.
        for start in range(0, size, 700_001):
            w.write(chunk[start:start + 700_001])
        w.commit()
        expected += chunk
        info = nodes[(i + 1) % len(nodes)].stat(key)
        assert info is not None
        assert info.size == len(expected)
    assert hashlib.sha256(b"".join(nodes[1].read(key))).digest() == \
        hashlib.sha256(expected).digest()
    nodes[2].move(key, "blobs/x/final")
    assert nodes[0].stat(key) is None
    assert nodes[1].get("blobs/x/final") == expected
    assert b"".join(nodes[0].read("blobs/x/final", 5 * MiB - 3, 10)) == \
        expected[5 * MiB - 3:5 * MiB + 7]
    driver.delete("uploads/s1")
    driver.delete("blobs")
    assert list(driver.list("uploads")) == []


def test_read_in_the_middle_of_a_session_then_continue(driver: StorageDriver) -> None:
    key = "uploads/s2/data"
    first, second, third = pattern(6 * MiB + 3, 1), pattern(2 * MiB, 2), pattern(7 * MiB, 3)
    for chunk in (first,):
        w = driver.writer(key, append=True)
        w.write(chunk)
        w.commit()
    assert driver.get(key) == first  # another node rebuilding the digest reads it
    w = other_node(driver).writer(key, append=True)
    w.write(second)
    w.commit()
    assert b"".join(driver.read(key, len(first) - 2, 4)) == (first + second)[len(first) - 2:
                                                                               len(first) + 2]
    w = driver.writer(key, append=True)
    w.write(third)
    w.commit()
    assert driver.get(key) == first + second + third
    driver.delete("uploads/s2")
    assert driver.stat(key) is None


def test_cancel_drops_only_the_uncommitted_bytes(driver: StorageDriver) -> None:
    key = "uploads/s3/data"
    w = driver.writer(key, append=True)
    w.write(b"kept")
    w.commit()
    w = driver.writer(key, append=True)
    w.write(pattern(6 * MiB, 4))
    w.cancel()
    assert driver.get(key) == b"kept"
    driver.delete("uploads/s3")


def test_open_keys_are_listed_and_deleted_with_their_prefix(driver: StorageDriver) -> None:
    w = driver.writer("uploads/s4/data", append=True)
    w.write(pattern(6 * MiB, 5))
    w.commit()
    driver.put("uploads/s4/other", b"1")
    assert sorted(driver.list("uploads/s4")) == ["uploads/s4/data", "uploads/s4/other"]
    driver.delete("uploads/s4")
    assert list(driver.list("uploads")) == []
    with pytest.raises(NotFoundError):
        driver.get("uploads/s4/data")
