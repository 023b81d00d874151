"""The one route table."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from wharf.api import admission, metrics, token
from wharf.api.auth import CATALOG_ACTION, DELETE, LOGIN, PULL, PUSH, VIEW, requires
from wharf.api.mgmt import (
    audit,
    members,
    oidc,
    openapi,
    policy,
    projects,
    robots,
    scanning,
    signatures,
    tokens,
    users,
)
from wharf.api.mgmt import gc as gc_api
from wharf.api.mgmt import retention as retention_api
from wharf.api.mgmt import storage as storage_api
from wharf.api.v2 import base, blobs, listings, manifests, uploads

_NAME = "/v2/{name:path}"
_API = "/api/v1"
_PROJECT = f"{_API}/projects/{{project}}"

ROUTES: list[BaseRoute] = [
    # Pulls first: Starlette tries routes in order, and these carry most requests. No two
    # /v2 patterns match the same path and method (the last segments differ), so the
    # order decides nothing else.
    Route(f"{_NAME}/manifests/{{reference}}", requires(PULL)(manifests.get_manifest),
          methods=["GET", "HEAD"]),
    Route(f"{_NAME}/blobs/{{digest}}", requires(PULL)(blobs.get_blob), methods=["GET", "HEAD"]),
    Route("/v2/", requires(LOGIN)(base.version_check), methods=["GET"]),
    Route("/v2", requires(LOGIN)(base.version_check), methods=["GET"]),
    Route("/v2/_catalog", requires(CATALOG_ACTION)(listings.catalog), methods=["GET"]),
    Route(f"{_NAME}/blobs/uploads/", requires(PUSH)(uploads.start_upload), methods=["POST"]),
    Route(f"{_NAME}/blobs/uploads", requires(PUSH)(uploads.start_upload), methods=["POST"]),
    Route(f"{_NAME}/blobs/uploads/{{session}}", requires(PUSH)(uploads.upload_status),
          methods=["GET"]),
    Route(f"{_NAME}/blobs/uploads/{{session}}", requires(PUSH)(uploads.patch_upload),
          methods=["PATCH"]),
    Route(f"{_NAME}/blobs/uploads/{{session}}", requires(PUSH)(uploads.finish_upload),
          methods=["PUT"]),
    Route(f"{_NAME}/blobs/uploads/{{session}}", requires(PUSH)(uploads.cancel_upload),
          methods=["DELETE"]),
    Route(f"{_NAME}/blobs/{{digest}}", requires(DELETE)(blobs.delete_blob), methods=["DELETE"]),
    Route(f"{_NAME}/manifests/{{reference}}", requires(PUSH)(manifests.put_manifest),
          methods=["PUT"]),
    Route(f"{_NAME}/manifests/{{reference}}", requires(DELETE)(manifests.delete_manifest),
          methods=["DELETE"]),
    Route(f"{_NAME}/tags/list", requires(VIEW)(listings.list_tags), methods=["GET"]),
    Route(f"{_NAME}/referrers/{{digest}}", requires(PULL)(listings.referrers), methods=["GET"]),
    # The token service (Docker registry token authentication).
    Route("/auth/token", token.get_token, methods=["GET"]),
    Route("/auth/token", token.post_token, methods=["POST"]),
    Route("/auth/jwks.json", token.jwks, methods=["GET"]),
    # The management API; each handler checks the caller's role in the domain.
    Route(f"{_API}/openapi.json", openapi.openapi, methods=["GET"]),
    Route(f"{_API}/me", users.whoami, methods=["GET"]),
    Route(f"{_API}/users", users.list_users, methods=["GET"]),
    Route(f"{_API}/users", users.create_user, methods=["POST"]),
    Route(f"{_API}/users/{{username}}/disable", users.disable_user, methods=["POST"]),
    Route(f"{_API}/projects", projects.list_projects, methods=["GET"]),
    Route(f"{_API}/projects", projects.create_project, methods=["POST"]),
    Route(_PROJECT, projects.get_project, methods=["GET"]),
    Route(_PROJECT, projects.update_project, methods=["PATCH"]),
    Route(_PROJECT, projects.delete_project, methods=["DELETE"]),
    Route(f"{_PROJECT}/members", members.list_members, methods=["GET"]),
    Route(f"{_PROJECT}/members", members.add_member, methods=["POST"]),
    Route(f"{_PROJECT}/members/{{username}}", members.remove_member, methods=["DELETE"]),
    Route(f"{_PROJECT}/robots", robots.list_robots, methods=["GET"]),
    Route(f"{_PROJECT}/robots", robots.create_robot, methods=["POST"]),
    Route(f"{_PROJECT}/robots/{{robot}}", robots.delete_robot, methods=["DELETE"]),
    Route(f"{_PROJECT}/robots/{{robot}}/disable", robots.disable_robot, methods=["POST"]),
    Route(f"{_PROJECT}/robots/{{robot}}/enable", robots.enable_robot, methods=["POST"]),
    Route(f"{_PROJECT}/robots/{{robot}}/rotate", robots.rotate_robot, methods=["POST"]),
    Route(f"{_PROJECT}/tokens", tokens.list_tokens, methods=["GET"]),
    Route(f"{_PROJECT}/tokens", tokens.create_token, methods=["POST"]),
    Route(f"{_API}/tokens/{{token}}/revoke", tokens.revoke_token, methods=["POST"]),
    Route(f"{_API}/tokens/{{token}}/rotate", tokens.rotate_token, methods=["POST"]),
    Route(f"{_API}/oidc/issuers", oidc.list_issuers, methods=["GET"]),
    Route(f"{_API}/oidc/issuers", oidc.create_issuer, methods=["POST"]),
    Route(f"{_API}/oidc/issuers/{{issuer}}", oidc.delete_issuer, methods=["DELETE"]),
    Route(f"{_API}/oidc/mappings", oidc.list_mappings, methods=["GET"]),
    Route(f"{_API}/oidc/mappings", oidc.create_mapping, methods=["POST"]),
    Route(f"{_API}/oidc/mappings/{{mapping}}", oidc.delete_mapping, methods=["DELETE"]),
    Route(f"{_API}/signing-keys", oidc.list_keys, methods=["GET"]),
    Route(f"{_API}/signing-keys/rotate", oidc.rotate_key, methods=["POST"]),
    Route(f"{_API}/audit", audit.list_events, methods=["GET"]),
    # Vulnerability scanning.
    Route(f"{_API}/repositories/{{name:path}}/scan/{{reference}}", scanning.get_report,
          methods=["GET"]),
    Route(f"{_API}/repositories/{{name:path}}/sbom/{{reference}}", scanning.get_sbom,
          methods=["GET"]),
    Route(f"{_PROJECT}/scan-policy", scanning.get_policy, methods=["GET"]),
    Route(f"{_PROJECT}/scan-policy", scanning.set_policy, methods=["PUT"]),
    Route(f"{_API}/scan/allowlist", scanning.list_allowlist, methods=["GET"]),
    Route(f"{_API}/scan/allowlist", scanning.add_allowlist, methods=["POST"]),
    Route(f"{_API}/scan/allowlist/{{entry}}", scanning.remove_allowlist, methods=["DELETE"]),
    Route(f"{_API}/scan/metrics", scanning.scan_metrics, methods=["GET"]),
    Route(f"{_API}/vulndb", scanning.vulndb_status, methods=["GET"]),
    # Image signatures, the project policy (signatures + scanning), admission, metrics.
    Route(f"{_API}/repositories/{{name:path}}/signatures/{{reference}}",
          signatures.list_signatures, methods=["GET"]),
    Route(f"{_API}/signatures/pulls", signatures.pull_stats, methods=["GET"]),
    Route(f"{_PROJECT}/policy", policy.get_project_policy, methods=["GET"]),
    Route(f"{_PROJECT}/policy", policy.set_project_policy, methods=["PUT"]),
    Route("/admission/validate", admission.validate, methods=["POST"]),
    Route("/metrics", metrics.metrics, methods=["GET"]),
    # Lifecycle: retention policies, garbage collection, storage reports.
    Route(f"{_PROJECT}/retention", retention_api.get_retention_policy, methods=["GET"]),
    Route(f"{_PROJECT}/retention", retention_api.set_retention_policy, methods=["PUT"]),
    Route(f"{_PROJECT}/retention", retention_api.delete_retention_policy, methods=["DELETE"]),
    Route(f"{_PROJECT}/retention/run", retention_api.run_retention, methods=["POST"]),
    Route(f"{_PROJECT}/storage", storage_api.storage_report, methods=["GET"]),
    Route(f"{_API}/images", storage_api.list_images, methods=["GET"]),
    Route(f"{_API}/gc/runs", gc_api.start_gc_run, methods=["POST"]),
    Route(f"{_API}/gc/runs", gc_api.list_gc_runs, methods=["GET"]),
    Route(f"{_API}/gc/runs/{{run}}", gc_api.get_gc_run, methods=["GET"]),
]
