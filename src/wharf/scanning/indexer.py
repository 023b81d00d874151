"""Index one layer: stream it once, read only package databases, record whiteouts.

The layer is never unpacked: entries are read in order from the decompressed stream and
only the few paths that hold package metadata are read into memory, each up to
`ScanLimits.max_file_bytes`. Everything else is skipped (still decompressed, still counted).
"""

from __future__ import annotations

import logging
import posixpath
import time
from collections.abc import Iterator

from wharf.scanning.extract import gobinary, lang, osdb, rpmdb
from wharf.scanning.limits import Budget, ScanFailed, ScanLimits
from wharf.scanning.model import LAYER_FAILED, LAYER_OK, LayerInventory, Package
from wharf.scanning.stream import Decompressed
from wharf.scanning.tar import REGULAR, TarEntry, iter_entries
from wharf.storage.driver import NotFoundError

log = logging.getLogger("wharf.scanning")
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
_DPKG_STATUS = "var/lib/dpkg/status"
_DPKG_STATUS_D = "var/lib/dpkg/status.d/"
_APK_INSTALLED = "lib/apk/db/installed"
_RPMDB = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
_ELF_PEEK = 4
_MIN_GO_BINARY = 4096


def _read_whole(entry: TarEntry, limit: int) -> bytes:
    if entry.size > limit:
        raise ScanFailed(f"{entry.name[:200]}: {entry.size} bytes exceeds the {limit}-byte "
                         "limit for package files")
    return entry.read()


def _kind_of(path: str) -> str | None:
    """Which reader a path needs, or None for the vast majority of files."""
    if path in _OS_RELEASE:
        return "os-release"
    if path == _DPKG_STATUS or (path.startswith(_DPKG_STATUS_D)
                                and not path.endswith(".md5sums")):
        return "dpkg"
    if path == _APK_INSTALLED:
        return "apk"
    if path in _RPMDB:
        return "rpm"
    if path.endswith((".dist-info/METADATA", ".egg-info/PKG-INFO", ".egg-info")):
        return "python"
    if lang.is_npm_manifest(path):
        return "npm"
    if lang.is_java_archive(path):
        return "java"
    return None


class LayerIndexer:
    def __init__(self, limits: ScanLimits | None = None) -> None:
        self.limits = limits or ScanLimits()

    def index(self, chunks: Iterator[bytes]) -> LayerInventory:
        """The layer's inventory; a hostile or broken layer gives a failed one."""
        started = time.monotonic()
        budget = Budget(self.limits)
        inventory = LayerInventory(LAYER_OK)
        stream: Decompressed | None = None
        try:
            stream = Decompressed(chunks, budget)
            inventory.compression = stream.compression
            self._walk(stream, budget, inventory)
        except ScanFailed as exc:
            inventory = LayerInventory(LAYER_FAILED, exc.reason)
        except (MemoryError, RecursionError) as exc:
            inventory = LayerInventory(LAYER_FAILED, f"layer too complex: {type(exc).__name__}")
        except (NotFoundError, OSError):
            raise  # the blob store's trouble (missing or unreadable blob), not the layer's
        except Exception as exc:
            # Whatever else a malformed layer provokes in a reader fails this layer's scan
            # (logged, since it may also be a bug here), never the push or the server.
            log.exception("indexing failed unexpectedly")
            inventory = LayerInventory(LAYER_FAILED, f"could not index the layer: "
                                                     f"{type(exc).__name__}: {exc}"[:500])
        if stream is not None:
            inventory.compression = stream.compression
            inventory.bytes_unpacked = stream.produced
            inventory.bytes_read = stream.consumed
        inventory.entries = budget.entries
        inventory.seconds = time.monotonic() - started
        return inventory

    def _walk(self, stream: Decompressed, budget: Budget, inventory: LayerInventory) -> None:
        os_candidates: dict[str, bytes] = {}
        for entry in iter_entries(stream, budget):
            directory, base = posixpath.split(entry.name)
            if base == OPAQUE:
                inventory.opaque_dirs.append(directory)
                continue
            if base.startswith(WHITEOUT):
                inventory.whiteouts.append(posixpath.join(directory, base[len(WHITEOUT):]))
                continue
            if entry.kind != REGULAR:
                continue
            kind = _kind_of(entry.name)
            if kind is None:
                if entry.mode & 0o111 and entry.size >= _MIN_GO_BINARY:
                    head = entry.read(_ELF_PEEK)
                    if gobinary.is_elf(head):
                        found = gobinary.read_go_binary(entry, head, budget)
                        if found:
                            inventory.origins.append(entry.name)
                            inventory.packages.extend(found)
                continue
            data = _read_whole(entry, self.limits.max_file_bytes)
            if kind == "os-release":
                os_candidates[entry.name] = data
                continue
            inventory.origins.append(entry.name)
            inventory.packages.extend(self._parse(kind, entry.name, data, budget))
        for path in _OS_RELEASE:  # /etc wins over /usr/lib, as systemd reads them
            if path in os_candidates:
                inventory.os_release = osdb.parse_os_release(os_candidates[path], path)
                if inventory.os_release is not None:
                    break

    def _parse(self, kind: str, path: str, data: bytes, budget: Budget) -> list[Package]:
        if kind == "dpkg":
            return osdb.parse_dpkg(data, path)
        if kind == "apk":
            return osdb.parse_apk(data, path)
        if kind == "rpm":
            return rpmdb.parse_rpmdb(data, path, budget.deadline)
        if kind == "python":
            return lang.parse_python_metadata(data, path)
        if kind == "npm":
            return lang.parse_package_json(data, path)
        return lang.parse_java_archive(data, path, budget)
