"""Hostile and broken layers: bounded work, a failed scan with a reason, never a crash."""

from __future__ import annotations

import gzip
import io
import tarfile
import tracemalloc

from tests.unit.scanning.helpers import gz, index, tar_bytes, zst
from wharf.scanning.limits import ScanLimits
from wharf.scanning.stream import looks_like_layer


def _zeros_tar_gz(size: int) -> bytes:
    """A tar holding one file of `size` zero bytes, gzip-compressed in streaming fashion."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gzf, \
            tarfile.open(fileobj=gzf, mode="w|") as tar:
        info = tarfile.TarInfo("zeros")
        info.size = size
        tar.addfile(info, _Zeros(size))
    return out.getvalue()


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return b"\x00" * n


def test_decompression_bomb_fails_with_bounded_memory() -> None:
    bomb = _zeros_tar_gz(256 << 20)  # 256 MiB of zeros in ~250 KiB
    assert len(bomb) < 1 << 20
    tracemalloc.start()
    inv = index(bomb, ScanLimits(ratio_grace_bytes=8 << 20, max_compression_ratio=100))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert inv.status == "failed"
    assert "decompression bomb" in (inv.reason or "")
    assert peak < 32 << 20


def test_total_decompressed_bytes_are_capped() -> None:
    inv = index(_zeros_tar_gz(4 << 20), ScanLimits(max_decompressed_bytes=1 << 20))
    assert inv.status == "failed"
    assert "decompresses to more than" in (inv.reason or "")


def test_huge_package_database_member() -> None:
    status = b"Package: x\nVersion: 1\n\n" * 100_000  # 2.3 MB
    inv = index(gz(tar_bytes({"var/lib/dpkg/status": status})),
                ScanLimits(max_file_bytes=1 << 20))
    assert inv.status == "failed"
    assert "limit for package files" in (inv.reason or "")


def test_deeply_nested_paths() -> None:
    deep = "/".join(["d"] * 200) + "/file"
    inv = index(tar_bytes({deep: b"x"}))
    assert inv.status == "failed"
    assert "nested deeper than 128" in (inv.reason or "")


def test_too_many_entries() -> None:
    inv = index(tar_bytes({f"f{i}": b"" for i in range(50)}), ScanLimits(max_entries=20))
    assert inv.status == "failed"
    assert "more than 20 archive entries" in (inv.reason or "")


def test_time_limit() -> None:
    inv = index(tar_bytes({f"f{i}": b"" for i in range(600)}), ScanLimits(max_seconds=0))
    assert inv.status == "failed"
    assert "longer than" in (inv.reason or "")


def test_broken_gzip() -> None:
    inv = index(b"\x1f\x8b\x08\x00" + b"\xff" * 4000)
    assert inv.status == "failed"
    assert "broken gzip stream" in (inv.reason or "")


def test_truncated_gzip_and_tar() -> None:
    data = tar_bytes({"var/lib/dpkg/status": b"Package: a\nVersion: 1\n" * 5000})
    assert "truncated" in (index(gz(data)[:-100]).reason or "")
    assert "truncated" in (index(data[:1500]).reason or "")


def test_broken_zstd() -> None:
    data = zst(tar_bytes({"a": b"x" * 10000}))
    inv = index(data[:8] + b"\x00" * 100 + data[108:])
    assert inv.status == "failed"
    assert "zstd" in (inv.reason or "") or "tar" in (inv.reason or "")


def test_not_a_tar() -> None:
    inv = index(b"{" + b"x" * 2000)
    assert inv.status == "failed"
    assert "tar header" in (inv.reason or "")


def test_symlink_escaping_the_root() -> None:
    inv = index(tar_bytes({}, symlinks={"var/lib/dpkg/status": "../../../../etc/shadow"}))
    assert inv.status == "failed"
    assert "points outside the layer root" in (inv.reason or "")


def test_symlinks_inside_the_root_are_fine_and_never_followed() -> None:
    inv = index(tar_bytes({"usr/lib/os-release": b"ID=debian\nVERSION_ID=12\n"},
                          symlinks={"etc/os-release": "../usr/lib/os-release",
                                    "bin": "/usr/bin"}))
    assert inv.status == "ok"
    assert inv.os_release is not None
    assert inv.os_release.origin == "usr/lib/os-release"


def test_entry_climbing_out_with_dotdot() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../../etc/cron.d/evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    inv = index(buf.getvalue())
    assert inv.status == "failed"
    assert "climbs out of the layer" in (inv.reason or "")


def test_oversized_pax_header() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("file")
        info.pax_headers = {"comment": "x" * (2 << 20)}
        tar.addfile(info, io.BytesIO(b""))
    inv = index(buf.getvalue())
    assert inv.status == "failed"
    assert "header extension larger than" in (inv.reason or "")


def test_layer_sniffing() -> None:
    assert looks_like_layer(gz(b"abc"))
    assert looks_like_layer(zst(b"abc"))
    assert looks_like_layer(tar_bytes({"a": b"1"})[:1024])
    assert not looks_like_layer(b'{"architecture": "amd64"}')


def test_multi_member_gzip_and_trailing_zeros() -> None:
    tar = tar_bytes({"var/lib/dpkg/status": b"Package: a\nVersion: 1\n"})
    half = len(tar) // 2
    data = gzip.compress(tar[:half]) + gzip.compress(tar[half:]) + b"\x00" * 64
    inv = index(data)
    assert inv.status == "ok", inv.reason
    assert [p.name for p in inv.packages] == ["a"]
