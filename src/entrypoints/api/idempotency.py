"""The ``Idempotency-Key`` request header (draft-ietf-httpapi-idempotency-key-header-06).

The draft defines the field as a Structured Field String (RFC 8941 §3.3.3), e.g.
``Idempotency-Key: "8e03978e-40d5-43e8-bc93-6894a57f9324"``; a bare token without quotes is
accepted too, as many clients send one. Keys are 1 to 255 characters of printable ASCII.

The request's fingerprint (draft §2.4) is the SHA-256 of the operation (method and path) and the
submitted JSON body in canonical form (sorted keys, no spaces), so a retry that only reorders or
re-spaces the JSON is the same request, and one whose content differs in any way is not. A
replayed answer carries ``Idempotent-Replayed: true``.
"""

import hashlib
import json
import re
from typing import Annotated, Final

from fastapi import Header, Request, Response

from application.start_email_batch import Accepted, IdempotencyKey

_QUOTED: Final = r'"(?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\]){1,255}"'
_BARE: Final = r"[\x21\x23-\x5B\x5D-\x7E]{1,255}"
_ESCAPE: Final = re.compile(r"\\([\"\\])")

REPLAYED_HEADER: Final = "Idempotent-Replayed"

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=f"^(?:{_QUOTED}|{_BARE})$",
        description=(
            "Makes the request safe to retry (draft-ietf-httpapi-idempotency-key-header): the same"
            " key with the same body gives the first answer again, marked"
            " `Idempotent-Replayed: true`, and sends nothing more; with another body, 422. Keys"
            " are scoped to the API key and kept for MAILROOM_IDEMPOTENCY_TTL_SECONDS."
        ),
        examples=['"8e03978e-40d5-43e8-bc93-6894a57f9324"'],
    ),
]


async def idempotency_for(header: str | None, request: Request) -> IdempotencyKey | None:
    """The key (unquoted) and the request's fingerprint, or None without the header. Call it
    after FastAPI validated the body (it reads the cached JSON body)."""
    if header is None:
        return None
    operation = f"{request.method} {request.url.path}"
    return IdempotencyKey(
        key=unquote(header), fingerprint=fingerprint(operation, await request.json())
    )


def unquote(header: str) -> str:
    """The key inside an sf-string (escapes undone), or a bare key as it is."""
    if len(header) >= 2 and header[0] == header[-1] == '"':
        return _ESCAPE.sub(r"\1", header[1:-1])
    return header


def fingerprint(operation: str, body: object) -> str:
    """Hex SHA-256 of ``operation`` (e.g. ``"POST /send-email"``) and the JSON ``body`` in
    canonical form."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{operation}\n{canonical}".encode()).hexdigest()


def mark_replayed(response: Response, accepted: Accepted) -> None:
    if accepted.replayed:
        response.headers[REPLAYED_HEADER] = "true"
