"""Go build information embedded in ELF binaries (Go >= 1.18 "inline" format).

The linker writes a `.go.buildinfo` blob at the start of the writable data segment: the
magic `\\xff Go buildinf:`, pointer size and flags, then (flag 2, Go 1.18+) two
varint-prefixed strings, the Go version and the module info (`path`, `mod`, `dep`, `=>`
lines between 16-byte sentinels; Go src/debug/buildinfo). The segment's file offset comes
from the ELF program headers at the start of the file, so only a small window is read.
Binaries from Go < 1.18 keep pointers instead of inline strings; they are not read.
"""

from __future__ import annotations

import struct

from wharf.scanning.limits import Budget
from wharf.scanning.model import GO, Package
from wharf.scanning.tar import TarEntry

MAGIC = b"\xff Go buildinf:"
_ELF = b"\x7fELF"
_HEAD = 64 << 10
_PT_LOAD, _PF_W = 1, 2
_SENTINEL = 16


def _writable_offsets(head: bytes) -> list[int]:
    if len(head) < 64 or not head.startswith(_ELF):
        return []
    is64, endian = head[4] == 2, "<" if head[5] == 1 else ">"
    try:
        if is64:
            phoff, = struct.unpack_from(endian + "Q", head, 0x20)
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 0x36)
        else:
            phoff, = struct.unpack_from(endian + "I", head, 0x1C)
            phentsize, phnum = struct.unpack_from(endian + "HH", head, 0x2A)
        offsets = []
        for i in range(min(phnum, 64)):
            base = phoff + i * phentsize
            if is64:
                p_type, p_flags, p_offset = struct.unpack_from(endian + "IIQ", head, base)
            else:
                p_type, p_offset = struct.unpack_from(endian + "II", head, base)
                p_flags, = struct.unpack_from(endian + "I", head, base + 24)
            if p_type == _PT_LOAD and p_flags & _PF_W:
                offsets.append(p_offset)
    except struct.error:
        return []  # program headers beyond what was read: not worth chasing
    return sorted(offsets)


def _uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(buf) and shift < 64:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ValueError("bad varint")


def parse_buildinfo(buf: bytes) -> tuple[str, str] | None:
    """(Go version, module info) from a buffer holding the blob, or None."""
    pos = buf.find(MAGIC)
    if pos < 0 or pos + 32 > len(buf) or not buf[pos + 15] & 2:
        return None
    try:
        length, at = _uvarint(buf, pos + 32)
        version = buf[at:at + length].decode("utf-8", "replace")
        at += length
        length, at = _uvarint(buf, at)
        modinfo = buf[at:at + length]
    except ValueError:
        return None
    if len(modinfo) >= 2 * _SENTINEL + 1:
        modinfo = modinfo[_SENTINEL:-_SENTINEL]
    return version, modinfo.decode("utf-8", "replace")


def packages_from_buildinfo(go_version: str, modinfo: str, origin: str) -> list[Package]:
    packages = []
    if go_version.startswith("go"):
        # OSV files Go's own vulnerabilities under the module "stdlib".
        packages.append(Package(GO, "stdlib", go_version[2:].split(" ", 1)[0], origin))
    replaced: dict[str, tuple[str, str]] = {}
    last_dep: str | None = None
    for line in modinfo.splitlines():
        fields = line.split("\t")
        if fields[0] in ("mod", "dep") and len(fields) >= 3:
            last_dep = fields[1]
            if fields[2] != "(devel)":
                replaced[fields[1]] = (fields[1], fields[2])
        elif fields[0] == "=>" and len(fields) >= 3 and last_dep is not None:
            # A replaced module is what actually got built.
            replaced[last_dep] = (fields[1], fields[2])
    for path, version in replaced.values():
        packages.append(Package(GO, path, version, origin))
    return packages


def is_elf(head: bytes) -> bool:
    return head.startswith(_ELF)


def read_go_binary(entry: TarEntry, head: bytes, budget: Budget) -> list[Package]:
    """Packages from a Go binary whose first bytes `head` were already read."""
    head += entry.read(max(0, _HEAD - len(head)))
    found = parse_buildinfo(head)
    if found is None:
        for offset in _writable_offsets(head):
            if offset < entry.consumed:
                continue
            while entry.consumed < offset:
                entry.read(min(offset - entry.consumed, 1 << 20))
                budget.check_time()
            found = parse_buildinfo(entry.read(budget.limits.go_window_bytes))
            break
    if found is None:
        return []
    return packages_from_buildinfo(found[0], found[1], entry.name)
