"""Request and response bodies of the HTTP API (pydantic models; never cross into use cases)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr

from domain.message import find_control_character
from domain.task import Task, TaskStatus


def _valid_address(value: str) -> str:
    """Syntax check per the email-validator library, without DNS lookups; returns the normalized
    address (lower-cased domain, Unicode NFC)."""
    if not value:
        raise ValueError("must not be empty")
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from None


def _header_safe(value: str) -> str:
    char = find_control_character(value)
    if char is not None:
        raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


EmailAddress = Annotated[StrictStr, AfterValidator(_header_safe), AfterValidator(_valid_address)]
HeaderText = Annotated[StrictStr, AfterValidator(_header_safe)]


class SendEmailRequest(BaseModel):
    """``POST /send-email``: one plain-text email to one recipient."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "user@example.com", "subject": "Hello", "body": "Test email"}]
        },
    )

    email: EmailAddress = Field(description="Recipient address (syntax checked, no DNS lookup).")
    subject: HeaderText = Field(description="Subject; any Unicode text without control characters.")
    body: StrictStr = Field(description="Plain-text body; line ends are normalized to CRLF.")


class TaskAccepted(BaseModel):
    """``202 Accepted`` answer: the new task's id; poll ``Location`` for its status."""

    task_id: str
    status: Literal["started"] = "started"


class TaskStatusResponse(BaseModel):
    """A task's status. Times are ISO 8601 with a UTC offset; ``attempts`` counts delivery
    attempts started; ``result`` is set on completion (``message_id``, ``smtp_code``,
    ``smtp_message``) and ``error`` holds the last failure."""

    task_id: str
    status: TaskStatus
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    attempts: int
    next_attempt_at: datetime | None = None

    @classmethod
    def of(cls, task: Task) -> "TaskStatusResponse":
        return cls(
            task_id=task.id,
            status=task.status,
            result=dict(task.result) if task.result is not None else None,
            error=task.error,
            created_at=task.created_at,
            updated_at=task.updated_at,
            attempts=task.attempts,
            next_attempt_at=task.next_attempt_at,
        )


class ErrorResponse(BaseModel):
    """Every error answer: ``detail`` says what is wrong (a string, or a list of field errors)."""

    detail: str | list[dict[str, Any]]
