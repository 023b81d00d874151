"""`wharf image show|sign|verify` and `wharf key generate`: cosign-compatible signing for
users without cosign.

`image sign` writes exactly what `cosign sign --key` writes (the simple-signing payload
blob, the config blob, and the OCI manifest with the signature annotation under tag
`sha256-<hex>.sig`, appended to an existing one), so `cosign verify --key` accepts it.
`image verify` checks like `cosign verify --key` without a transparency log. Keys are
read as openssl writes them (SEC1, PKCS#8) or as cosign does (encrypted key files); the
password comes from COSIGN_PASSWORD, as with cosign, or a prompt.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from wharf.cli.client import JsonOption, api, err, fail, load_login, out
from wharf.cli.oci_client import RegistryClient
from wharf.oci import mediatypes as mt
from wharf.oci import signing
from wharf.oci.digest import Digest, DigestError
from wharf.signatures import keys
from wharf.signatures.cosign import sign, verify_layer

key_app = typer.Typer(help="Signing keys (cosign-compatible).", no_args_is_help=True)

RefArgument = Annotated[str, typer.Argument(help="REPOSITORY[:TAG] or REPOSITORY@DIGEST")]
# The variable cosign reads the key password from (a name, not a secret).
PASSWORD_ENV = "COSIGN_PASSWORD"  # noqa: S105


def _password(confirm: bool = False) -> bytes:
    if PASSWORD_ENV in os.environ:
        return os.environ[PASSWORD_ENV].encode()
    if not sys.stdin.isatty():
        return b""
    return str(typer.prompt("Password for the private key", hide_input=True,
                            confirmation_prompt=confirm, default="",
                            show_default=False)).encode()


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")
        raise AssertionError from exc


@key_app.command("generate")
def key_generate(
    output_key_prefix: Annotated[str, typer.Option(
        "--output-key-prefix", help="Writes PREFIX.key and PREFIX.pub.")] = "cosign",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Generate an ECDSA P-256 key pair as `cosign generate-key-pair` does: PREFIX.key is
    an encrypted cosign key file (password from COSIGN_PASSWORD or a prompt), PREFIX.pub
    a PEM public key."""
    private, public = Path(f"{output_key_prefix}.key"), Path(f"{output_key_prefix}.pub")
    for path in (private, public):
        if path.exists() and not force:
            fail(f"{path} exists; use --force to overwrite it")
    key = keys.generate()
    pem = keys.encrypt_cosign_key(key, _password(confirm=True))
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(pem)
    public.write_text(keys.public_pem(key))
    err.print(f"Private key written to {private}\nPublic key written to {public}",
              markup=False, highlight=False)


def image_sign(
    ref: RefArgument,
    key: Annotated[Path, typer.Option("--key", help="Private key file (PEM or cosign).")],
    annotation: Annotated[list[str] | None, typer.Option(
        "--annotation", "-a", help="KEY=VALUE added to the signed payload.")] = None,
) -> None:
    """Sign an image the way `cosign sign --key` does (tag sha256-<hex>.sig)."""
    text = _read(key)
    try:
        private = keys.load_private_key(text, _password() if keys.needs_password(text)
                                        else None)
    except keys.KeyFormatError as exc:
        fail(f"{key}: {exc}")
        raise AssertionError from exc
    claims = dict(a.split("=", 1) for a in annotation or [] if "=" in a)
    registry = RegistryClient(load_login())
    name, reference = registry.split(ref)
    digest = registry.resolve(name, reference)
    tag = signing.signature_tag(digest)
    existing: list[dict[str, Any]] = []
    current = registry.manifest(name, tag)
    if current is not None:
        existing = [layer for layer in json.loads(current).get("layers", [])
                    if isinstance(layer, dict)]
    artifact = sign(private, f"{registry.host}/{name}", digest, claims or None,
                    existing=existing)
    registry.push_blob(name, artifact.payload)
    registry.push_blob(name, artifact.config)
    registry.put_manifest(name, tag, artifact.manifest, mt.OCI_MANIFEST)
    err.print(f"Pushing signature to: {registry.host}/{name}:{tag}", markup=False,
              highlight=False)


def _candidates(registry: RegistryClient, name: str,
                digest: Digest) -> list[tuple[str, dict[str, Any]]]:
    """(where, layer) of every simple-signing layer: the .sig tag and cosign referrers."""
    found: list[tuple[str, dict[str, Any]]] = []
    sources = [signing.signature_tag(digest)]
    sources += [d["digest"] for d in registry.referrers(name, digest)
                if d.get("artifactType") == signing.COSIGN_ARTIFACT_SIG]
    for source in sources:
        body = registry.manifest(name, source)
        if body is None:
            continue
        found.extend((source, layer) for layer in json.loads(body).get("layers", [])
                     if isinstance(layer, dict)
                     and layer.get("mediaType") == signing.SIMPLE_SIGNING)
    return found


def image_verify(
    ref: RefArgument,
    key: Annotated[Path, typer.Option("--key", help="PEM public key (or certificate).")],
    as_json: JsonOption = False,
) -> None:
    """Verify an image's cosign signatures against a public key (as `cosign verify --key`
    does without a transparency log); exits 1 when none verifies."""
    try:
        trusted = [keys.load_public_key(_read(key))]
    except keys.KeyFormatError as exc:
        fail(f"{key}: {exc}")
        raise AssertionError from exc
    registry = RegistryClient(load_login())
    name, reference = registry.split(ref)
    digest = registry.resolve(name, reference)
    results = []
    for source, layer in _candidates(registry, name, digest):
        payload = registry.blob(name, str(layer.get("digest")))
        try:
            intact = payload is not None and Digest.of(payload) == Digest.parse(layer["digest"])
        except (DigestError, KeyError):
            intact = False
        if not intact or payload is None:
            results.append({"source": source, "verified": False, "reason": "payload missing"})
            continue
        check = verify_layer(payload, (layer.get("annotations") or {}).get(
            signing.SIGNATURE_ANNOTATION), digest, trusted)
        results.append({"source": source, "verified": check.valid, "reason": check.reason,
                        "payload": json.loads(payload) if check.valid else None})
    verified = any(r["verified"] for r in results)
    if as_json:
        typer.echo(json.dumps({"image": f"{name}@{digest}", "verified": verified,
                               "signatures": results}, indent=2))
    elif verified:
        err.print(f"Verification for {registry.host}/{name}@{digest} --\nThe cosign claims "
                  "were validated and the signature was verified against the given key.",
                  markup=False, highlight=False)
        typer.echo(json.dumps([r["payload"] for r in results if r["verified"]]))
    if not verified:
        if not as_json:
            reasons = "; ".join(sorted({str(r["reason"]) for r in results})) or \
                "no signatures found"
            err.print(f"error: no valid signature for {name}@{digest}: {reasons}",
                      markup=False, highlight=False)
        raise typer.Exit(1)


def image_show(ref: RefArgument, as_json: JsonOption = False) -> None:
    """An image's digest and its signatures (cosign tag scheme and referrers, Notary),
    each checked against the project's trusted keys."""
    login = load_login()
    name, reference = RegistryClient(login).split(ref)
    doc = api().request("GET", f"/repositories/{name}/signatures/{reference}")
    if as_json:
        typer.echo(json.dumps(doc, indent=2))
        return
    out.print(f"[bold]{name}[/bold]@{doc['digest']}")
    state = "[green]yes[/]" if doc["signed_by_trusted_key"] else "[red]no[/]"
    out.print(f"signed by a trusted key: {state}   "
              f"project requires signatures: {'yes' if doc['require_signed'] else 'no'}")
    if not doc["signatures"]:
        out.print("no signatures")
        return
    table = Table()
    for column in ("kind", "source", "digest", "verified", "signer / reason"):
        table.add_column(column)
    for s in doc["signatures"]:
        verified = {True: "[green]valid[/]", False: "[red]invalid[/]", None: "unchecked"}
        table.add_row(s["kind"], s["tag"] or "referrer", s["digest"][:19],
                      verified[s["verified"]], s["signer"] or s["reason"] or "")
    out.print(table)


def register(app: typer.Typer, image_app: typer.Typer) -> None:
    """Add `key` and, to the one `image` noun (shared with `image list`), show/sign/verify."""
    app.add_typer(key_app, name="key")
    image_app.command("show")(image_show)
    image_app.command("sign")(image_sign)
    image_app.command("verify")(image_verify)
