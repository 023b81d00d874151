"""CycloneDX 1.5 JSON SBOMs from an image's inventory (cyclonedx.org/docs/1.5/json)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from wharf.metadata.store import now
from wharf.scanning.model import APK, DEB, GO, JAR, MAVEN, NPM, PYTHON, RPM, OsRelease, Package

_PURL_TYPES = {DEB: "deb", APK: "apk", RPM: "rpm", PYTHON: "pypi", NPM: "npm", GO: "golang",
               MAVEN: "maven"}


def _q(text: str) -> str:
    return quote(text, safe="")


def purl(package: Package, os_release: OsRelease | None) -> str | None:
    kind = _PURL_TYPES.get(package.kind)
    if kind is None:
        return None
    version = _q(package.version)
    if package.kind in (DEB, APK, RPM):
        distro = os_release.id if os_release else "unknown"
        qualifiers = f"?distro={_q(distro)}-{_q(os_release.version_id)}" if os_release else ""
        return f"pkg:{kind}/{_q(distro)}/{_q(package.name)}@{version}{qualifiers}"
    if package.kind == MAVEN:
        group, _, artifact = package.name.partition(":")
        return f"pkg:maven/{_q(group)}/{_q(artifact)}@{version}"
    if package.kind in (NPM, GO) and "/" in package.name:
        namespace, _, name = package.name.rpartition("/")
        return f"pkg:{kind}/{'/'.join(_q(p) for p in namespace.split('/'))}/{_q(name)}@{version}"
    return f"pkg:{kind}/{_q(package.name)}@{version}"


def cyclonedx(subject: str, digest: str, packages: list[Package],
              os_release: OsRelease | None, findings: list[dict[str, Any]]) -> dict[str, Any]:
    components: list[dict[str, Any]] = []
    seen: set[str] = set()
    if os_release is not None:
        components.append({"type": "operating-system", "bom-ref": "os",
                           "name": os_release.id, "version": os_release.version_id,
                           "description": os_release.pretty_name})
    refs: dict[tuple[str, str], str] = {}
    for package in packages:
        ref = purl(package, os_release) or f"{package.kind}:{package.name}@{package.version}"
        if ref in seen:
            continue
        seen.add(ref)
        refs[(package.name, package.version)] = ref
        component: dict[str, Any] = {"type": "library", "bom-ref": ref, "name": package.name,
                                     "version": package.version,
                                     "properties": [{"name": "wharf:package:kind",
                                                     "value": package.kind},
                                                    {"name": "wharf:package:origin",
                                                     "value": package.origin}]}
        if package.kind != JAR and purl(package, os_release):
            component["purl"] = ref
        if package.kind == MAVEN:
            group, _, artifact = package.name.partition(":")
            component.update(group=group, name=artifact)
        components.append(component)
    vulnerabilities = []
    for finding in findings:
        affected = refs.get((finding["package"], finding["version"]))
        if affected is None:
            continue
        rating: dict[str, Any] = {"severity": finding["severity"].lower()}
        if finding.get("score") is not None:
            rating.update(score=finding["score"], method="CVSSv31")
        vulnerabilities.append({
            "bom-ref": f"{finding['advisory']}/{affected}", "id": finding["advisory"],
            "references": [{"id": a, "source": {"name": "alias"}}
                           for a in finding.get("aliases", [])],
            "ratings": [rating], "description": finding.get("summary", ""),
            "affects": [{"ref": affected}],
            **({"recommendation": f"upgrade to {finding['fixed']}"}
               if finding.get("fixed") else {}),
        })
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}", "version": 1,
        "metadata": {"timestamp": now().isoformat(),
                     "tools": {"components": [{"type": "application", "name": "wharf"}]},
                     "component": {"type": "container", "bom-ref": digest, "name": subject,
                                   "version": digest}},
        "components": components, "vulnerabilities": vulnerabilities,
    }
