"""Package databases read from layers built here."""

from __future__ import annotations

import io
import json
import sqlite3
import struct
import zipfile
from pathlib import Path

import pytest

from tests.unit.scanning.helpers import gz, index, tar_bytes, zst
from wharf.scanning.extract.gobinary import MAGIC, packages_from_buildinfo, parse_buildinfo
from wharf.scanning.extract.rpmdb import parse_header
from wharf.scanning.limits import ScanLimits

DPKG = b"""Package: libc6
Status: install ok installed
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library
 continuation line: Version: 9.9

Package: bash
Status: install ok installed
Version: 5.2.15-2+b2
Source: bash (5.2.15-2)

Package: removed-thing
Status: deinstall ok config-files
Version: 1.0
"""

APK = b"""C:Q1abc=
P:musl
V:1.2.4-r2
o:musl
A:x86_64

P:libcrypto3
V:3.1.4-r1
o:openssl
"""


def test_dpkg_status_with_sources_and_removed_packages() -> None:
    inv = index(gz(tar_bytes({"var/lib/dpkg/status": DPKG,
                              "etc/os-release": b'ID=debian\nVERSION_ID="12"\n'})))
    assert inv.status == "ok"
    found = {(p.name, p.version, p.source_name, p.source_version) for p in inv.packages}
    assert found == {("libc6", "2.36-9+deb12u4", "glibc", ""),
                     ("bash", "5.2.15-2+b2", "", "5.2.15-2")}
    assert inv.os_release is not None
    assert (inv.os_release.id, inv.os_release.version_id) == ("debian", "12")


def test_distroless_status_d() -> None:
    inv = index(tar_bytes({"var/lib/dpkg/status.d/base": b"Package: base-files\nVersion: 12.4\n",
                           "var/lib/dpkg/status.d/base.md5sums": b"abc  etc/x\n"}))
    assert [(p.name, p.version, p.origin) for p in inv.packages] == [
        ("base-files", "12.4", "var/lib/dpkg/status.d/base")]


def test_real_dpkg_status_of_this_machine() -> None:
    data = Path("/var/lib/dpkg/status").read_bytes()
    inv = index(zst(tar_bytes({"var/lib/dpkg/status": data})))
    assert inv.compression == "zstd"
    names = {p.name for p in inv.packages}
    assert "libc6" in names
    assert len(names) > 100


def test_apk_installed() -> None:
    inv = index(gz(tar_bytes({"lib/apk/db/installed": APK,
                              "etc/os-release": b"ID=alpine\nVERSION_ID=3.19.1\n"})))
    assert {(p.name, p.version, p.source_name) for p in inv.packages} == {
        ("musl", "1.2.4-r2", ""), ("libcrypto3", "3.1.4-r1", "openssl")}


def _rpm_header(tags: dict[int, str | int]) -> bytes:
    """An RPM header blob as rpmdb.sqlite stores it (rpm lib/header.c layout)."""
    index_entries, store = b"", b""
    for tag, value in tags.items():
        if isinstance(value, int):
            store += b"\x00" * (-len(store) % 4)  # INT32 data is 4-byte aligned
            index_entries += struct.pack(">iiii", tag, 4, len(store), 1)
            store += struct.pack(">i", value)
        else:
            index_entries += struct.pack(">iiii", tag, 6, len(store), 1)
            store += value.encode() + b"\x00"
    return struct.pack(">ii", len(tags), len(store)) + index_entries + store


def _rpmdb(tmp_path: Path, headers: list[bytes]) -> bytes:
    path = tmp_path / "rpmdb.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB)")
    conn.executemany("INSERT INTO Packages (blob) VALUES (?)", [(h,) for h in headers])
    conn.commit()
    conn.close()
    return path.read_bytes()


def test_rpm_sqlite_database(tmp_path: Path) -> None:
    db = _rpmdb(tmp_path, [
        _rpm_header({1000: "openssl-libs", 1001: "3.0.7", 1002: "27.el9", 1003: 1,
                     1044: "openssl-3.0.7-27.el9.src.rpm"}),
        _rpm_header({1000: "bash", 1001: "5.1.8", 1002: "9.el9", 1044: "bash-5.1.8-9.el9.src.rpm"}),
        _rpm_header({1000: "gpg-pubkey", 1001: "fd431d51", 1002: "4ae0493b"}),
    ])
    inv = index(gz(tar_bytes({"var/lib/rpm/rpmdb.sqlite": db,
                              "etc/os-release": b'ID="rocky"\nVERSION_ID="9.3"\n'})))
    assert inv.status == "ok", inv.reason
    assert {(p.name, p.version, p.source_name) for p in inv.packages} == {
        ("openssl-libs", "1:3.0.7-27.el9", "openssl"), ("bash", "5.1.8-9.el9", "")}


def test_rpm_header_out_of_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_header(struct.pack(">ii", 1, 4) + struct.pack(">iiii", 1000, 6, 99, 1) + b"abc\0")


def test_broken_rpm_database_fails_the_scan() -> None:
    inv = index(tar_bytes({"var/lib/rpm/rpmdb.sqlite": b"SQLite format 3\x00garbage" * 10}))
    assert inv.status == "failed"
    assert "rpm database" in (inv.reason or "")


def test_python_dist_info_and_egg_info() -> None:
    inv = index(gz(tar_bytes({
        "usr/lib/python3/site-packages/Django-2.2.dist-info/METADATA":
            b"Metadata-Version: 2.1\nName: Django\nVersion: 2.2\n\nName: not-this\n",
        "usr/lib/python3/dist-packages/PyYAML.egg-info/PKG-INFO":
            b"Metadata-Version: 1.1\nName: PyYAML\nVersion: 5.3\n",
        "usr/lib/python3/dist-packages/zope.interface-5.0.egg-info":
            b"Metadata-Version: 1.1\nName: zope.interface\nVersion: 5.0\n",
    })))
    assert {(p.kind, p.name, p.version) for p in inv.packages} == {
        ("python", "django", "2.2"), ("python", "pyyaml", "5.3"),
        ("python", "zope-interface", "5.0")}


def test_npm_package_json_only_directly_under_node_modules() -> None:
    inv = index(gz(tar_bytes({
        "app/node_modules/lodash/package.json": json.dumps(
            {"name": "lodash", "version": "4.17.15"}).encode(),
        "app/node_modules/@babel/core/package.json": json.dumps(
            {"name": "@babel/core", "version": "7.0.0"}).encode(),
        "app/node_modules/lodash/fp/package.json": b'{"name": "fp-internal", "version": "1"}',
        "app/node_modules/broken/package.json": b"{not json",
        "app/package.json": b'{"name": "my-app", "version": "1.0.0"}',
    })))
    assert {(p.name, p.version) for p in inv.packages} == {("lodash", "4.17.15"),
                                                           ("@babel/core", "7.0.0")}


def _jar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def test_java_jar_with_pom_properties_and_nested_jars() -> None:
    inner = _jar({"META-INF/maven/org.yaml/snakeyaml/pom.properties":
                  b"groupId=org.yaml\nartifactId=snakeyaml\nversion=1.33\n"})
    outer = _jar({
        "META-INF/MANIFEST.MF": b"Manifest-Version: 1.0\nImplementation-Title: app\n",
        "META-INF/maven/com.acme/app/pom.properties":
            b"#generated\ngroupId=com.acme\nartifactId=app\nversion=2.0.1\n",
        "BOOT-INF/lib/snakeyaml-1.33.jar": inner,
    })
    plain = _jar({"META-INF/MANIFEST.MF":
                  b"Manifest-Version: 1.0\nBundle-SymbolicName: org.example.lib;singleton:=true\n"
                  b"Bundle-Version: 3.1\n"})
    inv = index(gz(tar_bytes({"opt/app.jar": outer, "opt/lib/plain.jar": plain})))
    assert inv.status == "ok", inv.reason
    assert {(p.kind, p.name, p.version, p.origin) for p in inv.packages} == {
        ("maven", "com.acme:app", "2.0.1", "opt/app.jar"),
        ("maven", "org.yaml:snakeyaml", "1.33", "opt/app.jar"),
        ("jar", "org.example.lib", "3.1", "opt/lib/plain.jar")}


def test_jar_nesting_beyond_the_limit_fails() -> None:
    jar = _jar({"META-INF/maven/a/b/pom.properties": b"groupId=a\nartifactId=b\nversion=1\n"})
    for level in range(5):
        jar = _jar({f"lib/level{level}.jar": jar})
    inv = index(tar_bytes({"opt/deep.jar": jar}), ScanLimits(max_nesting=3))
    assert inv.status == "failed"
    assert "nested deeper than 3" in (inv.reason or "")


def _go_elf(modinfo: str, version: str = "go1.21.5") -> bytes:
    """A minimal 64-bit ELF whose writable PT_LOAD segment starts with Go build info."""
    sentinel_a = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
    sentinel_b = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"
    mod = sentinel_a + modinfo.encode() + sentinel_b

    def varint(n: int) -> bytes:
        out = b""
        while n >= 0x80:
            out += bytes([(n & 0x7F) | 0x80])
            n >>= 7
        return out + bytes([n])

    blob = MAGIC + bytes([8, 2]) + b"\x00" * 16
    blob += varint(len(version)) + version.encode() + varint(len(mod)) + mod
    data_offset = 0x20000  # beyond the 64 KiB read at the start
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4], header[5] = 2, 1  # 64-bit, little endian
    struct.pack_into("<Q", header, 0x20, 64)  # program headers right after
    struct.pack_into("<HH", header, 0x36, 56, 1)
    phdr = struct.pack("<IIQQQQQQ", 1, 6, data_offset, 0, 0, len(blob), len(blob), 0x1000)
    body = bytes(header) + phdr
    return body + b"\x00" * (data_offset - len(body)) + blob + b"\x00" * 1024


def test_go_binary_build_info() -> None:
    modinfo = ("path\tgithub.com/acme/tool\nmod\tgithub.com/acme/tool\tv1.2.0\t\n"
               "dep\tgolang.org/x/net\tv0.7.0\th1:x\n"
               "dep\tgithub.com/old/lib\tv1.0.0\th1:y\n=>\tgithub.com/new/lib\tv1.1.0\th1:z\n")
    inv = index(gz(tar_bytes({"usr/local/bin/tool": _go_elf(modinfo)}, mode=0o755)))
    assert inv.status == "ok", inv.reason
    assert {(p.name, p.version) for p in inv.packages} == {
        ("stdlib", "1.21.5"), ("github.com/acme/tool", "v1.2.0"),
        ("golang.org/x/net", "v0.7.0"), ("github.com/new/lib", "v1.1.0")}
    assert all(p.kind == "go" and p.origin == "usr/local/bin/tool" for p in inv.packages)


def test_go_build_info_parsing_edge_cases() -> None:
    assert parse_buildinfo(b"no magic here") is None
    legacy = MAGIC + bytes([8, 0]) + b"\x00" * 32  # Go < 1.18: pointers, not inline
    assert parse_buildinfo(legacy) is None
    assert packages_from_buildinfo("go1.20", "mod\tx\t(devel)\t\n", "bin") == [
        packages_from_buildinfo("go1.20", "", "bin")[0]]


@pytest.mark.skipif(not Path("/usr/bin/skopeo").exists(), reason="needs a Go binary")
def test_real_go_binary_on_this_machine() -> None:
    inv = index(gz(tar_bytes({"usr/bin/skopeo": Path("/usr/bin/skopeo").read_bytes()},
                             mode=0o755)))
    stdlib = [p for p in inv.packages if p.name == "stdlib"]
    assert len(stdlib) == 1
    assert stdlib[0].version.startswith("1.")


def test_os_release_prefers_etc() -> None:
    inv = index(tar_bytes({"usr/lib/os-release": b"ID=ubuntu\nVERSION_ID=22.04\n",
                           "etc/os-release": b"ID=debian\nVERSION_ID=12\n"}))
    assert inv.os_release is not None
    assert inv.os_release.id == "debian"
