"""`wharf-credential-provider`: a kubelet image credential provider
(`credentialprovider.kubelet.k8s.io/v1`, stdin/stdout JSON).

The kubelet passes the pod's service-account token; this exchanges it at the registry's
token endpoint for a refresh token, which the kubelet then hands to the container runtime
as the password of a Basic login: no imagePullSecrets needed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

API_VERSION = "credentialprovider.kubelet.k8s.io/v1"
TOKEN_URL_ENV = "WHARF_TOKEN_URL"  # noqa: S105 - a variable name
USERNAME = "wharf-credential-provider"


def _registry_and_repository(image: str) -> tuple[str, str]:
    host, _, rest = image.partition("/")
    repository = rest.split("@", 1)[0]
    last = repository.rsplit("/", 1)
    if ":" in last[-1]:
        repository = repository.rsplit(":", 1)[0]
    return host, repository


def respond(request: dict[str, Any], token_url: str | None, service: str,
            timeout: float = 30.0) -> dict[str, Any]:
    if request.get("apiVersion") != API_VERSION or \
            request.get("kind") != "CredentialProviderRequest":
        raise ValueError(f"expected a {API_VERSION} CredentialProviderRequest")
    sa_token = request.get("serviceAccountToken")
    if not sa_token:
        raise ValueError("no serviceAccountToken in the request: configure tokenAttributes "
                         "for this provider in the kubelet's CredentialProviderConfig")
    host, repository = _registry_and_repository(str(request.get("image", "")))
    url = token_url or f"https://{host}/auth/token"
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": sa_token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "service": service, "client_id": USERNAME, "access_type": "offline",
            "scope": f"repository:{repository}:pull"}
    resp = httpx.post(url, data=form, timeout=timeout)
    if resp.status_code != 200:
        raise RuntimeError(f"token exchange at {url} failed: {resp.status_code} {resp.text}")
    body = resp.json()
    refresh = body.get("refresh_token")
    if not refresh:
        raise RuntimeError("the registry returned no refresh token")
    # Renew a minute before the registry would refuse the credential.
    seconds = max(int(body.get("refresh_expires_in", 300)) - 60, 0)
    return {"apiVersion": API_VERSION, "kind": "CredentialProviderResponse",
            "cacheKeyType": "Registry", "cacheDuration": f"{seconds}s",
            "auth": {host: {"username": USERNAME, "password": refresh}}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wharf-credential-provider",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--token-url", default=os.environ.get(TOKEN_URL_ENV),
                        help=f"token endpoint (default: https://<registry>/auth/token; "
                             f"env {TOKEN_URL_ENV})")
    parser.add_argument("--service", default=os.environ.get("WHARF_TOKEN_SERVICE", "wharf"))
    args = parser.parse_args(argv)
    try:
        request = json.loads(sys.stdin.read())
        response = respond(request, args.token_url, args.service)
    except (ValueError, RuntimeError, httpx.HTTPError) as exc:
        sys.stderr.write(f"wharf-credential-provider: {exc}\n")
        return 1
    sys.stdout.write(json.dumps(response) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
