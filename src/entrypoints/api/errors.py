"""Maps every error to one HTTP answer, in one place: a JSON body with ``detail``, never a stack
trace.

    RequestValidationError  -> 422, field errors without the submitted values
    InvalidEmail            -> 422, naming the field (and the message's index in a batch)
    IdempotencyKeyReused    -> 422 (draft-ietf-httpapi-idempotency-key-header §2.7)
    InvalidCursor           -> 422, naming the ``cursor`` query parameter
    AuthenticationFailed    -> 401 with ``WWW-Authenticate: Bearer`` (RFC 6750 §3)
    TaskNotFound            -> 404
    InvalidTransition       -> 409
    ConcurrentUpdate        -> 409
    StoreUnavailable        -> 503 with Retry-After
    any other exception     -> 500 (logged with its traceback, never shown)
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from adapters.memory import StoreFull
from application.errors import (
    ConcurrentUpdate,
    IdempotencyKeyReused,
    InvalidCursor,
    StoreUnavailable,
)
from application.start_email_batch import InvalidBatchMessage
from domain.errors import InvalidEmail, InvalidTransition, TaskNotFound
from entrypoints.api.keys import AuthenticationFailed

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
        for error in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


async def _invalid_email(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidEmail)
    where = ["messages", exc.index] if isinstance(exc, InvalidBatchMessage) else []
    detail = [{"loc": ["body", *where, exc.field], "msg": exc.reason, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _key_reused(_: Request, exc: Exception) -> JSONResponse:
    detail = [{"loc": ["header", "Idempotency-Key"], "msg": str(exc), "type": "idempotency_key"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _invalid_cursor(_: Request, exc: Exception) -> JSONResponse:
    detail = [{"loc": ["query", "cursor"], "msg": str(exc), "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _unauthenticated(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AuthenticationFailed)
    challenge = 'Bearer realm="mailroom"'
    if not exc.missing:
        challenge += ', error="invalid_token"'
    return JSONResponse(
        {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": challenge}
    )


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "task not found"}, status_code=404)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("store unavailable: %s", exc)
    full = isinstance(exc, StoreFull)
    return JSONResponse(
        {
            "detail": "task store full, retry later"
            if full
            else "task store unavailable, retry later"
        },
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(InvalidEmail, _invalid_email)
    app.add_exception_handler(TaskNotFound, _not_found)
    app.add_exception_handler(InvalidTransition, _conflict)
    app.add_exception_handler(ConcurrentUpdate, _conflict)
    app.add_exception_handler(IdempotencyKeyReused, _key_reused)
    app.add_exception_handler(InvalidCursor, _invalid_cursor)
    app.add_exception_handler(AuthenticationFailed, _unauthenticated)
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
