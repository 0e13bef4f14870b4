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
from typing import Any, Final

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError

from application.start_email_batch import Accepted, IdempotencyKey

_QUOTED: Final = r'"(?:[\x20\x21\x23-\x5B\x5D-\x7E]|\\["\\]){1,255}"'
_BARE: Final = r"[\x21\x23-\x5B\x5D-\x7E]{1,255}"
_ESCAPE: Final = re.compile(r"\\([\"\\])")

REPLAYED_HEADER: Final = "Idempotent-Replayed"

_PATTERN: Final = f"^(?:{_QUOTED}|{_BARE})$"
_VALID: Final = re.compile(_PATTERN)
_NAME: Final = "Idempotency-Key"

IDEMPOTENCY_KEY_PARAMETER: Final[dict[str, Any]] = {
    "name": _NAME,
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": _PATTERN, "title": _NAME},
    "description": (
        "Makes the request safe to retry (draft-ietf-httpapi-idempotency-key-header): the same"
        " key with the same body gives the first answer again, marked"
        " `Idempotent-Replayed: true`, and sends nothing more; with another body, 422. Keys"
        " are scoped to the API key and kept for MAILROOM_IDEMPOTENCY_TTL_SECONDS. Give it"
        " once: two `Idempotency-Key` lines are refused (422)."
    ),
    "example": '"8e03978e-40d5-43e8-bc93-6894a57f9324"',
}
"""The header as an OpenAPI parameter object (``openapi_extra`` of the routes that take it: they
read the header themselves, see ``idempotency_header``)."""


def idempotency_header(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` field value, or None without one. Raises
    ``RequestValidationError`` (loc ``["header", "Idempotency-Key"]``) for a value that is not
    an sf-string or bare key, and for a header given more than once (RFC 9110 §5.3 would combine
    the lines into a list, which is not a key)."""
    values = request.headers.getlist(_NAME)
    if not values:
        return None
    if len(values) > 1:
        raise _invalid("must be given once", "too_many_values")
    if _VALID.fullmatch(values[0]) is None:
        raise _invalid(f"String should match pattern '{_PATTERN}'", "string_pattern_mismatch")
    return values[0]


def _invalid(message: str, kind: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("header", _NAME), "msg": message, "type": kind}])


def idempotency_of(header: str | None, operation: str, body: bytes) -> IdempotencyKey | None:
    """The key (unquoted) and the fingerprint of ``operation`` (``"POST /send-email"``) with
    the JSON ``body``, or None without the header. Call it once the body is known to be JSON."""
    if header is None:
        return None
    return IdempotencyKey(key=unquote(header), fingerprint=fingerprint(operation, json.loads(body)))


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
