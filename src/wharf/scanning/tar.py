"""A streaming tar reader written for hostile input (POSIX ustar, PAX, GNU long names).

`tarfile` reads PAX headers and GNU long names into memory whatever their declared size,
and follows the archive's own idea of sizes; here every header extension is capped, every
entry is charged to the budget, and member data is only read as far as the caller asks.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from wharf.scanning.limits import Budget, ScanFailed
from wharf.scanning.stream import Readable

BLOCK = 512
REGULAR = "file"
HARDLINK = "hardlink"
SYMLINK = "symlink"
DIRECTORY = "dir"
OTHER = "other"
_TYPES = {b"0": REGULAR, b"\x00": REGULAR, b"7": REGULAR, b"1": HARDLINK, b"2": SYMLINK,
          b"5": DIRECTORY}
_SKIP_CHUNK = 1 << 20


@dataclass(slots=True)
class TarEntry:
    name: str
    kind: str
    size: int
    mode: int
    linkname: str
    _stream: Readable
    _remaining: int

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the member's data (all that is left if negative)."""
        if size < 0 or size > self._remaining:
            size = self._remaining
        data = self._stream.read(size) if size else b""
        if len(data) != size:
            raise ScanFailed("tar archive is truncated")
        self._remaining -= size
        return data

    @property
    def consumed(self) -> int:
        return self.size - self._remaining


def _number(field: bytes, what: str) -> int:
    if field[:1] and field[0] & 0x80:
        # GNU base-256 for sizes beyond 8 GiB.
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.split(b"\x00", 1)[0].strip(b" \x00")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError as exc:
        raise ScanFailed(f"tar header has an invalid {what}") from exc


def _checksum_ok(block: bytes) -> bool:
    stored = _number(block[148:156], "checksum")
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    return stored == unsigned


def clean_path(name: str, limits_depth: int, limits_length: int) -> str:
    """The entry name relative to the layer root; names that climb out fail the scan."""
    if len(name) > limits_length:
        raise ScanFailed(f"entry name longer than {limits_length} characters")
    stripped = name.lstrip("/")
    if stripped.startswith("./"):
        stripped = stripped[2:]
    parts = [p for p in stripped.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ScanFailed(f"unsafe entry name {name[:200]!r} (climbs out of the layer)")
    if len(parts) > limits_depth:
        raise ScanFailed(f"entry nested deeper than {limits_depth} directories")
    return "/".join(parts)


def link_escapes(entry_name: str, target: str) -> bool:
    """Whether a relative symlink target leads above the layer root."""
    if target.startswith("/"):
        return False  # absolute links resolve inside the image's own root
    depth = 0
    for part in posixpath.join(posixpath.dirname(entry_name), target).split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(data[pos:space])
        except ValueError as exc:
            raise ScanFailed("malformed PAX header") from exc
        if length <= 0 or pos + length > len(data):
            raise ScanFailed("malformed PAX header")
        key, _, value = data[space + 1:pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def _skip(stream: Readable, count: int, budget: Budget) -> None:
    while count > 0:
        step = min(count, _SKIP_CHUNK)
        data = stream.read(step)
        if len(data) != step:
            raise ScanFailed("tar archive is truncated")
        count -= step
        budget.check_time()


def _padding(size: int) -> int:
    return (-size) % BLOCK


def _header_name(block: bytes) -> str:
    raw_name = block[0:100].split(b"\x00", 1)[0]
    if block[257:262] == b"ustar":
        prefix = block[345:500].split(b"\x00", 1)[0]
        if prefix:
            raw_name = prefix + b"/" + raw_name
    return raw_name.decode("utf-8", "surrogateescape")


def _extension(stream: Readable, size: int, budget: Budget) -> bytes:
    limit = budget.limits.max_header_bytes
    if size > limit:
        raise ScanFailed(f"tar header extension larger than {limit} bytes")
    data = stream.read(size)
    if len(data) != size:
        raise ScanFailed("tar archive is truncated")
    _skip(stream, _padding(size), budget)
    return data


def iter_entries(stream: Readable, budget: Budget) -> Iterator[TarEntry]:
    """Each member in order; data the caller leaves unread is skipped, not buffered."""
    limits = budget.limits
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    while True:
        block = stream.read(BLOCK)
        if not block:
            return  # no end-of-archive marker: tolerated, as GNU tar does
        if len(block) != BLOCK:
            raise ScanFailed("tar archive is truncated")
        if block == b"\x00" * BLOCK:
            return
        if not _checksum_ok(block):
            raise ScanFailed("not a tar archive (bad header checksum)")
        budget.entry()
        size = _number(block[124:136], "size")
        if size < 0:
            raise ScanFailed("tar header has a negative size")
        flag = block[156:157]
        if flag in (b"x", b"g", b"L", b"K"):
            data = _extension(stream, size, budget)
            if flag == b"x":
                pax = _pax_records(data)
            elif flag == b"L":
                long_name = data.rstrip(b"\x00").decode("utf-8", "surrogateescape")
            elif flag == b"K":
                long_link = data.rstrip(b"\x00").decode("utf-8", "surrogateescape")
            continue  # global headers ("g") carry nothing the indexer needs
        name = pax.get("path") or long_name or _header_name(block)
        linkname = (pax.get("linkpath") or long_link
                    or block[157:257].split(b"\x00", 1)[0].decode("utf-8", "surrogateescape"))
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError as exc:
                raise ScanFailed("malformed PAX size") from exc
        pax, long_name, long_link = {}, None, None
        kind = _TYPES.get(flag, OTHER)
        if kind in (DIRECTORY, SYMLINK, HARDLINK) or flag in (b"3", b"4", b"6"):
            size = 0  # these carry no data whatever the header claims (as tarfile reads it)
        path = clean_path(name, limits.max_path_depth, limits.max_path_length)
        if kind == SYMLINK and link_escapes(path, linkname):
            raise ScanFailed(f"symlink {path[:200]!r} points outside the layer root")
        if kind == HARDLINK:
            linkname = clean_path(linkname, limits.max_path_depth, limits.max_path_length)
        entry = TarEntry(path, kind, size, _number(block[100:108], "mode"), linkname,
                         stream, size)
        yield entry
        _skip(stream, entry._remaining + _padding(size), budget)
