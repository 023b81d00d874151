"""Bounds on what a request may send before any handler sees it (ASGI middleware)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 64 * 1024


class RequestLimits:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            url_size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            header_size = sum(len(k) + len(v) for k, v in scope["headers"])
            if url_size > MAX_URL_BYTES or header_size > MAX_HEADER_BYTES:
                status = 414 if url_size > MAX_URL_BYTES else 431
                body = json.dumps({"errors": [{
                    "code": "SIZE_INVALID", "message": "request URL or headers too large",
                    "detail": {"max_url_bytes": MAX_URL_BYTES,
                               "max_header_bytes": MAX_HEADER_BYTES}}]}).encode()
                await send({"type": "http.response.start", "status": status, "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
