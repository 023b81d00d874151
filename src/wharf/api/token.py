"""The Docker registry token service (distribution `docs/spec/auth/token.md`, `oauth.md`).

`GET /auth/token` takes optional Basic credentials and `service`, `scope` (repeatable),
`account`, `offline_token`; `POST /auth/token` is the OAuth2 form with the `password`,
`refresh_token` and token-exchange (`subject_token`, a federated identity token) grants.
The granted access is what was asked for, cut down to what the caller's roles allow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wharf import errors
from wharf.api.auth import auth_failure, basic_credentials, remote_of, services_of
from wharf.auth.authn import OIDC_USERNAME
from wharf.auth.principals import ANONYMOUS, Principal
from wharf.auth.scopes import ScopeError, parse_scopes
from wharf.auth.services import AuthServices
from wharf.auth.tokens import REFRESH, TokenError
from wharf.errors import RegistryError

MAX_FORM_BYTES = 64 * 1024
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_service(services: AuthServices, service: str | None) -> None:
    if service and service != services.tokens.service:
        raise RegistryError(errors.INVALID_REQUEST, {"service": service},
                            f"unknown service {service!r}")


def _scopes(values: list[str]) -> list[str]:
    try:
        return [str(s) for s in parse_scopes(values)]
    except ScopeError as exc:
        raise RegistryError(errors.INVALID_REQUEST, {"scope": str(exc)},
                            f"invalid scope: {exc}") from exc


def _issue(services: AuthServices, principal: Principal, scope_values: list[str], *,
           offline: bool, refresh_ttl: timedelta | None, remote: str | None,
           oauth: bool) -> dict[str, object]:
    requested = parse_scopes(scope_values)
    granted = services.policy.grant(principal, requested)
    access = services.tokens.issue_access(principal.name, principal.ref, granted)
    body: dict[str, object] = {"token": access.token, "access_token": access.token,
                               "expires_in": access.expires_in,
                               "issued_at": _iso(access.issued_at)}
    if oauth:
        body["scope"] = " ".join(str(s) for s in granted)
    if offline and principal.authenticated:
        refresh = services.tokens.issue_refresh(principal.name, principal.ref, refresh_ttl)
        body["refresh_token"] = refresh.token
        body["refresh_expires_in"] = refresh.expires_in
    if principal.authenticated:
        services.authenticator.store.record(
            "token.issue", "ok", principal.name, remote,
            target=" ".join(str(s) for s in granted) or None)
    return body


def _identity_ttl(services: AuthServices, token: str) -> timedelta | None:
    """Refresh tokens from a federated identity do not outlive the identity token."""
    expiry = services.authenticator.identity_expiry(token)
    if expiry is None:
        return None
    left = datetime.fromtimestamp(expiry, tz=UTC) - datetime.now(UTC)
    return max(left, timedelta(seconds=1))


async def get_token(request: Request) -> Response:
    services = services_of(request)
    params = request.query_params
    remote = remote_of(request)
    try:
        _check_service(services, params.get("service"))
        _scopes(params.getlist("scope"))
        creds = basic_credentials(request.headers.get("authorization"))
        principal, ttl = ANONYMOUS, None
        if creds is not None:
            principal = await run_in_threadpool(services.authenticator.login, creds[0],
                                                creds[1], remote)
            if creds[0] == OIDC_USERNAME:
                ttl = await run_in_threadpool(_identity_ttl, services, creds[1])
        offline = params.get("offline_token", "").lower() == "true"
        body = await run_in_threadpool(partial(
            _issue, services, principal, params.getlist("scope"), offline=offline,
            refresh_ttl=ttl, remote=remote, oauth=False))
    except RegistryError as exc:
        return _failure(request, exc)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def post_token(request: Request) -> Response:
    services = services_of(request)
    remote = remote_of(request)
    try:
        field = await _form(request)
        grant = field.get("grant_type", "")
        _check_service(services, field.get("service"))
        scope_values = [field.get("scope", "")]
        _scopes(scope_values)
        ttl = None
        if "subject_token" in field or grant == TOKEN_EXCHANGE:
            subject = field.get("subject_token", "")
            principal = await run_in_threadpool(services.authenticator.login, OIDC_USERNAME,
                                                subject, remote)
            ttl = await run_in_threadpool(_identity_ttl, services, subject)
        elif grant == "password":
            username, password = field.get("username", ""), field.get("password", "")
            principal = await run_in_threadpool(services.authenticator.login, username,
                                                password, remote)
            if username == OIDC_USERNAME:
                ttl = await run_in_threadpool(_identity_ttl, services, password)
        elif grant == "refresh_token":
            principal = await run_in_threadpool(_from_refresh, services,
                                                field.get("refresh_token", ""))
        else:
            raise RegistryError(errors.INVALID_REQUEST, {"grant_type": grant},
                                "unsupported grant_type")
        offline = field.get("access_type") == "offline" or grant == "refresh_token"
        body = await run_in_threadpool(partial(
            _issue, services, principal, scope_values, offline=offline, refresh_ttl=ttl,
            remote=remote, oauth=True))
        if grant == "refresh_token":
            # Keep handing back the token the client already holds (oauth.md).
            body["refresh_token"] = field.get("refresh_token", "")
            body.pop("refresh_expires_in", None)
    except RegistryError as exc:
        return _failure(request, exc)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded OAuth2 form (RFC 6749 4.3.2); small by nature, so bounded."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise RegistryError(errors.TOO_LARGE, {"limit": MAX_FORM_BYTES})
    try:
        return dict(parse_qsl(body.decode(), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RegistryError(errors.INVALID_REQUEST, {"reason": "malformed form"}) from exc


def _from_refresh(services: AuthServices, token: str) -> Principal:
    try:
        verified = services.tokens.verify(token, REFRESH)
    except TokenError as exc:
        code = errors.CREDENTIALS_EXPIRED if exc.expired else errors.UNAUTHORIZED
        raise RegistryError(code, {"reason": str(exc)}, message=str(exc)) from exc
    return services.authenticator.principal_from_ref(verified.principal_ref)


def _failure(request: Request, exc: RegistryError) -> Response:
    response = auth_failure(request, exc, None)
    if exc.code.status == 401:
        # The token endpoint asks for credentials, not for another token.
        response.headers["WWW-Authenticate"] = 'Basic realm="wharf"'
    return response


async def jwks(request: Request) -> Response:
    """The public keys registry tokens are signed with (current and retired)."""
    keys = await run_in_threadpool(services_of(request).tokens.keys.jwks)
    return JSONResponse(keys)
