"""The auth services one application uses, wired together by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from wharf.auth.access import AccessPolicy
from wharf.auth.authn import Authenticator
from wharf.auth.federation import FederationService
from wharf.auth.management import IamService
from wharf.auth.tokens import TokenService


@dataclass(frozen=True, slots=True)
class AuthServices:
    authenticator: Authenticator
    policy: AccessPolicy
    tokens: TokenService
    iam: IamService
    federation: FederationService
    # Absolute token endpoint URL for challenges; None: derived from each request.
    realm: str | None = None
