"""/api/v1/audit"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from wharf import errors
from wharf.api.mgmt.common import api, call, iso, ok
from wharf.auth.management import Caller
from wharf.auth.services import AuthServices
from wharf.errors import RegistryError


def _int(text: str | None, default: int | None) -> int | None:
    if text is None:
        return default
    if not text.isdigit():
        raise RegistryError(errors.INVALID_REQUEST, {"reason": f"not a number: {text[:20]}"})
    return int(text)


@api
async def list_events(request: Request, caller: Caller, auth: AuthServices) -> Response:
    """Newest first; `?limit=`, `?before=<id>`, `?actor=`, `?action=` (system admins)."""
    q = request.query_params
    limit = _int(q.get("limit"), 100)
    assert limit is not None
    rows = await call(auth.iam.audit, caller, limit, _int(q.get("before"), None),
                      q.get("actor"), q.get("action"))
    return ok({"events": [{"id": r.id, "at": iso(r.at), "action": r.action,
                           "outcome": r.outcome, "actor": r.actor, "remote": r.remote,
                           "target": r.target, "detail": r.detail} for r in rows]})
