"""HTTP routes: each translates a request into a use-case call and the result into a response."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response, status

from entrypoints.api.auth import UNAUTHORIZED, Owner
from entrypoints.api.deps import Lookup, StartBatch
from entrypoints.api.idempotency import IdempotencyKeyHeader, idempotency_for, mark_replayed
from entrypoints.api.schemas import (
    ErrorResponse,
    SendEmailRequest,
    TaskAccepted,
    TaskStatusResponse,
)

router = APIRouter()

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "Task store unavailable; retry later"}
}


@router.post(
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
)
async def send_email(
    request: SendEmailRequest,
    raw: Request,
    owner: Owner,
    start: StartBatch,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Stores and queues the email, then answers at once with the task id; the task is stored
    before this answer, so polling it never gives 404. With an `Idempotency-Key`, a retry of the
    same request answers the same task id (`Idempotent-Replayed: true`) and sends nothing more."""
    idempotency = await idempotency_for(idempotency_key, raw)
    accepted = await start(request.to_command(), owner=owner, idempotency=idempotency)
    [task_id] = accepted.task_ids
    # Encoded here rather than through response_model (which stays for the OpenAPI document):
    # FastAPI would validate and serialize the model again, on the hottest path there is.
    answer = Response(
        content=b'{"task_id":"%s","status":"started"}' % task_id.encode(),
        status_code=status.HTTP_202_ACCEPTED,
        media_type="application/json",
        headers={"Location": f"/task/{task_id}/status"},
    )
    mark_replayed(answer, accepted)
    return answer


@router.get(
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
async def task_status(
    task_id: UUID,
    owner: Owner,
    lookup: Lookup,
) -> Response:
    """The task's status, result and last error; 404 for an unknown or expired id, and for
    another API key's task."""
    task = await lookup(str(task_id), owner=owner)
    return Response(
        content=TaskStatusResponse.of(task).model_dump_json(), media_type="application/json"
    )
