"""``X-Request-ID``: every request gets an id, logged with each record and echoed in the answer.

A client's (or proxy's) ``X-Request-ID`` is kept when it is 1 to 128 characters of letters,
digits and ``-_.:``; anything else is replaced by a fresh id, so that a header cannot forge log
lines. Fresh ids are ``<16 hex digits>-<counter in hex>``: a random prefix per app (per process)
and a count, unique without a system call for randomness on every request.
"""

import itertools
import re
import secrets
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints import logging_setup

HEADER: Final = b"x-request-id"
_ACCEPTABLE: Final = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


class RequestId:
    """ASGI middleware: sets ``logging_setup.request_id`` for the request and adds
    ``X-Request-ID`` to its response.

    The context variable is not reset afterwards: uvicorn runs each request in its own asyncio
    task, and Starlette's server-error handler (outside this middleware) logs with it still set.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._prefix = secrets.token_hex(8)
        self._count = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        value = _given(scope) or f"{self._prefix}-{next(self._count):x}".encode()
        logging_setup.request_id.set(value.decode())
        header = (HEADER, value)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        await self._app(scope, receive, send_with_id)


def _given(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == HEADER:
            return value if _ACCEPTABLE.fullmatch(value) else None
    return None
