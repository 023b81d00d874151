"""Language package metadata: Python dist-info/egg-info, npm package.json, Java archives."""

from __future__ import annotations

import io
import json
import re
import zipfile
import zlib

from wharf.scanning.limits import Budget, ScanFailed
from wharf.scanning.model import JAR, MAVEN, NPM, PYTHON, Package

_MAX_METADATA = 1 << 20
_JAR_SUFFIXES = (".jar", ".war", ".ear")
_MAX_ZIP_MEMBERS = 100_000


def normalize_pypi(name: str) -> str:
    """PEP 503: advisories and installs spell names differently (Django, django)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_python_metadata(data: bytes, origin: str) -> list[Package]:
    name = version = None
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.strip():
            break  # the headers end at the first blank line; the body is the description
        key, sep, value = line.partition(":")
        if not sep:
            continue
        if key == "Name" and name is None:
            name = value.strip()
        elif key == "Version" and version is None:
            version = value.strip()
    if not name or not version:
        return []
    return [Package(PYTHON, normalize_pypi(name), version, origin)]


def parse_package_json(data: bytes, origin: str) -> list[Package]:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return []  # a broken package.json is the package's problem, not the layer's
    if not isinstance(doc, dict):
        return []
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return []
    return [Package(NPM, name, version, origin)]


def is_npm_manifest(path: str) -> bool:
    parts = path.split("/")
    if len(parts) < 3 or parts[-1] != "package.json":
        return False
    if parts[-3] == "node_modules":
        return True
    return len(parts) >= 4 and parts[-4] == "node_modules" and parts[-3].startswith("@")


def is_java_archive(path: str) -> bool:
    return path.lower().endswith(_JAR_SUFFIXES)


def _properties(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


def _manifest(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith(" "):
            values[key.strip()] = value.strip()
    return values


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int,
                 budget: Budget) -> bytes:
    if info.file_size > limit:
        raise ScanFailed(f"archive member {info.filename[:200]!r} larger than {limit} bytes")
    with archive.open(info) as handle:
        # The declared size can lie: read one byte past it to notice.
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ScanFailed(f"archive member {info.filename[:200]!r} larger than {limit} bytes")
    budget.check_time()
    return data


def parse_java_archive(data: bytes, origin: str, budget: Budget, depth: int = 1) -> list[Package]:
    """Maven coordinates from pom.properties (the MANIFEST when there are none), and the
    same for jars nested inside (Spring Boot `BOOT-INF/lib`, wars' `WEB-INF/lib`)."""
    limits = budget.limits
    if depth > limits.max_nesting:
        raise ScanFailed(f"{origin}: archives nested deeper than {limits.max_nesting}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return []  # named .jar but not a zip: nothing to report
    if len(infos) > _MAX_ZIP_MEMBERS:
        raise ScanFailed(f"{origin}: more than {_MAX_ZIP_MEMBERS} archive members")
    packages: list[Package] = []
    manifest: dict[str, str] = {}
    try:
        for info in infos:
            budget.entry()
            name = info.filename
            if name.endswith("pom.properties") and name.startswith("META-INF/maven/"):
                props = _properties(_read_member(archive, info, _MAX_METADATA, budget)
                                    .decode("utf-8", "replace"))
                group, artifact = props.get("groupId"), props.get("artifactId")
                version = props.get("version")
                if group and artifact and version:
                    packages.append(Package(MAVEN, f"{group}:{artifact}", version, origin))
            elif name == "META-INF/MANIFEST.MF":
                manifest = _manifest(_read_member(archive, info, _MAX_METADATA, budget)
                                     .decode("utf-8", "replace"))
            elif is_java_archive(name):
                inner = _read_member(archive, info, limits.max_file_bytes, budget)
                packages.extend(parse_java_archive(inner, origin, budget, depth + 1))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError,
            zlib.error) as exc:
        raise ScanFailed(f"{origin}: broken java archive: {exc}") from exc
    if not any(p.kind == MAVEN for p in packages):
        title = manifest.get("Bundle-SymbolicName") or manifest.get("Implementation-Title")
        version = manifest.get("Bundle-Version") or manifest.get("Implementation-Version")
        if title and version:
            packages.append(Package(JAR, title.split(";", 1)[0], version, origin))
    return packages
