"""The tutorial pattern Mailroom starts from (FastAPI ``BackgroundTasks`` plus a module-level
dict of statuses), as the pattern's write-up describes it, with two changes for a fair
comparison: the request is validated with Mailroom's ``SendEmailRequest`` (so every intake variant
pays for the same validation), and the background "send" does not sleep (the write-up's
``asyncio.sleep(5)`` stands for a real send; here the send costs nothing, which flatters the
pattern).
"""

import uuid
from enum import StrEnum
from typing import Any

from fastapi import BackgroundTasks, FastAPI, HTTPException
from pydantic import BaseModel

from entrypoints.api.schemas import SendEmailRequest


class TaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


# The pattern's module-level store: one dict per task, never evicted.
task_status: dict[str, dict[str, Any]] = {}


class TaskResponse(BaseModel):
    task_id: str
    status: TaskStatus
    result: dict[str, Any] | None = None
    error: str | None = None


async def send_email_background(task_id: str, email: str, subject: str, body: str) -> None:
    """The pattern's background function, with a send that costs nothing."""
    try:
        task_status[task_id]["status"] = TaskStatus.PROCESSING
        task_status[task_id]["status"] = TaskStatus.COMPLETED
        task_status[task_id]["result"] = {"message": "Email sent successfully"}
    except Exception as exc:  # the pattern's catch-all, kept as written
        task_status[task_id]["status"] = TaskStatus.FAILED
        task_status[task_id]["error"] = str(exc)


def create_app() -> FastAPI:
    """The tutorial app: ``POST /send-email``, ``GET /task/{task_id}/status``, ``/healthz``."""
    app = FastAPI(title="tutorial pattern")

    @app.post("/send-email", response_model=None)
    async def send_email(
        request: SendEmailRequest, background_tasks: BackgroundTasks
    ) -> dict[str, str]:
        task_id = str(uuid.uuid4())
        task_status[task_id] = {"status": TaskStatus.PENDING, "result": None, "error": None}
        background_tasks.add_task(
            send_email_background, task_id, request.email, request.subject, request.body
        )
        return {"task_id": task_id, "status": "started"}

    @app.get("/task/{task_id}/status", response_model=TaskResponse)
    async def get_task_status(task_id: str) -> TaskResponse:
        if task_id not in task_status:
            raise HTTPException(404, "Task not found")
        info = task_status[task_id]
        return TaskResponse(
            task_id=task_id, status=info["status"], result=info["result"], error=info["error"]
        )

    @app.get("/healthz", response_model=None)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
