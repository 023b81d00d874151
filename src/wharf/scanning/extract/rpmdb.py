"""RPM's sqlite database (`rpmdb.sqlite`, RPM >= 4.16: Fedora 33+, RHEL/Alma/Rocky 9).

Each row of `Packages` holds one package header blob: a big-endian index count and data
length, then 16-byte index entries (tag, type, offset, count) into a data store
(rpm lib/header.c, "headerImport"). Not read: the Berkeley DB `Packages` file of RHEL <= 8
and the `Packages.db` ndb format of openSUSE; images using those get no RPM inventory.
"""

from __future__ import annotations

import sqlite3
import struct
import tempfile
import time

from wharf.scanning.limits import ScanFailed
from wharf.scanning.model import RPM, Package

_NAME, _VERSION, _RELEASE, _EPOCH, _SOURCERPM = 1000, 1001, 1002, 1003, 1044
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
_MAX_INDEX = 65536
_MAX_ROWS = 100_000


def parse_header(blob: bytes) -> dict[int, str | int]:
    """The tags we need from one header blob; malformed blobs raise ValueError."""
    if len(blob) < 8:
        raise ValueError("header too short")
    count, data_len = struct.unpack(">ii", blob[:8])
    if not 0 < count <= _MAX_INDEX or data_len < 0:
        raise ValueError("header index out of range")
    store = 8 + 16 * count
    if store + data_len > len(blob):
        raise ValueError("header data truncated")
    values: dict[int, str | int] = {}
    for i in range(count):
        tag, kind, offset, n = struct.unpack(">iiii", blob[8 + 16 * i:24 + 16 * i])
        if tag not in (_NAME, _VERSION, _RELEASE, _EPOCH, _SOURCERPM):
            continue
        if not 0 <= offset < data_len:
            raise ValueError("header offset out of range")
        start = store + offset
        if kind == _INT32 and n >= 1 and offset + 4 <= data_len:
            values[tag] = struct.unpack(">i", blob[start:start + 4])[0]
        elif kind in (_STRING, _STRING_ARRAY, _I18NSTRING):
            end = blob.find(b"\x00", start, store + data_len)
            if end < 0:
                raise ValueError("unterminated header string")
            values[tag] = blob[start:end].decode("utf-8", "replace")
    return values


def _source_name(source_rpm: str) -> str:
    # "openssl-3.0.7-27.el9.src.rpm" -> "openssl": strip ".src.rpm", then release, version.
    base = source_rpm.removesuffix(".rpm").rsplit(".", 1)[0]
    parts = base.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else ""


def parse_rpmdb(data: bytes, origin: str, deadline: float) -> list[Package]:
    # sqlite3 reads from a file, so the database goes to a private temporary one; opened
    # read-only and immutable, and interrupted when the layer's time is up.
    with tempfile.NamedTemporaryFile(suffix=".sqlite") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            conn = sqlite3.connect(f"file:{tmp.name}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error as exc:
            raise ScanFailed(f"{origin}: unreadable rpm database: {exc}") from exc
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
        try:
            rows = conn.execute("SELECT blob FROM Packages LIMIT ?", (_MAX_ROWS,)).fetchall()
        except sqlite3.Error as exc:
            raise ScanFailed(f"{origin}: unreadable rpm database: {exc}") from exc
        finally:
            conn.close()
    packages = []
    for (blob,) in rows:
        if not isinstance(blob, bytes):
            continue
        try:
            tags = parse_header(blob)
        except ValueError as exc:
            raise ScanFailed(f"{origin}: malformed rpm header: {exc}") from exc
        name, version = tags.get(_NAME), tags.get(_VERSION)
        if not isinstance(name, str) or not isinstance(version, str) or name == "gpg-pubkey":
            continue
        release = tags.get(_RELEASE)
        epoch = tags.get(_EPOCH)
        full = f"{version}-{release}" if isinstance(release, str) and release else version
        if isinstance(epoch, int) and epoch > 0:
            full = f"{epoch}:{full}"
        source = tags.get(_SOURCERPM)
        source_name = _source_name(source) if isinstance(source, str) else ""
        packages.append(Package(RPM, name, full, origin,
                                source_name if source_name != name else ""))
    return packages
