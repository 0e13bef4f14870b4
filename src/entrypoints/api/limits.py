"""Request body size limit, enforced while the body is read (not after buffering it)."""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised inside ``receive`` once more than the limit has arrived. An ``HTTPException``, so
    FastAPI's body parsing lets it through as a 413 instead of wrapping it in a 400."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body larger than {max_bytes} bytes")


class MaxBodySize:
    """ASGI middleware: 413 for a request body over ``max_bytes``.

    A ``Content-Length`` over the limit is refused before reading; a body without one (chunked)
    is counted as it arrives and refused as soon as it passes the limit.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None:
            if declared > self._max_bytes:
                await _too_large(send, self._max_bytes)
                return
            # The HTTP server reads exactly Content-Length bytes as the body (RFC 9112 §6.3), so a
            # declared length within the limit needs no counting.
            await self._app(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    raise BodyTooLarge(self._max_bytes)
            return message

        await self._app(scope, counting_receive, send)


def _declared_length(scope: Scope) -> int | None:
    """The ``Content-Length``; None without one, with one that is not a number, or alongside a
    ``Transfer-Encoding`` (which would take precedence, RFC 9112 §6.3): then the body is counted."""
    length = None
    for name, value in scope["headers"]:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                return None
    return length


async def _too_large(send: Send, max_bytes: int) -> None:
    body = b'{"detail":"request body larger than %d bytes"}' % max_bytes
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
