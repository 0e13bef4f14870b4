"""Routes for many tasks at once: batch send, the caller's task list, retry of a failed task."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, Request, Response
from fastapi import status as http

from entrypoints.api.auth import UNAUTHORIZED, Owner
from entrypoints.api.deps import Listing, Retry, StartBatch
from entrypoints.api.idempotency import (
    IDEMPOTENCY_KEY_PARAMETER,
    idempotency_header,
    idempotency_of,
    mark_replayed,
)
from entrypoints.api.route_table import RouteTable
from entrypoints.api.schemas import (
    BatchAccepted,
    ErrorResponse,
    SendEmailBatchRequest,
    TaskAccepted,
    TaskListQuery,
    TaskListResponse,
    TaskStatusResponse,
)

routes = RouteTable()
"""Built into each app's router by ``create_app`` (``routes.router(rate_limit)``)."""

_BATCH = "POST /send-email/batch"
"""The operation in idempotency fingerprints (``idempotency.fingerprint``)."""

_ERRORS: dict[int | str, dict[str, Any]] = {
    **UNAUTHORIZED,
    422: {"model": ErrorResponse, "description": "Invalid request; `loc` names the field"},
    503: {"model": ErrorResponse, "description": "Task store unavailable; retry later"},
}


@routes.post(
    "/send-email/batch",
    status_code=http.HTTP_202_ACCEPTED,
    response_model=BatchAccepted,
    responses={413: {"model": ErrorResponse}, **_ERRORS},
    summary="Accept up to 500 emails at once, all or none",
    openapi_extra={"parameters": [IDEMPOTENCY_KEY_PARAMETER]},
)
async def send_email_batch(
    request: SendEmailBatchRequest,
    raw: Request,
    response: Response,
    owner: Owner,
    start: StartBatch,
) -> BatchAccepted:
    """Stores and queues every message in one atomic step and answers their task ids in request
    order. One invalid message refuses the whole batch (422, its `loc` holds the message's index,
    e.g. `["body", "messages", 3, "email"]`) and nothing is queued."""
    idempotency = idempotency_of(idempotency_header(raw), _BATCH, await raw.body())
    commands = [message.to_command() for message in request.messages]
    accepted = await start(commands, owner=owner, idempotency=idempotency)
    mark_replayed(response, accepted)
    return BatchAccepted(tasks=[TaskAccepted(task_id=task_id) for task_id in accepted.task_ids])


@routes.get(
    "/tasks",
    response_model=TaskListResponse,
    responses=_ERRORS,
    summary="List your tasks, newest first (status=failed: the dead-letter list)",
)
async def list_tasks(
    owner: Owner,
    query: Annotated[TaskListQuery, Query()],
    listing: Listing,
) -> TaskListResponse:
    """The tasks created with the calling API key, newest first, a page at a time."""
    page = await listing(owner=owner, status=query.status, limit=query.limit, cursor=query.cursor)
    tasks = [TaskStatusResponse.of(task) for task in page.tasks]
    return TaskListResponse(tasks=tasks, next_cursor=page.next_cursor)


@routes.post(
    "/task/{task_id}/retry",
    status_code=http.HTTP_202_ACCEPTED,
    response_model=TaskStatusResponse,
    responses={
        404: {"model": ErrorResponse, "description": "Unknown, expired or not yours"},
        409: {"model": ErrorResponse, "description": "The task is not `failed`"},
        **_ERRORS,
    },
    summary="Queue a failed task again",
)
async def retry_task(
    task_id: UUID,
    response: Response,
    owner: Owner,
    retry: Retry,
) -> TaskStatusResponse:
    """Puts a `failed` task back in the queue: it turns `pending`, due at once, with `attempts`
    reset to 0 for a full set of retries (the earlier rounds' attempt counts are kept in
    `result.requeued_after_attempts`, the last `error` until the next attempt)."""
    task = await retry(str(task_id), owner=owner)
    response.headers["Location"] = f"/task/{task.id}/status"
    return TaskStatusResponse.of(task)
