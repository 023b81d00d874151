"""The storage driver contract, run against every driver."""

from __future__ import annotations

import pytest

from wharf.storage.driver import NotFoundError, StorageDriver
from wharf.storage.keys import InvalidKeyError


def test_put_get_stat(driver: StorageDriver) -> None:
    driver.put("a/b/c", b"hello")
    assert driver.get("a/b/c") == b"hello"
    info = driver.stat("a/b/c")
    assert info is not None
    assert info.size == 5
    assert driver.stat("a/b/missing") is None


def test_missing_key_raises_not_found(driver: StorageDriver) -> None:
    with pytest.raises(NotFoundError):
        driver.get("nope")
    with pytest.raises(NotFoundError):
        list(driver.read("nope"))
    with pytest.raises(NotFoundError):
        driver.move("nope", "other")


def test_ranged_read(driver: StorageDriver) -> None:
    data = bytes(range(256)) * 100
    driver.put("blob", data)
    assert b"".join(driver.read("blob")) == data
    assert b"".join(driver.read("blob", 10, 20)) == data[10:30]
    assert b"".join(driver.read("blob", 25_590)) == data[25_590:]
    assert b"".join(driver.read("blob", 0, None, chunk_size=7)) == data


def test_writer_appends_and_commits(driver: StorageDriver) -> None:
    w = driver.writer("up/data")
    w.write(b"abc")
    w.commit()
    w = driver.writer("up/data", append=True)
    assert w.size == 3
    w.write(b"def")
    assert w.size == 6
    w.commit()
    assert driver.get("up/data") == b"abcdef"


def test_writer_cancel_leaves_nothing(driver: StorageDriver) -> None:
    w = driver.writer("tmp/data")
    w.write(b"x")
    w.cancel()
    assert driver.stat("tmp/data") is None


def test_move_replaces_atomically(driver: StorageDriver) -> None:
    driver.put("src", b"new")
    driver.put("dst/x", b"old")
    driver.move("src", "dst/x")
    assert driver.get("dst/x") == b"new"
    assert driver.stat("src") is None


def test_list_and_delete_prefix(driver: StorageDriver) -> None:
    for key in ("p/a", "p/b/c", "q/d"):
        driver.put(key, b"1")
    assert sorted(driver.list("p")) == ["p/a", "p/b/c"]
    driver.delete("p")
    assert list(driver.list("q")) == ["q/d"]
    assert driver.stat("p/a") is None
    driver.delete("p")  # deleting what is gone is not an error


@pytest.mark.parametrize("key", ["../x", "a/../../x", "/abs", "a//b", "", ".", "a/./b", "a\\b",
                                 "a/.hidden/../b", "%2e%2e/x"])
def test_keys_cannot_escape(driver: StorageDriver, key: str) -> None:
    with pytest.raises(InvalidKeyError):
        driver.put(key, b"x")
    with pytest.raises(InvalidKeyError):
        driver.stat(key)
