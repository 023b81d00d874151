"""`wharf retention …`, `wharf gc …`, `wharf storage report`, `wharf image list`.

Clients of /api/v1 as the saved login (`wharf login`): rich tables by default, one JSON
document with `--json` / `--format json`, errors on stderr with a non-zero exit.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from wharf.cli.client import FormatOption, JsonOption, api, fail, wants_json

retention_app = typer.Typer(help="Per-project retention policies.", no_args_is_help=True)
gc_app = typer.Typer(help="Online garbage collection.", no_args_is_help=True)
storage_app = typer.Typer(help="Storage usage reports.", no_args_is_help=True)
image_app = typer.Typer(help="Images stored in repositories.", no_args_is_help=True)

out = Console()
err = Console(stderr=True)

ProjectArg = Annotated[str, typer.Option("--project", "-p", help="Project name.")]
OptionalProject = Annotated[str | None, typer.Option("--project", "-p", help="Project name.")]


def register(app: typer.Typer) -> None:
    app.add_typer(retention_app, name="retention")
    app.add_typer(gc_app, name="gc")
    app.add_typer(storage_app, name="storage")
    app.add_typer(image_app, name="image")


def human(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2))


# -- retention ------------------------------------------------------------------------


def _print_policy(policy: dict[str, Any]) -> None:
    if not policy["configured"]:
        out.print(f"project {policy['project']}: no retention policy (nothing is removed)")
        return
    table = Table(title=f"retention policy of {policy['project']}", show_header=False)
    table.add_row("keep last", "off" if policy["keep_last"] is None else str(policy["keep_last"]))
    table.add_row("keep tagged", ", ".join(policy["keep_tagged"]) or "off")
    table.add_row("delete untagged older than", policy["delete_untagged_older_than"] or "off")
    table.add_row("updated", f"{policy['updated_at']} by {policy['updated_by'] or '?'}")
    table.add_row("last run", policy["last_run_at"] or "never")
    out.print(table)


@retention_app.command("set")
def retention_set(
    *,
    project: ProjectArg,
    keep_last: Annotated[int | None, typer.Option(
        help="Per repository, keep the N most recently pushed tags not matched by "
             "--keep-tagged.")] = None,
    keep_tagged: Annotated[str | None, typer.Option(
        help="Comma-separated tag globs kept forever, e.g. 'release-*,main'.")] = None,
    delete_untagged_older_than: Annotated[str | None, typer.Option(
        help="Unlink untagged manifests pushed longer ago than this (0d, 12h, 7d).")] = None,
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
) -> None:
    """Set a project's retention policy (replaces the previous one)."""
    policy = api().request("PUT", f"/projects/{project}/retention", json={
        "keep_last": keep_last, "keep_tagged": keep_tagged,
        "delete_untagged_older_than": delete_untagged_older_than})
    if wants_json(as_json, fmt):
        _print_json(policy)
    else:
        _print_policy(policy)


@retention_app.command("show")
def retention_show(project: ProjectArg, fmt: FormatOption = "table",
                   as_json: JsonOption = False) -> None:
    """Show a project's retention policy."""
    policy = api().request("GET", f"/projects/{project}/retention")
    if wants_json(as_json, fmt):
        _print_json(policy)
    else:
        _print_policy(policy)


@retention_app.command("clear")
def retention_clear(project: ProjectArg) -> None:
    """Remove a project's retention policy."""
    api().request("DELETE", f"/projects/{project}/retention")
    err.print(f"retention policy of {project} removed")


@retention_app.command("run")
def retention_run(
    project: ProjectArg,
    dry_run: Annotated[bool, typer.Option("--dry-run",
                                          help="List what would be removed; change "
                                               "nothing.")] = False,
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
) -> None:
    """Apply a project's retention policy now (GC reclaims the space afterwards)."""
    result = api().request("POST", f"/projects/{project}/retention/run",
                           json={"dry_run": dry_run})
    if wants_json(as_json, fmt):
        _print_json(result)
        return
    verb = "would remove" if dry_run else "removed"
    table = Table(title=f"retention {project}: {verb}")
    for column in ("repository", "tag", "digest"):
        table.add_column(column)
    for tag in result["tags"]:
        table.add_row(tag["repository"], tag["tag"], tag["digest"])
    for manifest in result["manifests"]:
        table.add_row(manifest["repository"], "(manifest)", manifest["digest"])
    out.print(table)
    out.print(f"{verb} {len(result['tags'])} tags and {len(result['manifests'])} manifests")


# -- gc -------------------------------------------------------------------------------

_COUNTS = (("manifest links", "manifest_links_removed"), ("blob links", "blob_links_removed"),
           ("attached tags", "tags_removed"), ("manifests", "manifests_deleted"),
           ("blobs", "blobs_deleted"), ("upload sessions", "uploads_purged"),
           ("orphaned files", "orphans_deleted"))


def _print_run(run: dict[str, Any]) -> None:
    summary = run.get("summary") or {}
    verb = "would free" if run["dry_run"] else "freed"
    title = (f"gc run {run['id']} ({run['project'] or 'all projects'}, grace "
             f"{run['grace_seconds']}s): {run['status']}")
    table = Table(title=title)
    table.add_column("removed" if not run["dry_run"] else "would remove")
    table.add_column("count", justify="right")
    for label, key in _COUNTS:
        table.add_row(label, str(summary.get(key, 0)))
    out.print(table)
    out.print(f"{verb} {human(summary.get('bytes_freed', 0))} "
              f"({summary.get('bytes_freed', 0)} bytes)")
    if run.get("error"):
        err.print(f"error: {run['error']}", markup=False)


@gc_app.command("run")
def gc_run(
    *,
    project: OptionalProject = None,
    grace: Annotated[str | None, typer.Option(
        help="Override the grace period for this run (e.g. 0s, 1h).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count; delete nothing.")] = False,
    wait: Annotated[bool, typer.Option(help="Follow the run until it ends.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 3600,
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
) -> None:
    """Reclaim unreferenced manifests, blobs and upload sessions (online)."""
    client = api()
    json_out = wants_json(as_json, fmt)
    run = client.request("POST", "/gc/runs",
                         json={"project": project, "grace": grace, "dry_run": dry_run})
    deadline = time.monotonic() + timeout
    if wait:
        with err.status(f"gc run {run['id']}: {run['status']}") as status:
            while run["status"] in ("queued", "running"):
                if time.monotonic() > deadline:
                    fail(f"gc run {run['id']} still {run['status']} after {timeout:.0f}s")
                time.sleep(0.3)
                run = client.request("GET", f"/gc/runs/{run['id']}")
                counts = run.get("summary") or {}
                status.update(f"gc run {run['id']}: {run['status']} {run.get('phase') or ''} "
                              f"(manifests {counts.get('manifests_deleted', 0)}, blobs "
                              f"{counts.get('blobs_deleted', 0)}, "
                              f"{human(counts.get('bytes_freed', 0))})")
    if json_out:
        _print_json(run)
    else:
        _print_run(run)
    if run["status"] not in ("done", "queued", "running"):
        raise typer.Exit(1)


@gc_app.command("status")
def gc_status(
    run_id: Annotated[int | None, typer.Argument(help="A run id; default: recent runs.")] = None,
    project: OptionalProject = None,
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
) -> None:
    """Show a GC run, or the recent runs."""
    client = api()
    if run_id is not None:
        run = client.request("GET", f"/gc/runs/{run_id}")
        if wants_json(as_json, fmt):
            _print_json(run)
        else:
            _print_run(run)
        return
    runs = client.request("GET", "/gc/runs", params={"project": project} if project else None)
    if wants_json(as_json, fmt):
        _print_json(runs)
        return
    table = Table(title="gc runs")
    for column in ("id", "project", "status", "dry run", "started", "finished", "blobs",
                   "freed"):
        table.add_column(column)
    for run in runs["runs"]:
        summary = run.get("summary") or {}
        table.add_row(str(run["id"]), run["project"] or "(all)", run["status"],
                      "yes" if run["dry_run"] else "", run["started_at"] or "",
                      run["finished_at"] or "", str(summary.get("blobs_deleted", "")),
                      human(summary.get("bytes_freed")))
    out.print(table)


# -- reports --------------------------------------------------------------------------


@storage_app.command("report")
def storage_report(project: ProjectArg, fmt: FormatOption = "table",
                   as_json: JsonOption = False) -> None:
    """Logical and deduplicated bytes, sharing, untagged images, largest layers."""
    report = api().request("GET", f"/projects/{project}/storage")
    if wants_json(as_json, fmt):
        _print_json(report)
        return
    totals = Table(title=f"storage of {project}", show_header=False)
    totals.add_row("logical bytes (sum of image sizes)", human(report["logical_bytes"]))
    totals.add_row("unique bytes (after dedup)", human(report["unique_bytes"]))
    totals.add_row("shared with other projects", human(report["shared_bytes"]))
    totals.add_row("untagged images", f"{report['untagged_manifests']} "
                                      f"({human(report['untagged_bytes'])})")
    out.print(totals)
    repos = Table(title="repositories")
    for column in ("repository", "images", "tags", "logical", "unique", "untagged"):
        repos.add_column(column)
    for repo in report["repositories"]:
        repos.add_row(repo["name"], str(repo["images"]), str(repo["tags"]),
                      human(repo["logical_bytes"]), human(repo["unique_bytes"]),
                      f"{repo['untagged_manifests']} ({human(repo['untagged_bytes'])})")
    out.print(repos)
    layers = Table(title="largest layers")
    for column in ("digest", "size", "repositories"):
        layers.add_column(column)
    for layer in report["largest_layers"]:
        layers.add_row(layer["digest"], human(layer["size"]), str(layer["repositories"]))
    out.print(layers)


@image_app.command("list")
def image_list(
    *,
    repo: Annotated[str | None, typer.Option("--repo", help="A repository, e.g. acme/web.")]
    = None,
    project: OptionalProject = None,
    untagged: Annotated[bool, typer.Option("--untagged", help="Only untagged images.")]
    = False,
    older_than: Annotated[str | None, typer.Option(
        help="Only images pushed longer ago than this (e.g. 7d).")] = None,
    fmt: FormatOption = "table",
    as_json: JsonOption = False,
) -> None:
    """Images (tags, digests, sizes, push times) of a repository or project."""
    if (repo is None) == (project is None):
        fail("give --repo or --project", 2)
    params: dict[str, str] = {"repo": repo} if repo is not None else {"project": project or ""}
    if untagged:
        params["untagged"] = "true"
    if older_than:
        params["older_than"] = older_than
    result = api().request("GET", "/images", params=params)
    if wants_json(as_json, fmt):
        _print_json(result)
        return
    table = Table(title=f"images of {repo or project}")
    for column in ("repository", "tags", "digest", "size", "pushed"):
        table.add_column(column)
    for image in result["images"]:
        table.add_row(image["repository"], ", ".join(image["tags"]) or "<untagged>",
                      image["digest"], human(image["size"]), image["pushed_at"])
    out.print(table)
