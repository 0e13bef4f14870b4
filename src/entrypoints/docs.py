"""The OpenAPI document and the interactive docs.

``/docs`` (Swagger UI) loads its script, styles and icon from Mailroom itself (fastapi-offline's
packaged copies under ``/static-offline-docs``), so it works without internet access. There is
no ``/redoc``: ReDoc's page always fetches a logo from cdn.redoc.ly.

``describe_common_errors`` adds the answers that middleware and dependencies give to the routes'
own: 413 and 415 on every operation with a request body, 429 (with ``Retry-After``) on every
rate-limited one, ``Retry-After`` on the 503 of every task operation; and an example to every JSON
error answer without one.
"""

from typing import Any, Final

from fastapi import FastAPI

from entrypoints.api.auth import SECURITY_SCHEME

OPERATIONS_TAG: Final = "operations"
"""Tag of the health, readiness and metrics endpoints: never rate limited."""

SWAGGER_UI_PARAMETERS: Final = {"validatorUrl": None}
"""``validatorUrl: None``: Swagger UI never calls swagger.io's online validator."""

_ERROR_REF: Final = {"$ref": "#/components/schemas/ErrorResponse"}
_RETRY_AFTER: Final = {
    "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
}
_EXAMPLE_DETAIL: Final[dict[str, Any]] = {
    "400": "There was an error parsing the body",
    "401": "missing API key",
    "404": "task not found",
    "409": "task is not failed",
    "413": "request body larger than 10485760 bytes",
    "415": "unsupported media type: send the body as application/json",
    "422": [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}],
    "429": "rate limit exceeded, retry later",
    "503": "task store unavailable, retry later",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def describe_common_errors(schema: dict[str, Any], *, rate_limited: bool) -> dict[str, Any]:
    """Adds to ``schema`` (an OpenAPI 3.1 document, changed in place and returned) the error
    answers not declared by the routes themselves (a route's own declaration wins), and an
    example to every JSON error answer that has none."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["ApiKey"] = SECURITY_SCHEME
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if OPERATIONS_TAG not in operation.get("tags", ()):
                operation.setdefault("security", [{"ApiKey": []}])
            responses = operation.setdefault("responses", {})
            _add_answers(operation, responses, rate_limited=rate_limited)
            for status, response in responses.items():
                _add_example(status, response)
    return schema


def _add_answers(
    operation: dict[str, Any], responses: dict[str, Any], *, rate_limited: bool
) -> None:
    if "requestBody" in operation:
        responses.setdefault("400", _error("Request body is not UTF-8 text"))
        responses.setdefault("413", _error("Request body over MAILROOM_MAX_REQUEST_BYTES"))
        responses.setdefault("415", _error("Request body not declared as JSON"))
    if OPERATIONS_TAG in operation.get("tags", ()):
        return  # never rate limited; their 503 (readiness) has no Retry-After
    if rate_limited:
        responses.setdefault("429", _error("Over MAILROOM_RATE_LIMIT for this API key"))
        responses["429"]["headers"] = _RETRY_AFTER
    if "503" in responses:
        responses["503"].setdefault("headers", _RETRY_AFTER)


def _add_example(status: str, response: dict[str, Any]) -> None:
    media = response.get("content", {}).get("application/json") or {"example": None}
    if status in _EXAMPLE_DETAIL and "example" not in media and "examples" not in media:
        media["example"] = {"detail": _EXAMPLE_DETAIL[status]}


def install_openapi(app: FastAPI, *, rate_limited: bool) -> None:
    """Makes ``app.openapi()`` (served at ``/openapi.json``) include ``describe_common_errors``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_common_errors(generate(), rate_limited=rate_limited)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
