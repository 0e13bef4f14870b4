"""HTTP routes: each translates a request into a use-case call and the result into a response."""

from typing import Any
from uuid import UUID

from fastapi import Request, Response, status

from entrypoints.api.auth import UNAUTHORIZED, owner_of
from entrypoints.api.body import parse_json_body
from entrypoints.api.deps import get_task_status, start_email_batch
from entrypoints.api.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    idempotency_header,
    idempotency_of,
    mark_replayed,
)
from entrypoints.api.route_table import RouteTable
from entrypoints.api.schemas import (
    ErrorResponse,
    SendEmailRequest,
    TaskAccepted,
    TaskStatusResponse,
)

routes = RouteTable()
"""Built into each app's router by ``create_app`` (``routes.router(rate_limit)``)."""

_OPERATION = "POST /send-email"
"""The operation in idempotency fingerprints (``idempotency.fingerprint``)."""

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "Task store unavailable; retry later"}
}


@routes.post(
    "/send-email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskAccepted,
    responses={
        **UNAUTHORIZED,
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        **_UNAVAILABLE,
    },
    summary="Accept an email for background delivery",
    openapi_extra={
        "parameters": [IDEMPOTENCY_KEY_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/SendEmailRequest"}}
            },
        },
    },
)
async def send_email(request: Request) -> Response:
    """Stores and queues the email, then answers at once with the task id; the task is stored
    before this answer, so polling it never gives 404. With an `Idempotency-Key`, a retry of the
    same request answers the same task id (`Idempotent-Replayed: true`) and sends nothing more."""
    # The hottest path there is: the route reads the key, the header and the body itself
    # (auth.owner_of, idempotency_header, body.parse_json_body) rather than through FastAPI's
    # dependencies and body parameter, which cost as much as the rest of the request; the
    # answers, including every error's, are the same (tests/integration/test_api_contract.py).
    owner = owner_of(request)
    header = idempotency_header(request)
    body = await request.body()
    message = parse_json_body(SendEmailRequest, body)
    idempotency = idempotency_of(header, _OPERATION, body)
    start = await start_email_batch(request)
    accepted = await start(message.to_command(), owner=owner, idempotency=idempotency)
    [task_id] = accepted.task_ids
    # Encoded here rather than through response_model (which stays for the OpenAPI document).
    answer = Response(
        content=b'{"task_id":"%s","status":"started"}' % task_id.encode(),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
        headers={"Location": f"/task/{task_id}/status"},
    )
    mark_replayed(answer, accepted)
    return answer


@routes.get(
    "/task/{task_id}/status",
    response_model=TaskStatusResponse,
    responses={
        **UNAUTHORIZED,
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
        **_UNAVAILABLE,
    },
    summary="Poll a task's status",
)
async def task_status(task_id: UUID, request: Request) -> Response:
    """The task's status, result and last error; 404 for an unknown or expired id, and for
    another API key's task."""
    # As the intake route: the API key is read here rather than through a dependency.
    owner = owner_of(request)
    lookup = await get_task_status(request)
    summary = await lookup(str(task_id), owner=owner)
    return Response(
        content=TaskStatusResponse.of(summary).model_dump_json(), media_type="application/json"
    )
