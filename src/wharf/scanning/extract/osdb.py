"""OS package databases: dpkg status, apk installed, and os-release."""

from __future__ import annotations

from wharf.scanning.model import APK, DEB, OsRelease, Package


def _stanzas(text: str) -> list[dict[str, str]]:
    """RFC 822-style paragraphs (dpkg); continuation lines are dropped: no field we read
    spans lines."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
                current = {}
            continue
        if line[0] in " \t":
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def parse_dpkg(data: bytes, origin: str) -> list[Package]:
    packages = []
    for stanza in _stanzas(data.decode("utf-8", "replace")):
        name, version = stanza.get("Package"), stanza.get("Version")
        if not name or not version:
            continue
        # status.d entries (distroless) carry no Status; the main database lists removed
        # packages too, which are not installed.
        status = stanza.get("Status")
        if status is not None and not status.endswith(" installed"):
            continue
        source_name, source_version = "", ""
        source = stanza.get("Source", "")
        if source:
            source_name, _, rest = source.partition(" ")
            rest = rest.strip()
            if rest.startswith("(") and rest.endswith(")"):
                source_version = rest[1:-1]
        packages.append(Package(DEB, name, version, origin,
                                source_name if source_name != name else "",
                                source_version))
    return packages


def parse_apk(data: bytes, origin: str) -> list[Package]:
    packages = []
    for block in data.decode("utf-8", "replace").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":":
                fields.setdefault(line[0], line[2:])
        if "P" in fields and "V" in fields:
            origin_pkg = fields.get("o", "")
            packages.append(Package(APK, fields["P"], fields["V"], origin,
                                    origin_pkg if origin_pkg != fields["P"] else ""))
    return packages


def parse_os_release(data: bytes, origin: str) -> OsRelease | None:
    values: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().isidentifier():
            values[key.strip()] = value.strip().strip("'\"")
    if "ID" not in values:
        return None
    return OsRelease(values["ID"], values.get("VERSION_ID", ""),
                     values.get("PRETTY_NAME", ""), origin)
