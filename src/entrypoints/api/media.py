"""Only JSON request bodies: anything else is refused with 415 before the body is read.

Accepted media types (RFC 8259 and RFC 6839's structured suffix): ``application/json`` and
``application/<anything>+json``, with any parameters (``; charset=utf-8``). A request with a body
(``Content-Length`` above 0, or ``Transfer-Encoding``) and any other or no ``Content-Type`` gets
``415 {"detail": ...}`` (RFC 9110 §15.5.16). Requests without a body (``GET``, an empty
``POST``) pass. A JSON media type with a body that is not JSON is FastAPI's 422 ``json_invalid``.
"""

from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

ACCEPTED: Final = "application/json"
_DETAIL: Final = b'{"detail":"unsupported media type: send the body as application/json"}'


def is_json_media_type(content_type: str) -> bool:
    """True for ``application/json`` and ``application/*+json``, parameters ignored."""
    media_type = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


class JsonBodiesOnly:
    """ASGI middleware: 415 for a request body that is not declared as JSON."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _acceptable(scope["headers"]):
            await _unsupported(send)
            return
        await self._app(scope, receive, send)


def _acceptable(headers: list[tuple[bytes, bytes]]) -> bool:
    has_body = False
    content_type = b""
    for name, value in headers:
        if name == b"content-type":
            content_type = value
        elif name == b"transfer-encoding" or (name == b"content-length" and value.strip(b" 0")):
            has_body = True
    return not has_body or is_json_media_type(content_type.decode("latin-1"))


async def _unsupported(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 415,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_DETAIL)).encode()),
                (b"accept-post", ACCEPTED.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _DETAIL})
