"""POST /admission/validate: the Kubernetes validating admission webhook.

The API server posts an `admission.k8s.io/v1` AdmissionReview and gets one back with
`response.allowed` and, when refused, the reason in `response.status.message`. A
document that is not an AdmissionReview is a 400 in the registry's error format.
"""

from __future__ import annotations

import hmac
import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from wharf import errors
from wharf.api.streaming import read_limited
from wharf.errors import RegistryError
from wharf.signatures.admission import AdmissionError, AdmissionService

# Pod specs are small; a Deployment with many containers is still far below this.
MAX_REVIEW_BYTES = 3 * 1024 * 1024


def _check_caller(request: Request) -> None:
    expected: str | None = request.app.state.admission_token
    if expected is None:
        raise RegistryError(errors.NOT_FOUND, message="admission webhook is not enabled "
                            "(set signatures.admission_token)")
    presented = request.headers.get("authorization", "")
    if not hmac.compare_digest(presented.encode(), f"Bearer {expected}".encode()):
        raise RegistryError(errors.UNAUTHORIZED, message="admission webhook token required")


async def validate(request: Request) -> Response:
    _check_caller(request)
    service: AdmissionService = request.app.state.admission
    raw = await read_limited(request, MAX_REVIEW_BYTES)
    try:
        document = json.loads(raw)
        decision = await run_in_threadpool(service.review, document,
                                           request.headers.get("host"))
    except (ValueError, AdmissionError) as exc:
        raise RegistryError(errors.INVALID_REQUEST, {"reason": str(exc)[:500]},
                            f"invalid AdmissionReview: {exc}") from exc
    return JSONResponse(decision.review())
