"""Maps every error to one HTTP answer, in one place: a JSON body with ``detail``, never a stack
trace.

    RequestValidationError  -> 422, field errors without the submitted values
    InvalidEmail            -> 422, naming the field
    TaskNotFound            -> 404
    InvalidTransition       -> 409
    StoreUnavailable        -> 503 with Retry-After
    any other exception     -> 500 (logged with its traceback, never shown)
"""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from application.errors import StoreUnavailable
from domain.errors import InvalidEmail, InvalidTransition, TaskNotFound

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
    detail = [{"loc": ["body", exc.field], "msg": exc.reason, "type": "value_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _not_found(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": "task not found"}, status_code=404)


async def _conflict(_: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=409)


async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("store unavailable: %s", exc)
    return JSONResponse(
        {"detail": "task store unavailable, retry later"},
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
    app.add_exception_handler(StoreUnavailable, _unavailable)
    app.add_exception_handler(Exception, _unexpected)
