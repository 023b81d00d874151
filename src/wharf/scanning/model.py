"""What indexing produces: packages found in a layer, and the layer's inventory."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Package kinds, and the OSV ecosystem each is matched in (OS kinds take the release from
# /etc/os-release, see `ecosystem_for`).
DEB, APK, RPM, PYTHON, NPM, GO, MAVEN, JAR = "deb", "apk", "rpm", "python", "npm", "go", \
    "maven", "jar"
LANGUAGE_ECOSYSTEMS = {PYTHON: "PyPI", NPM: "npm", GO: "Go", MAVEN: "Maven"}

LAYER_OK, LAYER_FAILED = "ok", "failed"


@dataclass(frozen=True, slots=True)
class Package:
    kind: str
    name: str
    version: str
    # The file in the layer it was read from (a jar for Maven packages); upper layers that
    # replace or delete that file take the package with it.
    origin: str
    # The source package advisories are filed against (Debian `Source:`, apk origin,
    # RPM source rpm); empty when the same as `name`.
    source_name: str = ""
    source_version: str = ""

    def to_json(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> Package:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class OsRelease:
    id: str
    version_id: str
    pretty_name: str
    origin: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(slots=True)
class LayerInventory:
    status: str
    reason: str | None = None
    packages: list[Package] = field(default_factory=list)
    os_release: OsRelease | None = None
    # Package files this layer holds (they replace the same paths in lower layers).
    origins: list[str] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)
    opaque_dirs: list[str] = field(default_factory=list)
    compression: str = ""
    entries: int = 0
    bytes_read: int = 0
    bytes_unpacked: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status, "reason": self.reason,
            "packages": [p.to_json() for p in self.packages],
            "os_release": self.os_release.to_json() if self.os_release else None,
            "origins": self.origins, "whiteouts": self.whiteouts,
            "opaque_dirs": self.opaque_dirs, "compression": self.compression,
            "entries": self.entries, "bytes_read": self.bytes_read,
            "bytes_unpacked": self.bytes_unpacked, "seconds": round(self.seconds, 4),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LayerInventory:
        os_data = data.get("os_release")
        return cls(
            status=data["status"], reason=data.get("reason"),
            packages=[Package.from_json(p) for p in data.get("packages", [])],
            os_release=OsRelease(**os_data) if os_data else None,
            origins=list(data.get("origins", [])), whiteouts=list(data.get("whiteouts", [])),
            opaque_dirs=list(data.get("opaque_dirs", [])),
            compression=data.get("compression", ""), entries=int(data.get("entries", 0)),
            bytes_read=int(data.get("bytes_read", 0)),
            bytes_unpacked=int(data.get("bytes_unpacked", 0)),
            seconds=float(data.get("seconds", 0.0)),
        )


@dataclass(slots=True)
class ImageInventory:
    """An image's packages after applying its layers in order."""

    packages: list[Package]
    os_release: OsRelease | None
    failures: list[str]


def _hidden(path: str, removed: set[str], opaque: list[str]) -> bool:
    if path in removed:
        return True
    parts = path.split("/")
    for i in range(1, len(parts)):
        if "/".join(parts[:i]) in removed:
            return True
    return any(path.startswith(d + "/") for d in opaque)


def merge_layers(layers: list[LayerInventory]) -> ImageInventory:
    """Overlay semantics: each layer's whiteouts, opaque dirs and rewritten package files
    hide what the layers below it contributed (image-spec layer.md, "Whiteouts")."""
    packages: list[Package] = []
    os_release: OsRelease | None = None
    failures: list[str] = []
    for index, layer in enumerate(layers):
        if layer.status != LAYER_OK:
            failures.append(f"layer {index}: {layer.reason}")
            continue
        removed = set(layer.whiteouts) | set(layer.origins)
        if removed or layer.opaque_dirs:
            packages = [p for p in packages
                        if not _hidden(p.origin, removed, layer.opaque_dirs)]
            if os_release and _hidden(os_release.origin, removed, layer.opaque_dirs):
                os_release = None
        packages.extend(layer.packages)
        if layer.os_release is not None:
            os_release = layer.os_release
    return ImageInventory(packages, os_release, failures)
