"""Request authentication and the per-route access check for /v2.

Every /v2 route is wrapped in `requires(action)`: the caller is authenticated from the
`Authorization` header (Basic credentials of a user, robot or API token, or a Bearer
registry token), then must hold `action` on the repository named in the path. Callers
without credentials get `401` with the Bearer challenge docker/podman/containerd follow;
authenticated callers without the role get `403 DENIED`. Both look the same whether or
not the repository or project exists.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from wharf import errors
from wharf.api.errors import render
from wharf.auth.management import Caller
from wharf.auth.principals import ANONYMOUS, Principal
from wharf.auth.roles import DELETE, PULL, PUSH, VIEW
from wharf.auth.scopes import CATALOG, REGISTRY, REPOSITORY, challenge_scope
from wharf.auth.services import AuthServices
from wharf.auth.tokens import TokenError, VerifiedToken
from wharf.errors import RegistryError

Handler = Callable[[Request], Awaitable[Response]]

LOGIN = "login"
CATALOG_ACTION = "catalog"
__all__ = ["CATALOG_ACTION", "DELETE", "LOGIN", "PULL", "PUSH", "VIEW", "requires"]


@dataclass
class RequestAuth:
    """Who sent a request: Basic credentials give the principal at once; a Bearer token
    carries its grants and names its principal, which is looked up only when needed."""

    services: AuthServices
    principal_: Principal | None
    token: VerifiedToken | None = None
    remote: str | None = None

    async def principal(self) -> Principal:
        if self.principal_ is None and self.token is not None:
            ref = self.token.principal_ref
            self.principal_ = await run_in_threadpool(
                self.services.authenticator.principal_from_ref, ref)
        return self.principal_ or ANONYMOUS

    async def caller(self) -> Caller:
        return Caller(await self.principal(), self.remote)


def services_of(request: Request) -> AuthServices:
    services: AuthServices = request.app.state.auth
    return services


def remote_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def realm_of(request: Request) -> str:
    return services_of(request).realm or f"{str(request.base_url).rstrip('/')}/auth/token"


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ("", "")
    username, _, password = decoded.partition(":")
    return username, password


async def authenticate(request: Request) -> RequestAuth:
    """Raises UNAUTHORIZED (or TOO_MANY_REQUESTS) for credentials that do not check out;
    no credentials at all is the anonymous caller."""
    services = services_of(request)
    remote = remote_of(request)
    header = request.headers.get("authorization")
    if not header:
        return RequestAuth(services, ANONYMOUS, remote=remote)
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        try:
            # A token seen before is answered from memory; only a new one needs the
            # signature check (and perhaps the key table), in a worker thread.
            token = services.tokens.cached(value.strip()) or await run_in_threadpool(
                services.tokens.verify, value.strip())
        except TokenError as exc:
            code = errors.CREDENTIALS_EXPIRED if exc.expired else errors.UNAUTHORIZED
            raise RegistryError(code, {"reason": str(exc)}, message=str(exc)) from exc
        return RequestAuth(services, None, token, remote)
    creds = basic_credentials(header)
    if creds is None:
        raise RegistryError(errors.UNAUTHORIZED, {"reason": f"unsupported scheme {scheme!r}"})
    principal = await run_in_threadpool(services.authenticator.login, creds[0], creds[1],
                                        remote)
    return RequestAuth(services, principal, remote=remote)


def challenge(request: Request, scope: str | None, error: str | None = None) -> dict[str, str]:
    parts = [f'realm="{realm_of(request)}"',
             f'service="{services_of(request).tokens.service}"']
    if scope:
        parts.append(f'scope="{scope}"')
    if error:
        parts.append(f'error="{error}"')
    return {"WWW-Authenticate": "Bearer " + ",".join(parts),
            "Docker-Distribution-API-Version": "registry/2.0"}


def _scope_for(name: str | None, action: str) -> str | None:
    if action == LOGIN:
        return None
    if action == CATALOG_ACTION or name is None:
        return f"{REGISTRY}:{CATALOG}:*"
    return challenge_scope(name, frozenset({action}))


def auth_failure(request: Request, exc: RegistryError, scope: str | None) -> Response:
    headers: dict[str, str] = {}
    if exc.code.status == 401:
        headers = challenge(request, scope, "invalid_token" if request.headers.get(
            "authorization", "").lower().startswith("bearer") else None)
    elif exc.code is errors.TOO_MANY_REQUESTS:
        headers = {"Retry-After": "60"}
    return render(exc, headers)


def _unauthorized(request: Request, scope: str | None, error: str | None = None) -> Response:
    detail = None
    if scope:
        # Distribution's shape: what access was missing (`Type`, `Name`, `Action`).
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        detail = [{"Type": kind, "Class": "", "Name": name, "Action": action}
                  for action in actions.split(",")]
    exc = RegistryError(errors.UNAUTHORIZED, detail)
    return render(exc, challenge(request, scope, error))


async def _repository_check(request: Request, auth: RequestAuth, name: str,
                            action: str) -> Response | None:
    services = auth.services
    if auth.token is not None and auth.token.grants(REPOSITORY, name, action):
        return None
    scope = _scope_for(name, action)
    principal = await auth.principal()
    allowed = await run_in_threadpool(services.policy.may, principal, name, action)
    if auth.token is None and allowed:
        return None
    if auth.token is not None and allowed:
        # The principal may, the token just does not say so: ask for a token that does.
        return _unauthorized(request, scope, "insufficient_scope")
    if not principal.authenticated:
        return _unauthorized(request, scope)
    return render(RegistryError(errors.DENIED))


def requires(action: str) -> Callable[[Handler], Handler]:
    """Wrap a /v2 handler: authenticate, then check `action` on the path's repository
    (`LOGIN`: any authenticated caller; `CATALOG_ACTION`: anyone, the handler filters)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            name: str | None = request.path_params.get("name")
            try:
                auth = await authenticate(request)
            except RegistryError as exc:
                return auth_failure(request, exc, _scope_for(name, action))
            request.state.auth = auth
            if action == LOGIN:
                principal = await auth.principal() if auth.token is None else None
                if principal is not None and not principal.authenticated:
                    return _unauthorized(request, None)
            elif action == CATALOG_ACTION:
                if auth.token is not None and not auth.token.grants(REGISTRY, CATALOG, "*"):
                    return _unauthorized(request, _scope_for(name, action),
                                         "insufficient_scope")
            elif name is not None:
                try:
                    denied = await _repository_check(request, auth, name, action)
                except RegistryError as exc:
                    return auth_failure(request, exc, _scope_for(name, action))
                if denied is not None:
                    return denied
            return await handler(request)

        return endpoint

    return wrap


async def may_pull(request: Request, repository: str | None) -> bool:
    """Whether the request's caller may pull `repository` (cross-repository mount source).

    Without a source the registry searches only the target's own project, where the
    caller already holds push (and so pull)."""
    if repository is None:
        return True
    auth: RequestAuth = request.state.auth
    if auth.token is not None:
        return auth.token.grants(REPOSITORY, repository, PULL)
    return await run_in_threadpool(auth.services.policy.may, await auth.principal(),
                                   repository, PULL)


async def visible_projects(request: Request) -> set[str] | None:
    """Projects whose repositories the catalog may list for this caller; None: all."""
    auth: RequestAuth = request.state.auth
    principal = await auth.principal()
    return await run_in_threadpool(auth.services.policy.visible_projects, principal)
