"""The require-signed gate on manifest GETs, with what it needs to know of the caller.

Signing tools read an image before they sign it, so callers who may push to the
repository are exempt when the settings say so; whether they may is asked only when a
pull would otherwise be refused.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request

from wharf.auth.principals import ANONYMOUS, Principal
from wharf.auth.roles import PUSH
from wharf.metadata.store import StoredManifest
from wharf.signatures.service import SignatureService


def _may_push(request: Request, name: str) -> Callable[[], bool]:
    """Runs in the worker thread: the principal behind a Bearer token is looked up there."""
    auth = getattr(request.state, "auth", None)

    def may_push() -> bool:
        if auth is None:
            return False
        principal: Principal = auth.principal_ or ANONYMOUS
        if auth.principal_ is None and auth.token is not None:
            principal = auth.services.authenticator.principal_from_ref(auth.token.principal_ref)
        return bool(auth.services.policy.may(principal, name, PUSH))

    return may_push


def gate(request: Request, name: str) -> Callable[[StoredManifest], None] | None:
    """What to run on a manifest about to be served by GET; None when nothing is."""
    service: SignatureService | None = getattr(request.app.state, "signatures", None)
    if service is None or request.method != "GET":
        return None
    may_push = _may_push(request, name)

    def check(stored: StoredManifest) -> None:
        service.serve_pull(name, stored.digest, stored.body, may_push)

    return check
