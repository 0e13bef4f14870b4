"""Request and response bodies of the HTTP API (pydantic models; never cross into use cases)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictStr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic.config import JsonDict

from application.list_tasks import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_LIMIT
from application.ports import TaskSummary
from application.start_email_batch import MAX_BATCH
from application.start_email_task import SendEmail
from domain.message import find_control_character
from domain.message_parts import MAX_ATTACHMENTS, MAX_RECIPIENTS, text_problem
from domain.task import Task, TaskStatus
from entrypoints.api.message_fields import (
    NO_CONTROL_SCHEMA,
    Address,
    AttachmentField,
    CustomHeaders,
    Recipients,
)


def _header_safe(value: str) -> str:
    char = find_control_character(value)
    if char is not None:
        raise ValueError(f"must not contain control characters (found U+{ord(char):04X})")
    return value


TOO_MANY_RECIPIENTS = (
    f"at most {MAX_RECIPIENTS} recipients are allowed in total across email, cc and bcc"
)

HeaderText = Annotated[StrictStr, AfterValidator(_header_safe), WithJsonSchema(NO_CONTROL_SCHEMA)]


class SendEmailRequest(BaseModel):
    """``POST /send-email``: one email. Only ``email``, ``subject`` and ``body`` are required;
    ``cc``, ``bcc``, ``reply_to``, ``html``, ``attachments`` and ``headers`` are optional (null
    means absent). At most ``MAX_RECIPIENTS`` recipients in all."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "user@example.com", "subject": "Hello", "body": "Test email"}]
        },
    )

    email: Address = Field(
        description="Recipient address (syntax checked, no DNS lookup), optionally with a "
        'display name: "Jörg Müller <jorg@example.com>".'
    )
    subject: HeaderText = Field(description="Subject; any Unicode text without control characters.")
    body: StrictStr = Field(description="Plain-text body; line ends are normalized to CRLF.")
    cc: Recipients | None = Field(
        default=None,
        description=f"Cc addresses, shown in the message. At most {MAX_RECIPIENTS} recipients "
        "in total across email, cc and bcc.",
    )
    bcc: Recipients | None = Field(
        default=None,
        description="Bcc addresses: in the SMTP envelope only, never in the message. At most "
        f"{MAX_RECIPIENTS} recipients in total across email, cc and bcc.",
    )
    reply_to: Address | None = Field(default=None, description="Reply-To address.")
    html: StrictStr | None = Field(
        default=None, description="HTML body, sent with `body` as multipart/alternative."
    )
    attachments: list[AttachmentField] | None = Field(
        default=None,
        max_length=MAX_ATTACHMENTS,
        description=f"Files to attach, at most {MAX_ATTACHMENTS}. The whole request, base64 "
        "included, must fit in MAILROOM_MAX_REQUEST_BYTES.",
    )
    headers: CustomHeaders | None = Field(
        default=None,
        description="Custom headers: X-* names, or In-Reply-To, References, List-Id, "
        "List-Unsubscribe, List-Unsubscribe-Post, Auto-Submitted (ASCII values).",
    )

    @field_validator("body", "html")
    @classmethod
    def _valid_unicode(cls, value: str | None) -> str | None:
        problem = None if value is None else text_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("cc", "bcc", mode="before")
    @classmethod
    def _at_most_max_recipients(cls, value: object, info: ValidationInfo) -> object:
        """One rule for cc and bcc: ``email`` + ``cc`` + ``bcc`` hold at most ``MAX_RECIPIENTS``
        addresses. Counted on the submitted list, before any of its addresses is checked, so an
        oversized list costs no address parsing; ``cc``, validated first, counts towards
        ``bcc``'s total."""
        if not isinstance(value, list):
            return value  # null, or not a list: the field's own type check answers
        earlier = info.data.get("cc") if info.field_name == "bcc" else None
        if 1 + len(earlier or ()) + len(value) > MAX_RECIPIENTS:
            raise ValueError(TOO_MANY_RECIPIENTS)
        return value

    def to_command(self) -> SendEmail:
        """The use case's command for this request."""
        return SendEmail(
            email=self.email.address,
            to_name=self.email.name,
            subject=self.subject,
            body=self.body,
            cc=tuple(self.cc or ()),
            bcc=tuple(mailbox.address for mailbox in self.bcc or ()),
            reply_to=self.reply_to,
            html=self.html,
            attachments=tuple(item.to_attachment() for item in self.attachments or ()),
            headers=tuple((self.headers or {}).items()),
        )


_TASK_ID = "3b0f6f2e-8c1d-4e7a-9a57-0c2b8e1d5f44"
_COMPLETED: JsonDict = {
    "task_id": _TASK_ID,
    "status": "completed",
    "result": {
        "message_id": f"<{_TASK_ID}@example.org>",
        "smtp_code": 250,
        "smtp_message": "2.0.0 Ok: queued",
        "accepted": ["user@example.com"],
    },
    "error": None,
    "created_at": "2026-11-30T07:15:02.104000Z",
    "updated_at": "2026-11-30T07:15:02.391000Z",
    "attempts": 1,
    "next_attempt_at": None,
}


class TaskAccepted(BaseModel):
    """``202 Accepted`` answer: the new task's id; poll ``Location`` for its status."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"task_id": _TASK_ID, "status": "started"}]}
    )

    task_id: str
    status: Literal["started"] = "started"


class SendEmailBatchRequest(BaseModel):
    """``POST /send-email/batch``: up to 500 emails, each as ``POST /send-email`` takes it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "messages": [
                        {"email": "ann@example.com", "subject": "Hello", "body": "Hi Ann"},
                        {"email": "bob@example.com", "subject": "Hello", "body": "Hi Bob"},
                    ]
                }
            ]
        },
    )

    messages: list[SendEmailRequest] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description="The emails, accepted all or none: one invalid message refuses the batch.",
    )


class BatchAccepted(BaseModel):
    """``202 Accepted`` answer to a batch: one entry per message, in request order."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tasks": [{"task_id": _TASK_ID, "status": "started"}]}]}
    )

    tasks: list[TaskAccepted]


class TaskStatusResponse(BaseModel):
    """A task's status. Times are ISO 8601 with a UTC offset; ``attempts`` counts delivery
    attempts started; ``result`` is set on completion (``message_id``, ``smtp_code``,
    ``smtp_message``) and ``error`` holds the last failure."""

    model_config = ConfigDict(json_schema_extra={"examples": [_COMPLETED]})

    task_id: str
    status: TaskStatus
    result: dict[str, Any] | None = None
    error: str | None = None
    created_at: datetime
    updated_at: datetime
    attempts: int
    next_attempt_at: datetime | None = None

    @classmethod
    def of(cls, task: Task | TaskSummary) -> "TaskStatusResponse":
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


class TaskListQuery(BaseModel):
    """``GET /tasks`` query parameters; any other parameter is refused (422)."""

    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = Field(default=None, description="Only tasks in this status.")
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Tasks per page.")
    cursor: str | None = Field(
        default=None, pattern=CURSOR_PATTERN, description="`next_cursor` of the previous page."
    )


class TaskListResponse(BaseModel):
    """``GET /tasks``: the caller's tasks, newest first; pass ``next_cursor`` as ``cursor`` for the
    next page (null: there is none). A page may be short and still have a ``next_cursor``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"tasks": [_COMPLETED], "next_cursor": None}]}
    )

    tasks: list[TaskStatusResponse]
    next_cursor: str | None


class ErrorResponse(BaseModel):
    """Every error answer: ``detail`` says what is wrong (a string, or a list of field errors)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"detail": "task not found"}]})

    detail: str | list[dict[str, Any]]
