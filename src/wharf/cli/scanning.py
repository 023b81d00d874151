"""`wharf scan …`, `wharf policy …`, `wharf vulndb …`.

Reports, SBOMs, policies and the allowlist go through /api/v1 as the saved login
(`wharf login`). `vulndb import` and
`vulndb update` are operator commands like `migrate`: they write the database named by the
settings (`--data-dir`/`--config`) directly and re-evaluate stored images there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from wharf.cli.client import FormatOption, JsonOption, api, wants_json

scan_app = typer.Typer(help="Vulnerability reports and SBOMs.", no_args_is_help=True)
allowlist_app = typer.Typer(help="Accepted-risk exceptions (with reason and expiry).",
                            no_args_is_help=True)
scan_app.add_typer(allowlist_app, name="allowlist")
policy_app = typer.Typer(help="Per-project policy: block-on-severity scanning, "
                              "require-signed with trusted keys.",
                         no_args_is_help=True)
vulndb_app = typer.Typer(help="The vulnerability database (OSV advisories).",
                         no_args_is_help=True)

out = Console()
err = Console(stderr=True)
_COLOURS = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan",
            "UNKNOWN": "dim"}

ProjectOption = Annotated[str | None, typer.Option("--project", "-p", help="Project name.")]
DataDirOption = Annotated[Path | None, typer.Option(help="Server data directory.")]
ConfigOption = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]


def _call(method: str, path: str, **kwargs: Any) -> Any:
    return api().request(method, path, **kwargs)


def split_reference(ref: str) -> tuple[str, str]:
    """`acme/web:1.0` -> (`acme/web`, `1.0`); `acme/web@sha256:…` -> digest; no tag: latest."""
    if "@" in ref:
        name, _, digest = ref.partition("@")
        return name, digest
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1:]
    return ref, "latest"


# -- scan ---------------------------------------------------------------------------


@scan_app.command("report")
def scan_report(
    ref: Annotated[str, typer.Argument(help="REPOSITORY:TAG or REPOSITORY@DIGEST")],
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
) -> None:
    """Show an image's vulnerability report, grouped by severity."""
    name, reference = split_reference(ref)
    report = _call("GET", f"/repositories/{name}/scan/{reference}")
    if wants_json(as_json, fmt):
        typer.echo(json.dumps(report, indent=2))
        return
    _print_report(ref, report)


def _print_report(ref: str, report: dict[str, Any]) -> None:
    out.print(f"[bold]{escape(ref)}[/bold]  {report['digest']}")
    line = f"status: {report['status']}"
    if report.get("reason"):
        line += f" ({escape(report['reason'])})"
    if report.get("os"):
        line += f"   os: {report['os']}"
    if report.get("packages") is not None:
        line += f"   packages: {report['packages']}"
    out.print(line)
    for platform in report.get("platforms", []):
        counts = ", ".join(f"{k.lower()} {v}" for k, v in platform["counts"].items() if v)
        out.print(f"  {platform['platform']}: {platform['status']}  {counts or 'no findings'}")
    policy = report.get("policy", {})
    if policy and not policy.get("compliant", True):
        out.print(f"[bold red]policy: not compliant — image "
                  f"{escape(str(policy.get('blocking')))}[/]")
    findings = report.get("findings", [])
    if not findings:
        out.print("no known vulnerabilities")
        return
    table = Table(show_lines=False)
    for column in ("severity", "advisory", "package", "installed", "fixed in", "notes"):
        table.add_column(column)
    for level in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"):
        group = [f for f in findings if f["severity"] == level]
        for f in group:
            notes = []
            if f.get("allowlisted"):
                notes.append("allowlisted")
            elif f.get("allowlist_expired"):
                notes.append("allowlist expired")
            if f.get("platform"):
                notes.append(f["platform"])
            advisory = f["id"] if f["id"] == f["advisory"] else f"{f['id']} ({f['advisory']})"
            # Package names and versions come from pushed images: never rich markup.
            table.add_row(f"[{_COLOURS.get(level, '')}]{level}[/]", escape(advisory),
                          escape(f["package"]), escape(f["version"]),
                          escape(f.get("fixed") or ""), escape(", ".join(notes)))
        if group:
            table.add_section()
    out.print(table)
    counts = report.get("counts", {})
    out.print(", ".join(f"{k.lower()}: {v}" for k, v in counts.items()))


@scan_app.command("sbom")
def scan_sbom(
    ref: Annotated[str, typer.Argument(help="REPOSITORY:TAG or REPOSITORY@DIGEST")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
) -> None:
    """Export a CycloneDX 1.5 JSON SBOM of an image."""
    name, reference = split_reference(ref)
    document = json.dumps(_call("GET", f"/repositories/{name}/sbom/{reference}"),
                          indent=2)
    if output is None:
        typer.echo(document)
    else:
        output.write_text(document + "\n")
        err.print(f"wrote {output}")


@allowlist_app.command("add")
def allowlist_add(
    cve: Annotated[str, typer.Option("--cve", help="CVE (or advisory id) to accept.")],
    reason: Annotated[str, typer.Option("--reason", help="Why the risk is accepted.")],
    expires: Annotated[str, typer.Option("--expires", help="Expiry date, YYYY-MM-DD.")],
    project: ProjectOption = None,
) -> None:
    """Accept a finding until a date; without --project registry-wide (system admins)."""
    entry = _call("POST", "/scan/allowlist",
                  json={"project": project, "cve": cve, "reason": reason, "expires": expires})
    scope = entry["project"] or "registry-wide"
    typer.echo(f"allowlisted {entry['cve']} ({scope}) until {entry['expires_at']}; "
               f"id {entry['id']}")


@allowlist_app.command("list")
def allowlist_list(project: ProjectOption = None,
                   as_json: JsonOption = False) -> None:
    """List entries (expired ones are shown as expired; they no longer apply)."""
    params = {"project": project} if project else {}
    entries = _call("GET", "/scan/allowlist", params=params)["entries"]
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    table = Table()
    for column in ("id", "scope", "cve", "expires", "state", "reason", "by"):
        table.add_column(column)
    for e in entries:
        state = "[red]expired[/]" if e["expired"] else "active"
        table.add_row(str(e["id"]), e["project"] or "registry-wide", escape(e["cve"]),
                      e["expires_at"][:10], state, escape(e["reason"]),
                      escape(e.get("created_by") or ""))
    out.print(table)


@allowlist_app.command("remove")
def allowlist_remove(entry: Annotated[int, typer.Argument(help="Entry id (see list).")]) -> None:
    """Remove an entry."""
    _call("DELETE", f"/scan/allowlist/{entry}")
    typer.echo(f"removed allowlist entry {entry}")


# -- policy -------------------------------------------------------------------------


def _print_policy(policy: dict[str, Any]) -> None:
    typer.echo(f"project {policy['project']}: block on "
               f"{(policy['block_on'] or 'nothing').lower()}; "
               f"block pulls: {'yes' if policy['block_pulls'] else 'no'}; "
               f"unscannable images: {'accepted' if policy['allow_unscanned'] else 'refused'}"
               f"; open critical findings: {policy['critical_findings']}")


def _print_signature_policy(project: str, policy: dict[str, Any]) -> None:
    keys = policy["trusted_keys"]
    typer.echo(f"project {project}: require signed: "
               f"{'yes' if policy['require_signed'] else 'no'}; trusted keys: {len(keys)}")
    for key in keys:
        typer.echo(f"  {key['kind']} {key['fingerprint']}")


def _print_project_policy(doc: dict[str, Any], as_json: bool) -> None:
    """The project's one policy document: signature part and (when enabled) scan part."""
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    if doc.get("scan") is not None:
        _print_policy(doc["scan"])
    _print_signature_policy(doc["project"], doc["signatures"])


def _read_key(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"error: cannot read {path}: {exc}", markup=False)
        raise typer.Exit(1) from exc


@policy_app.command("set")
def policy_set(  # noqa: PLR0917 - typer maps each option to a parameter
    project: Annotated[str, typer.Option("--project", "-p", help="Project name.")],
    block_on: Annotated[str | None, typer.Option(
        "--block-on", help="critical, high, medium, low or none.")] = None,
    block_pulls: Annotated[bool | None, typer.Option(
        "--block-pulls/--no-block-pulls",
        help="Also refuse pulls of images that became non-compliant.")] = None,
    allow_unscanned: Annotated[bool | None, typer.Option(
        "--allow-unscanned/--refuse-unscanned",
        help="Accept images whose scan failed (default: refuse them).")] = None,
    require_signed: Annotated[bool | None, typer.Option(
        "--require-signed/--no-require-signed",
        help="Refuse pulls of images without a valid signature by a trusted key.")] = None,
    trusted_key: Annotated[list[Path] | None, typer.Option(
        "--trusted-key", help="PEM public key (or certificate) file; repeatable. Replaces "
                              "the trusted set; the key text is stored, not the path.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Set a project's policy: block-on-severity (scanning) and require-signed with
    trusted keys (signatures). Options left out keep their current values."""
    changes: dict[str, Any] = {"block_on": block_on, "block_pulls": block_pulls,
                               "allow_unscanned": allow_unscanned,
                               "require_signed": require_signed}
    changes = {k: v for k, v in changes.items() if v is not None}
    if trusted_key:
        changes["trusted_keys"] = [_read_key(path) for path in trusted_key]
    if not changes:
        err.print("error: nothing to set: give --block-on, --require-signed or --trusted-key")
        raise typer.Exit(2)
    _print_project_policy(_call("PUT", f"/projects/{project}/policy", json=changes), as_json)


@policy_app.command("show")
def policy_show(project: Annotated[str, typer.Option("--project", "-p")],
                as_json: JsonOption = False) -> None:
    """Show a project's policy (scan and signatures)."""
    _print_project_policy(_call("GET", f"/projects/{project}/policy"), as_json)


# -- vulndb -------------------------------------------------------------------------


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=err, transient=False)


def _local_scanning(data_dir: Path | None, config: Path | None) -> Any:
    from wharf.app import build_registry, build_scanning, prepare
    from wharf.cli.main import _use_config
    from wharf.settings import load_settings

    _use_config(config)
    settings = load_settings(data_dir=data_dir)
    prepare(settings)
    registry = build_registry(settings)
    return settings, build_scanning(settings, registry)


def _reevaluate(scanning: Any) -> None:
    with _progress() as progress:
        task = progress.add_task("re-evaluating stored images", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        count = scanning.reevaluate_reports(step)
    err.print(f"re-evaluated {count} stored manifests")


def _print_summary(summary: Any) -> None:
    data = summary.to_json()
    typer.echo(f"{data['source']}: {data['imported']} advisories imported from "
               f"{data['files']} files ({data['skipped']} withdrawn or not matchable, "
               f"{data['error_count']} unreadable)")
    for ecosystem, count in sorted(data["ecosystems"].items()):
        typer.echo(f"  {ecosystem}: {count}")
    for error in data["errors"]:
        err.print(f"  skipped {error}")


@vulndb_app.command("import")
def vulndb_import(
    path: Annotated[Path, typer.Argument(help="A folder of OSV JSON files, or a zip of them.")],
    source: Annotated[str | None, typer.Option(help="Source name (default: local:<name>); "
                                                    "re-importing a source replaces it.")] = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Import OSV advisories offline, then re-evaluate stored images."""
    from wharf.scanning.vulndb import VulnDbError

    _settings, scanning = _local_scanning(data_dir, config)
    try:
        with _progress() as progress:
            task = progress.add_task(f"importing {path.name}", total=None)
            summary = scanning.vulndb.import_path(
                path, source, lambda d, t: progress.update(task, completed=d, total=t))
    except VulnDbError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from exc
    _print_summary(summary)
    _reevaluate(scanning)


@vulndb_app.command("update")
def vulndb_update(
    base_url: Annotated[str | None, typer.Option(
        help="OSV mirror (<base>/<Ecosystem>/all.zip); default from settings.")] = None,
    ecosystem: Annotated[list[str] | None, typer.Option(
        "--ecosystem", "-e", help="Ecosystem to fetch (repeatable); default from settings.")]
    = None,
    data_dir: DataDirOption = None,
    config: ConfigOption = None,
) -> None:
    """Download OSV ecosystem archives and import them, then re-evaluate stored images."""
    from wharf.scanning.vulndb import VulnDbError

    settings, scanning = _local_scanning(data_dir, config)
    base = base_url or settings.scanning.osv_base_url
    ecosystems = ecosystem or list(settings.scanning.ecosystems)
    try:
        with _progress() as progress, httpx.Client(timeout=300,
                                                   follow_redirects=True) as client:
            tasks: dict[tuple[str, str], Any] = {}

            def step(eco: str, phase: str, done: int, total: int) -> None:
                key = (eco, phase)
                if key not in tasks:
                    tasks[key] = progress.add_task(f"{phase} {eco}", total=total or None)
                progress.update(tasks[key], completed=done, total=total or None)

            summaries = scanning.vulndb.update(base, ecosystems, client, step)
    except VulnDbError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(1) from exc
    for summary in summaries:
        _print_summary(summary)
    _reevaluate(scanning)


@vulndb_app.command("status")
def vulndb_status(as_json: JsonOption = False) -> None:
    """Advisory sources, counts and age."""
    status = _call("GET", "/vulndb")
    if as_json:
        typer.echo(json.dumps(status, indent=2))
        return
    typer.echo(f"{status['advisories']} advisories")
    table = Table()
    for column in ("source", "advisories", "imported", "age", "origin"):
        table.add_column(column)
    for s in status["sources"]:
        table.add_row(s["name"], str(s["advisories"]), s["imported_at"][:19],
                      _age(s["age_seconds"]), s["origin"])
    out.print(table)


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
