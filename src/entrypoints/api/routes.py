"""HTTP routes: each translates a request into a use-case call and the result into a response."""

from typing import Any
from uuid import UUID

from dependency_injector.wiring import Provide, inject
from fastapi import APIRouter, Depends, Response, status

from application.get_task_status import GetTaskStatus
from application.start_email_task import SendEmail, StartEmailTask
from entrypoints.api.schemas import (
    ErrorResponse,
    SendEmailRequest,
    TaskAccepted,
    TaskStatusResponse,
)
from entrypoints.container import Container

router = APIRouter()

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "Task store unavailable; retry later"}
}


@router.post(
    "/send-email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=TaskAccepted,
    responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, **_UNAVAILABLE},
    summary="Accept an email for background delivery",
)
@inject
async def send_email(
    request: SendEmailRequest,
    response: Response,
    start: StartEmailTask = Depends(Provide[Container.start_email_task]),  # noqa: B008
) -> TaskAccepted:
    """Stores and queues the email, then answers at once with the task id; the task is stored
    before this answer, so polling it never gives 404."""
    task = await start(SendEmail(email=request.email, subject=request.subject, body=request.body))
    response.headers["Location"] = f"/task/{task.id}/status"
    return TaskAccepted(task_id=task.id)


@router.get(
    "/task/{task_id}/status",
    response_model=TaskStatusResponse,
    responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, **_UNAVAILABLE},
    summary="Poll a task's status",
)
@inject
async def task_status(
    task_id: UUID,
    lookup: GetTaskStatus = Depends(Provide[Container.get_task_status]),  # noqa: B008
) -> TaskStatusResponse:
    """The task's status, result and last error; 404 for an unknown or expired id."""
    return TaskStatusResponse.of(await lookup(str(task_id)))


@router.get("/healthz", summary="Liveness: 200 while the process runs")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
