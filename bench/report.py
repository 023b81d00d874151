"""Turn a results JSON into the terminal table and into bench/RESULTS.md.

Regenerate RESULTS.md from a saved run:  python -m bench.report bench/results/<file>.json
Only the part between the GENERATED markers is rewritten; notes written around it stay.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

REGISTRIES = ("wharf", "distribution")
RESULTS_MD = Path(__file__).with_name("RESULTS.md")
BEGIN = "<!-- GENERATED: bench.report; edit outside these markers -->"
END = "<!-- END GENERATED -->"
RATIO_HEADER = "wharf/Distribution (>1 = wharf better)"


@dataclass(frozen=True)
class Row:
    scenario: str
    metric: str
    label: str
    unit: str
    higher_is_better: bool
    limits: tuple[str, ...] = ()


ROWS = (
    Row("large_push_monolithic", "mbps",
        "Large push, monolithic POST+PUT ({large_blob_count}x{large_blob_mib} MiB)",
        "MB/s", True, ("push_ceiling_mbps",)),
    Row("large_push_chunked", "mbps",
        "Large push, chunked PATCH {chunk_mib} MiB ({large_blob_count}x{large_blob_mib} MiB)",
        "MB/s", True, ("push_ceiling_mbps",)),
    Row("large_pull", "mbps", "Large pull, c={large_blob_count}, digest verified",
        "MB/s", True, ("pull_ceiling_mbps", "sha256_mbps")),
    Row("small_push", "images_per_s",
        "Small-image push, {small_images} images, c={small_concurrency}", "images/s", True),
    Row("small_push", "manifest_put_p99_ms", "  small push: manifest PUT p99", "ms", False),
    Row("manifest_get", "rps", "Manifest GET by tag, c={wrk_connections} (wrk)", "req/s", True),
    Row("manifest_get", "p50_ms", "  manifest GET: p50", "ms", False),
    Row("manifest_get", "p99_ms", "  manifest GET: p99", "ms", False),
    Row("blob_head", "rps", "Blob HEAD, c={wrk_connections} (hey)", "req/s", True),
    Row("blob_head", "p50_ms", "  blob HEAD: p50", "ms", False),
    Row("blob_head", "p99_ms", "  blob HEAD: p99", "ms", False),
    Row("tags_list", "seconds", "List {tags} tags, n={page_size} pages", "s", False),
    Row("catalog_list", "seconds", "Catalog of {repos}+ repos, n={page_size} pages", "s", False),
    Row("push_rss", "peak_rss_mib", "Peak server RSS during {rss_mib} MiB push", "MiB", False),
    Row("push_rss", "mbps", "  RSS push: throughput", "MB/s", True, ("push_ceiling_mbps",)),
)

LIMIT_LABELS = {
    "push_ceiling_mbps": "min(sha256, disk write+fsync)",
    "pull_ceiling_mbps": "page-cache read",
    "sha256_mbps": "sha256 (the client verifies)",
}


def _profile_fields(profile: dict[str, Any]) -> dict[str, Any]:
    mib = 1024 * 1024
    return {**profile,
            "large_blob_mib": profile["large_blob_size"] // mib,
            "chunk_mib": profile["chunk_size"] // mib,
            "rss_mib": profile["rss_push_size"] // mib}


def _value(results: dict[str, Any], registry: str, row: Row) -> float | str | None:
    """The figure, the string 'error', or None when that registry was not run."""
    reg = results["registries"].get(registry)
    if reg is None:
        return None
    sc = reg["scenarios"].get(row.scenario)
    if sc is None:
        return None
    if not sc["ok"]:
        return "error"
    value = sc["metrics"].get(row.metric)
    return float(value) if value is not None else None


def _fmt(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def ratio(results: dict[str, Any], row: Row) -> float | None:
    """wharf/Distribution oriented so that > 1 means wharf is better."""
    w, d = _value(results, "wharf", row), _value(results, "distribution", row)
    if not isinstance(w, float) or not isinstance(d, float) or w <= 0 or d <= 0:
        return None
    return w / d if row.higher_is_better else d / w


def figure_rows(results: dict[str, Any]) -> list[list[str]]:
    fields = _profile_fields(results["profile"])
    out = []
    for row in ROWS:
        r = ratio(results, row)
        out.append([
            row.label.format(**fields),
            row.unit + (" ↑" if row.higher_is_better else " ↓"),
            _fmt(_value(results, "wharf", row)),
            _fmt(_value(results, "distribution", row)),
            f"{r:.2f}" if r is not None else "-",
        ])
    return out


def limit_rows(results: dict[str, Any]) -> list[list[str]]:
    limits = results.get("limits") or {}
    fields = _profile_fields(results["profile"])
    out = []
    for row in ROWS:
        for key in row.limits:
            if key not in limits:
                continue
            ceiling = float(limits[key])
            cells = []
            for registry in REGISTRIES:
                v = _value(results, registry, row)
                cells.append(f"{v / ceiling * 100:.0f}%" if isinstance(v, float) else _fmt(v))
            out.append([row.label.format(**fields).strip(),
                        f"{LIMIT_LABELS[key]} = {ceiling:,.0f} MB/s", *cells])
    return out


CPU_HEADER = ["Scenario", "wharf wall", "wharf server CPU", "wharf client CPU",
              "Dist. wall", "Dist. server CPU", "Dist. client CPU"]


def cpu_rows(results: dict[str, Any]) -> list[list[str]]:
    """Wall and CPU seconds per scenario (setup included), to see who was busy."""
    names: list[str] = []
    for reg in results["registries"].values():
        names += [n for n in reg["scenarios"] if n not in names]
    out = []
    for name in names:
        cells = [name]
        for registry in REGISTRIES:
            sc = results["registries"].get(registry, {}).get("scenarios", {}).get(name)
            for key in ("wall_seconds", "server_cpu_seconds", "client_cpu_seconds"):
                v = sc.get(key) if sc else None
                cells.append(f"{v:.1f}" if isinstance(v, float | int) else "-")
        out.append(cells)
    return out


def errors(results: dict[str, Any]) -> list[str]:
    out = []
    for registry, reg in results["registries"].items():
        if reg.get("start_error"):
            out.append(f"{registry}: did not start: {reg['start_error']}")
        for name, sc in reg["scenarios"].items():
            if not sc["ok"]:
                out.append(f"{registry} {name}: {sc['error']}")
    return out


def print_results(results: dict[str, Any], console: Console | None = None) -> None:
    if console is None:
        console = Console(width=max(Console().width, 130))
    m = results["machine"]
    title = (f"wharf vs Distribution - {results['mode']} run {results['date']} - "
             f"{m['nproc']} CPUs {m['cpu_model']}, {m['memory_gib']} GiB")
    table = Table(title=title, caption="↑ higher is better, ↓ lower is better; "
                  "ratio > 1.0 means wharf is better")
    table.add_column("Scenario")
    table.add_column("Unit")
    table.add_column("wharf", justify="right")
    table.add_column("Distribution", justify="right")
    table.add_column(RATIO_HEADER, justify="right")
    for cells in figure_rows(results):
        style = None
        if cells[4] != "-":
            style = "green" if float(cells[4]) >= 1 else "red"
        table.add_row(*cells[:4], f"[{style}]{cells[4]}[/]" if style else cells[4])
    console.print(table)

    limits = results.get("limits") or {}
    if "error" in limits:
        console.print(f"[red]machine limits not measured: {limits['error']}[/]")
    elif limits:
        console.print(
            f"Machine limits: sha256 {limits['sha256_mbps']:,.0f} MB/s (1 core), "
            f"disk write+fsync {limits['disk_write_fsync_mbps']:,.0f} MB/s, "
            f"page-cache read {limits['page_cache_read_mbps']:,.0f} MB/s")
        lt = Table(title="Share of the machine's limit reached")
        for col in ("Scenario", "Limit", "wharf", "Distribution"):
            lt.add_column(col, justify="left" if col in ("Scenario", "Limit") else "right")
        for cells in limit_rows(results):
            lt.add_row(*cells)
        console.print(lt)
    ct = Table(title="Seconds per scenario, untimed setup included (CPU: user+system)")
    for i, col in enumerate(CPU_HEADER):
        ct.add_column(col, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for cells in cpu_rows(results):
        ct.add_row(*cells)
    console.print(ct)
    load = (m.get("loadavg_before"), m.get("loadavg_after"))
    if load[0] is not None:
        console.print(f"Load average before/after the run: {load[0]:.2f} / {load[1]:.2f}")
    for line in errors(results):
        console.print(f"ERROR {line}", style="red", highlight=False, markup=False)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(c.strip().replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    limits = results.get("limits") or {}
    parts = [
        f"Run: **{results['mode']}**, {results['date']}  ",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB memory, "
        f"Linux {m['kernel']}, Python {m['python']}  ",
        "Servers: " + ", ".join(
            f"{name} {reg.get('version', '?')}" for name, reg in results["registries"].items()),
        "",
        "Ratio is oriented so that **> 1.0 means wharf is better** "
        "(wharf/Distribution for throughput, Distribution/wharf for latency, time and memory).",
        "",
        _md_table(["Scenario", "Unit", "wharf", "Distribution", RATIO_HEADER],
                  figure_rows(results)),
        "",
    ]
    if limits and "error" not in limits:
        parts += [
            f"Machine limits on the same data: sha256 {limits['sha256_mbps']:,.0f} MB/s "
            f"(hashlib, 1 core), disk write+fsync {limits['disk_write_fsync_mbps']:,.0f} MB/s, "
            f"page-cache read {limits['page_cache_read_mbps']:,.0f} MB/s.",
            "",
            _md_table(["Scenario", "Limit", "wharf", "Distribution"], limit_rows(results)),
            "",
        ]
    parts += [
        "Seconds per scenario, untimed setup included (CPU: user+system; the client's "
        "excludes wrk/hey):",
        "",
        _md_table(CPU_HEADER, cpu_rows(results)),
        "",
    ]
    if m.get("loadavg_before") is not None:
        parts += [f"Load average before/after the run: {m['loadavg_before']:.2f} / "
                  f"{m['loadavg_after']:.2f}", ""]
    errs = errors(results)
    if errs:
        parts += ["Errors:", "", *[f"- `{e[:300]}`" for e in errs], ""]
    return "\n".join(parts)


def write_results_md(results: dict[str, Any], path: Path = RESULTS_MD) -> None:
    block = f"{BEGIN}\n{render_markdown(results)}\n{END}"
    if path.exists():
        text = path.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            path.write_text(head + block + tail)
            return
    path.write_text(f"# Benchmark results\n\n{block}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", type=Path, nargs="?", help="results JSON (default: newest)")
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    parser.add_argument("--print", action="store_true", help="also print the table")
    args = parser.parse_args(argv)
    path: Path | None = args.json
    if path is None:
        found = sorted(Path(__file__).with_name("results").glob("*.json"),
                       key=lambda p: p.stat().st_mtime)
        if not found:
            print("no results JSON in bench/results/", file=sys.stderr)
            return 2
        path = found[-1]
    results = json.loads(path.read_text())
    write_results_md(results, args.out)
    if args.print:
        print_results(results)
    print(f"wrote {args.out} from {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
