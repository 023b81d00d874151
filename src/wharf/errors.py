"""Every error the registry reports, registered once: code, HTTP status, message.

The domain raises `RegistryError(codes.X, detail)`; one handler in the HTTP layer renders
it as `{"errors": [{"code", "message", "detail"}]}` (distribution-spec "Error Codes").
Handlers never choose a status themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    status: int
    message: str
    description: str


_REGISTRY: dict[str, ErrorCode] = {}


def _register(key: str, code: str, status: int, message: str, description: str) -> ErrorCode:
    entry = ErrorCode(code, status, message, description)
    _REGISTRY[key] = entry
    return entry


BLOB_UNKNOWN = _register("BLOB_UNKNOWN", "BLOB_UNKNOWN", 404, "blob unknown to registry",
                         "The blob is not in the repository.")
BLOB_UPLOAD_INVALID = _register("BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_INVALID", 400,
                                "blob upload invalid", "The upload request was malformed.")
BLOB_UPLOAD_UNKNOWN = _register("BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_UNKNOWN", 404,
                                "blob upload unknown to registry",
                                "The upload session does not exist or has expired.")
DIGEST_INVALID = _register("DIGEST_INVALID", "DIGEST_INVALID", 400,
                           "provided digest did not match uploaded content",
                           "The digest is malformed, unsupported, or does not match the content.")
MANIFEST_BLOB_UNKNOWN = _register("MANIFEST_BLOB_UNKNOWN", "MANIFEST_BLOB_UNKNOWN", 400,
                                  "blob unknown to registry",
                                  "The manifest references a blob or manifest that is not in "
                                  "the repository.")
MANIFEST_INVALID = _register("MANIFEST_INVALID", "MANIFEST_INVALID", 400, "manifest invalid",
                             "The manifest failed validation; the detail says why.")
MANIFEST_TOO_LARGE = _register("MANIFEST_TOO_LARGE", "SIZE_INVALID", 413,
                               "manifest too large",
                               "Manifests are limited to 4 MiB.")
MANIFEST_UNKNOWN = _register("MANIFEST_UNKNOWN", "MANIFEST_UNKNOWN", 404, "manifest unknown",
                             "The tag or digest does not exist in the repository.")
NAME_INVALID = _register("NAME_INVALID", "NAME_INVALID", 400, "invalid repository name",
                         "The repository name does not match the spec's grammar.")
NAME_UNKNOWN = _register("NAME_UNKNOWN", "NAME_UNKNOWN", 404,
                         "repository name not known to registry",
                         "The repository does not exist.")
SIZE_INVALID = _register("SIZE_INVALID", "SIZE_INVALID", 400,
                         "provided length did not match content length",
                         "Content-Length or Content-Range disagree with the body.")
TAG_INVALID = _register("TAG_INVALID", "TAG_INVALID", 400, "manifest tag did not match URI",
                        "The tag does not match the spec's grammar.")
RANGE_INVALID = _register("RANGE_INVALID", "RANGE_INVALID", 416, "invalid content range",
                          "The chunk does not start where the upload ends, or the requested "
                          "range is not satisfiable.")
PAGINATION_NUMBER_INVALID = _register("PAGINATION_NUMBER_INVALID", "PAGINATION_NUMBER_INVALID",
                                      400, "invalid number of results requested",
                                      "n must be a non-negative integer.")
UNAUTHORIZED = _register("UNAUTHORIZED", "UNAUTHORIZED", 401, "authentication required",
                         "The client must authenticate.")
DENIED = _register("DENIED", "DENIED", 403, "requested access to the resource is denied",
                   "The caller may not perform this action.")
UNSUPPORTED = _register("UNSUPPORTED", "UNSUPPORTED", 405, "the operation is unsupported",
                        "The operation is not supported by this registry.")
TOO_LARGE = _register("TOO_LARGE", "SIZE_INVALID", 413, "request too large",
                      "The request's headers, URL or body exceed the documented limits.")
TOO_MANY_REQUESTS = _register("TOO_MANY_REQUESTS", "TOOMANYREQUESTS", 429, "too many requests",
                              "The client is rate limited.")
UNAVAILABLE = _register("UNAVAILABLE", "UNAVAILABLE", 503, "service unavailable; retry",
                        "A backing service is temporarily unavailable.")
NOT_FOUND = _register("NOT_FOUND", "NOT_FOUND", 404, "not found", "No such route.")
# Identity and access, and the management API (/api/v1).
CREDENTIALS_EXPIRED = _register("CREDENTIALS_EXPIRED", "UNAUTHORIZED", 401, "token expired",
                                "The token, robot account or credential has expired; "
                                "create or rotate one.")
RESOURCE_UNKNOWN = _register("RESOURCE_UNKNOWN", "NOT_FOUND", 404, "resource unknown",
                             "The project, user, robot, token, issuer or mapping does not "
                             "exist, or the caller may not see it.")
CONFLICT = _register("CONFLICT", "CONFLICT", 409, "conflict",
                     "The resource already exists, or is not in a state that allows this.")
INVALID_REQUEST = _register("INVALID_REQUEST", "INVALID_REQUEST", 400, "invalid request",
                            "The request body or parameters failed validation.")


class RegistryError(Exception):
    """A failure the client should see, in the OCI error format."""

    def __init__(self, code: ErrorCode, detail: Any = None, message: str | None = None) -> None:
        super().__init__(message or code.message)
        self.code = code
        self.detail = detail
        self.message = message or code.message

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return {"errors": [error]}


def all_codes() -> list[ErrorCode]:
    """The table, for generated API documentation."""
    return list(_REGISTRY.values())


def markdown_table() -> str:
    """docs/errors.md, generated from the table so the two cannot drift."""
    lines = [
        "# Error codes",
        "",
        "Generated by `python -m wharf.errors` from `src/wharf/errors.py`. Every error is",
        'rendered as `{"errors": [{"code": ..., "message": ..., "detail": ...}]}`.',
        "",
        "| code | HTTP status | message | meaning |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{c.code}` | {c.status} | {c.message} | {c.description} |" for c in all_codes()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    sys.stdout.write(markdown_table())
