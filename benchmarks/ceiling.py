"""The ceiling: a bare FastAPI app doing only what every intake variant must do.

``POST /send-email`` validates the body with Mailroom's own ``SendEmailRequest`` (same pydantic
model, same ``email-validator`` address check, same control-character check) and answers 202 with
a constant JSON; ``GET /task/{task_id}/status`` parses the id as a UUID, as Mailroom's route does,
and answers a constant JSON shaped like Mailroom's status. The answers are encoded once, up front,
and nothing is stored: the gap between this app and a variant is what the variant does beyond
FastAPI's own per-request cost (routing, body parsing, validation, the response).
"""

import json
from typing import Any
from uuid import UUID

from fastapi import FastAPI, Response, status

from entrypoints.api.schemas import SendEmailRequest

CONSTANT_ID = "00000000-0000-4000-8000-000000000000"
ACCEPTED: dict[str, Any] = {"task_id": CONSTANT_ID, "status": "started"}
STATUS: dict[str, Any] = {
    "task_id": CONSTANT_ID,
    "status": "completed",
    "result": {"message_id": f"<{CONSTANT_ID}@example.com>", "smtp_code": 250},
    "error": None,
    "created_at": "2026-01-01T00:00:00+00:00",
    "updated_at": "2026-01-01T00:00:01+00:00",
    "attempts": 1,
    "next_attempt_at": None,
}


def create_app() -> FastAPI:
    """The ceiling app: constant answers, pre-encoded JSON."""
    app = FastAPI(title="ceiling")
    accepted = json.dumps(ACCEPTED).encode()
    task_status_json = json.dumps(STATUS).encode()

    @app.post("/send-email", status_code=status.HTTP_202_ACCEPTED, response_model=None)
    async def send_email(request: SendEmailRequest) -> Response:
        return Response(accepted, status.HTTP_202_ACCEPTED, media_type="application/json")

    @app.get("/task/{task_id}/status", response_model=None)
    async def task_status(task_id: UUID) -> Response:
        return Response(task_status_json, media_type="application/json")

    @app.get("/healthz", response_model=None)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
