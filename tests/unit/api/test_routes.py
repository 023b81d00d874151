"""The route table: no two routes take the same request, so their order is free (the
pull routes come first only because Starlette tries routes in order)."""

from __future__ import annotations

import itertools

from starlette.routing import Match

from wharf.api.routes import ROUTES

# Repository names that look like the fixed parts of other routes.
NAMES = ["p/app", "p/blobs", "p/blobs/uploads", "p/manifests", "p/tags", "p/tags/list/x",
         "p/referrers", "p/a/b/c"]
SUFFIXES = ["", "/", "/blobs/uploads", "/blobs/uploads/", "/blobs/uploads/s1",
            "/blobs/sha256:ab", "/manifests/v1", "/manifests/sha256:ab", "/tags/list",
            "/referrers/sha256:ab"]
METHODS = ["GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"]


def _full_matches(path: str, method: str) -> list[str]:
    scope = {"type": "http", "path": path, "root_path": "", "method": method}
    return [getattr(route, "path", "?") for route in ROUTES
            if route.matches(scope)[0] is Match.FULL]


def test_no_two_routes_take_the_same_request() -> None:
    paths = ["/v2/", "/v2", "/v2/_catalog"] + [
        f"/v2/{name}{suffix}" for name, suffix in itertools.product(NAMES, SUFFIXES)]
    for path, method in itertools.product(paths, METHODS):
        assert len(_full_matches(path, method)) <= 1, (path, method)


def test_pulls_find_their_route() -> None:
    assert _full_matches("/v2/p/a/manifests/v1", "GET") == ["/v2/{name:path}/manifests/{reference}"]
    assert _full_matches("/v2/p/a/blobs/sha256:ab", "HEAD") == ["/v2/{name:path}/blobs/{digest}"]
    assert _full_matches("/v2/p/a/blobs/uploads", "POST") == ["/v2/{name:path}/blobs/uploads"]
