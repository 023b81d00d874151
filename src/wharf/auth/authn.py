"""Authentication: credentials (Basic passwords, robot secrets, API tokens, refresh tokens,
federated identity tokens) to a `Principal`.

Failed logins are recorded in the audit log and counted per (username, client address):
past the limit, further attempts are refused before any secret is checked, on every node
alike because the count lives in the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

from wharf import errors
from wharf.auth import oidc
from wharf.auth.oidc import IdentityError, MappingRule, TrustedIssuer
from wharf.auth.principals import ANONYMOUS, Principal
from wharf.auth.roles import Role
from wharf.auth.secrets import (
    DUMMY_HASH,
    VerifiedCache,
    hash_secret,
    needs_rehash,
    split_api_token,
    verify_secret,
)
from wharf.auth.tokens import REFRESH, TokenError, TokenService
from wharf.errors import RegistryError
from wharf.metadata.iam_store import IamStore, RobotRow, TokenRow, UserRow
from wharf.metadata.store import now

OIDC_USERNAME = "oidc"
ROBOT_PREFIX = "robot$"


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """The domain's view of the `auth` settings (built by the composition root)."""

    token_ttl: timedelta = timedelta(minutes=5)
    refresh_ttl: timedelta = timedelta(hours=12)
    max_api_token_ttl: timedelta = timedelta(days=90)
    failures_per_minute: int = 10
    issuers: list[TrustedIssuer] = field(default_factory=list)
    rules: list[MappingRule] = field(default_factory=list)


class CredentialStateError(RegistryError):
    """The secret was right but the account may not be used (disabled, revoked, expired):
    audited as denied, and not counted as a guess by the rate limit."""


def _fail(message: str = "authentication required") -> RegistryError:
    return RegistryError(errors.UNAUTHORIZED, message=message)


def _unusable(message: str) -> RegistryError:
    return CredentialStateError(errors.UNAUTHORIZED, {"reason": message}, message=message)


def _expired(what: str) -> RegistryError:
    return CredentialStateError(errors.CREDENTIALS_EXPIRED, {"reason": f"{what} expired"},
                                message="token expired")


def _roles(raw: dict[str, str]) -> MappingProxyType[str, Role]:
    return MappingProxyType({project: Role.parse(role) for project, role in raw.items()})


class Authenticator:
    def __init__(self, store: IamStore, tokens: TokenService, config: AuthConfig) -> None:
        self.store = store
        self.tokens = tokens
        self.config = config
        self._verified = VerifiedCache()

    # -- principals from rows -----------------------------------------------------

    def _user(self, row: UserRow) -> Principal:
        if row.disabled:
            raise _unusable("account disabled")
        return Principal("user", row.username, f"user:{row.id}",
                         _roles(self.store.roles_of_user(row.id)), row.is_admin, row.id)

    def _robot(self, row: RobotRow) -> Principal:
        if row.disabled:
            raise _unusable("robot account disabled")
        if row.expires_at is not None and row.expires_at <= now():
            raise _expired("robot account")
        return Principal("robot", row.name, f"robot:{row.id}",
                         MappingProxyType({row.project: Role.parse(row.role)}))

    def _token(self, row: TokenRow) -> Principal:
        if row.revoked_at is not None:
            raise _unusable("token revoked")
        if row.expires_at <= now():
            raise _expired("token")
        return Principal("token", row.username or f"token:{row.id}", f"token:{row.id}",
                         MappingProxyType({row.project: Role.parse(row.role)}),
                         user_id=row.user_id)

    def _federated(self, identity: oidc.FederatedIdentity) -> Principal:
        roles = oidc.roles_for(identity, self.mapping_rules())
        return Principal("oidc", identity.subject, identity.ref, MappingProxyType(roles))

    def mapping_rules(self) -> list[MappingRule]:
        stored = [MappingRule(m.issuer, m.project, Role.parse(m.role), m.subject, m.namespace,
                              m.service_account) for m in self.store.list_mappings()]
        return [*self.config.rules, *stored]

    def trusted_issuers(self) -> list[TrustedIssuer]:
        stored = [TrustedIssuer(i.name, i.issuer, oidc.parse_jwks(i.jwks), i.audience)
                  for i in self.store.list_issuers()]
        return [*self.config.issuers, *stored]

    def principal_from_ref(self, ref: str) -> Principal:
        """Re-check the principal a token was issued to: it may since have been disabled,
        revoked, deleted or lost its roles."""
        kind, _, key = ref.partition(":")
        if kind == "user" and key.isdigit():
            user = self.store.get_user_by_id(int(key))
            if user is not None:
                return self._user(user)
        elif kind == "robot" and key.isdigit():
            robot = self.store.get_robot_by_id(int(key))
            if robot is not None:
                return self._robot(robot)
        elif kind == "token":
            token = self.store.get_token(key)
            if token is not None:
                return self._token(token)
        elif kind == "oidc":
            identity = oidc.identity_from_ref(ref)
            if identity is not None:
                return self._federated(identity)
        elif ref == "anonymous":
            return ANONYMOUS
        raise _fail("the principal of this token no longer exists")

    # -- login --------------------------------------------------------------------

    def login(self, username: str, password: str, remote: str | None) -> Principal:
        """The principal these Basic credentials stand for, or an UNAUTHORIZED error."""
        try:
            return self._login(username, password, remote)
        except RegistryError as exc:
            if exc.code is not errors.TOO_MANY_REQUESTS:
                outcome = "denied" if isinstance(exc, CredentialStateError) else "failure"
                self.store.record("login", outcome, username, remote,
                                  detail=exc.detail["reason"] if isinstance(exc.detail, dict)
                                  else exc.message)
            raise

    def _throttle(self, username: str, remote: str | None) -> None:
        since = now() - timedelta(minutes=1)
        failures = self.store.count_events("login", "failure", username, remote, since)
        if failures >= self.config.failures_per_minute:
            raise RegistryError(errors.TOO_MANY_REQUESTS,
                                {"reason": "too many failed logins; retry in a minute"})

    def _check(self, stored_hash: str, secret: str, username: str, remote: str | None,
               owner: tuple[str, int | str]) -> bool:
        """Whether `secret` matches; a match on a hash with older parameters upgrades the
        stored hash (`owner`: the row's kind and id)."""
        if self._verified.hit(stored_hash, secret):
            return True
        self._throttle(username, remote)
        if not verify_secret(stored_hash, secret):
            return False
        if needs_rehash(stored_hash):
            upgraded = hash_secret(secret)
            if self.store.replace_secret_hash(*owner, stored_hash, upgraded):
                stored_hash = upgraded
        self._verified.remember(stored_hash, secret)
        return True

    def _login(self, username: str, password: str, remote: str | None) -> Principal:
        if not password:
            raise _fail()
        api_token = split_api_token(password)
        if api_token is not None:
            row = self.store.get_token(api_token[0])
            if row is None:
                self._throttle(username, remote)
                verify_secret(DUMMY_HASH, api_token[1])
                raise _fail("invalid token")
            if not self._check(row.secret_hash, api_token[1], username, remote,
                               ("token", row.id)):
                raise _fail("invalid token")
            return self._token(row)
        if self.tokens.looks_like_jwt(password):
            self._throttle(username, remote)
            return self._login_jwt(username, password)
        if username.startswith(ROBOT_PREFIX):
            robot = self.store.get_robot(username)
            if robot is None:
                self._throttle(username, remote)
                verify_secret(DUMMY_HASH, password)
                raise _fail("invalid username or password")
            if not self._check(robot.secret_hash, password, username, remote,
                               ("robot", robot.id)):
                raise _fail("invalid username or password")
            return self._robot(robot)
        user = self.store.get_user(username)
        if user is None:
            self._throttle(username, remote)
            verify_secret(DUMMY_HASH, password)
            raise _fail("invalid username or password")
        if not self._check(user.password_hash, password, username, remote,
                           ("user", user.id)):
            raise _fail("invalid username or password")
        return self._user(user)

    def _login_jwt(self, username: str, token: str) -> Principal:
        """A JWT as password: our own refresh token, or an identity token from a trusted
        issuer (username `oidc`, or whatever the client sends with it)."""
        if username != OIDC_USERNAME:
            try:
                verified = self.tokens.verify(token, REFRESH)
            except TokenError as exc:
                if exc.expired:
                    raise _expired("refresh token") from exc
            else:
                return self.principal_from_ref(verified.principal_ref)
        return self.exchange_identity(token)

    def exchange_identity(self, token: str) -> Principal:
        try:
            identity = oidc.verify_identity_token(token, self.trusted_issuers())
        except IdentityError as exc:
            if exc.expired:
                raise _expired("identity token") from exc
            raise _fail(str(exc)) from exc
        return self._federated(identity)

    def identity_expiry(self, token: str) -> int | None:
        """Seconds since the epoch at which a federated identity token expires."""
        try:
            return oidc.verify_identity_token(token, self.trusted_issuers()).expires_at
        except IdentityError:
            return None
