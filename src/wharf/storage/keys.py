"""The storage key tree, built only here.

    blobs/<algorithm>/<first two hex>/<encoded>   committed, content-addressed bytes
    uploads/<session id>/data                     bytes of an upload in progress

Keys are relative, '/'-separated, and made of safe characters only, so no key can name a
path outside the driver's root whatever a client sends.
"""

from __future__ import annotations

import re

from wharf.oci.digest import Digest

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class InvalidKeyError(ValueError):
    pass


def check(key: str) -> str:
    parts = key.split("/")
    if not key or any(not _SAFE.match(p) or p in (".", "..") for p in parts):
        raise InvalidKeyError(f"invalid storage key {key!r}")
    return key


def blob(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.encoded[:2]}/{digest.encoded}"


def upload(session_id: str) -> str:
    return check(f"uploads/{session_id}/data")


def upload_dir(session_id: str) -> str:
    return check(f"uploads/{session_id}")
