"""The vulnerability database: OSV advisories imported offline (a folder or zip of OSV
JSON), or downloaded from an OSV-layout mirror (`<base>/<Ecosystem>/all.zip`).

An import replaces everything the same source contributed before, in one transaction, so
a re-import is idempotent and a withdrawn advisory disappears.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from wharf.metadata.scan_store import ScanStore, SourceRow
from wharf.metadata.store import now
from wharf.scanning.osv import Advisory, AdvisoryError, parse_advisory

if TYPE_CHECKING:
    import httpx

# One advisory file larger than this is not an advisory (the largest real ones, Linux
# kernel CVEs listing hundreds of versions, are a few hundred KiB).
MAX_ADVISORY_BYTES = 16 << 20
MAX_ARCHIVE_MEMBERS = 2_000_000
DEFAULT_ECOSYSTEMS = ("Debian", "Ubuntu", "Alpine", "PyPI", "npm", "Go", "Maven",
                      "Rocky Linux", "AlmaLinux")

Progress = Callable[[int, int], None]


class VulnDbError(Exception):
    """The import or download cannot proceed; the message says why."""


@dataclass(slots=True)
class ImportSummary:
    source: str
    files: int = 0
    imported: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    ecosystems: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "files": self.files, "imported": self.imported,
                "skipped": self.skipped, "errors": self.errors[:20],
                "error_count": len(self.errors), "ecosystems": self.ecosystems}


@dataclass(frozen=True, slots=True)
class DbStatus:
    advisories: int
    sources: list[SourceRow]

    def to_json(self) -> dict[str, Any]:
        at = now()
        return {"advisories": self.advisories, "sources": [
            {"name": s.name, "origin": s.origin, "advisories": s.advisories,
             "imported_at": s.imported_at.isoformat(),
             "age_seconds": int((at - s.imported_at).total_seconds())}
            for s in self.sources]}


def _rows(advisory: Advisory) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row = {"id": advisory.id, "aliases": json.dumps(advisory.aliases),
           "summary": advisory.summary, "severity": advisory.severity,
           "score": advisory.score, "vector": advisory.vector,
           "modified": advisory.modified, "published": advisory.published}
    affected = [{"advisory_id": advisory.id, "ecosystem": a.ecosystem, "name": a.name,
                 "data": json.dumps(a.to_json(), separators=(",", ":"))}
                for a in advisory.affected]
    return row, affected


def _iter_folder(path: Path) -> Iterator[tuple[str, Callable[[], bytes]]]:
    for file in sorted(path.rglob("*.json")):
        if file.is_file() and not file.is_symlink():
            if file.stat().st_size > MAX_ADVISORY_BYTES:
                yield str(file), lambda: b""
            else:
                yield str(file), file.read_bytes


def _iter_zip(archive: zipfile.ZipFile) -> Iterator[tuple[str, Callable[[], bytes]]]:
    infos = [i for i in archive.infolist() if i.filename.endswith(".json") and not i.is_dir()]
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise VulnDbError(f"archive has more than {MAX_ARCHIVE_MEMBERS} members")
    for info in infos:
        def read(info: zipfile.ZipInfo = info) -> bytes:
            if info.file_size > MAX_ADVISORY_BYTES:
                return b""
            with archive.open(info) as handle:
                return handle.read(MAX_ADVISORY_BYTES + 1)
        yield info.filename, read


class VulnDatabase:
    def __init__(self, store: ScanStore) -> None:
        self.store = store

    def import_path(self, path: Path, source: str | None = None,
                    progress: Progress | None = None) -> ImportSummary:
        """Import a folder of OSV JSON files or a zip of them as one source."""
        if not path.exists():
            raise VulnDbError(f"{path} does not exist")
        name = source or f"local:{path.resolve().name}"
        if path.is_dir():
            files = list(_iter_folder(path))
            return self._import(name, str(path.resolve()), files, progress)
        try:
            with zipfile.ZipFile(path) as archive:
                files = list(_iter_zip(archive))
                return self._import(name, str(path.resolve()), files, progress)
        except zipfile.BadZipFile as exc:
            raise VulnDbError(f"{path} is neither a folder nor a zip archive") from exc

    def _import(self, name: str, origin: str, files: list[tuple[str, Callable[[], bytes]]],
                progress: Progress | None) -> ImportSummary:
        summary = ImportSummary(name, files=len(files))
        total = len(files)

        def advisories() -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
            for done, (filename, read) in enumerate(files, 1):
                if progress is not None:
                    progress(done, total)
                data = read()
                if not data or len(data) > MAX_ADVISORY_BYTES:
                    summary.errors.append(f"{filename}: empty or larger than "
                                          f"{MAX_ADVISORY_BYTES} bytes")
                    continue
                try:
                    advisory = parse_advisory(data)
                except AdvisoryError as exc:
                    summary.errors.append(f"{Path(filename).name}: {exc}")
                    continue
                if advisory is None:
                    summary.skipped += 1
                    continue
                for ecosystem in {a.ecosystem for a in advisory.affected}:
                    summary.ecosystems[ecosystem] = summary.ecosystems.get(ecosystem, 0) + 1
                yield _rows(advisory)

        summary.imported = self.store.replace_source(name, origin, advisories())
        return summary

    def download(self, base_url: str, ecosystem: str, dest: Path,
                 client: httpx.Client, progress: Progress | None = None) -> Path:
        """Fetch `<base>/<ecosystem>/all.zip` to `dest` (streamed, never held in memory)."""
        # Imported here: httpx (which loads rich, click and pygments) is ~10 MiB that a
        # server, which never downloads, need not hold.
        import httpx

        url = f"{base_url.rstrip('/')}/{quote(ecosystem)}/all.zip"
        try:
            with client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise VulnDbError(f"GET {url}: HTTP {response.status_code}")
                total = int(response.headers.get("content-length") or 0)
                received = 0
                with dest.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
                        received += len(chunk)
                        if progress is not None:
                            progress(received, total)
        except httpx.HTTPError as exc:
            raise VulnDbError(f"GET {url}: {exc}") from exc
        return dest

    def update(self, base_url: str, ecosystems: list[str], client: httpx.Client,
               progress: Callable[[str, str, int, int], None] | None = None,
               ) -> list[ImportSummary]:
        """Download and import each ecosystem's archive (source name `osv:<Ecosystem>`)."""
        summaries = []
        with tempfile.TemporaryDirectory(prefix="wharf-osv-") as tmp:
            for ecosystem in ecosystems:
                target = Path(tmp) / f"{ecosystem.replace(' ', '_')}.zip"

                def step(done: int, total: int, phase: str, eco: str = ecosystem) -> None:
                    if progress is not None:
                        progress(eco, phase, done, total)

                self.download(base_url, ecosystem, target, client,
                              lambda d, t: step(d, t, "download"))
                summary = self.import_path(target, f"osv:{ecosystem}",
                                           lambda d, t: step(d, t, "import"))
                summary_origin = f"{base_url.rstrip('/')}/{ecosystem}/all.zip"
                self.store.replace_source_origin(summary.source, summary_origin)
                summaries.append(summary)
        return summaries

    def status(self) -> DbStatus:
        return DbStatus(self.store.advisory_count(), self.store.sources())

