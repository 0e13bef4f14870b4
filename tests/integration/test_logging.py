"""Structured logs: one JSON object per line with the request id and the task id; addresses
masked; message bodies, SMTP passwords and API keys never written. Checked on the formatter and
on the output of a real ``mailroom serve`` that delivers over SMTP with AUTH."""

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrypoints import logging_setup
from entrypoints.api.keys import key_hash, new_key
from entrypoints.app import create_app
from entrypoints.logging_setup import configure_logging, mask_addresses
from entrypoints.settings import Settings
from tests.integration.fixtures.smtp_server import HOST, SmtpTestServerFactory
from tests.integration.processes import mailroom
from tests.integration.service_support import wait_until


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("to user@example.com", "to u***@example.com"),
        ("550 5.1.1 <jane.doe+tag@mail.example.org>: no", "550 5.1.1 <j***@mail.example.org>: no"),
        ("a@b.c and bob@x.y", "a***@b.c and b***@x.y"),
        ("'quoted@example.com'", "'q***@example.com'"),
        ("no address here", "no address here"),
        ("", ""),
    ],
)
def test_addresses_keep_their_first_character_and_domain(text: str, masked: str) -> None:
    assert mask_addresses(text) == masked


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """A stream for ``configure_logging``; the root logger is restored afterwards."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


def records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_json_records_carry_the_context_ids_and_mask_addresses(log_stream: io.StringIO) -> None:
    configure_logging("info", "json", log_stream)
    log = logging.getLogger("mailroom.test")
    request_token = logging_setup.request_id.set("req-1")
    task_token = logging_setup.task_id.set("task-1")
    try:
        log.info("sent to %s", "user@example.com", extra={"detail": "550 <bob@example.org>"})
        try:
            raise ValueError("bad address carol@example.net")
        except ValueError:
            log.exception("failed")
    finally:
        logging_setup.task_id.reset(task_token)
        logging_setup.request_id.reset(request_token)
    log.debug("not at info")
    first, second = records(log_stream.getvalue())
    assert first["message"] == "sent to u***@example.com"
    assert (first["level"], first["logger"]) == ("INFO", "mailroom.test")
    assert (first["request_id"], first["task_id"]) == ("req-1", "task-1")
    assert first["detail"] == "550 <b***@example.org>"
    assert first["timestamp"].endswith("+00:00")
    assert "c***@example.net" in second["exc_info"]
    assert "carol@" not in log_stream.getvalue()


def test_text_records_are_one_line_with_the_ids(log_stream: io.StringIO) -> None:
    configure_logging("warning", "text", log_stream)
    token = logging_setup.request_id.set("req-2")
    try:
        logging.getLogger("mailroom.test").warning("for user@example.com")
        logging.getLogger("mailroom.test").info("not at warning")
    finally:
        logging_setup.request_id.reset(token)
    [line] = log_stream.getvalue().splitlines()
    assert line.endswith("WARNING mailroom.test for u***@example.com [request_id=req-2]")


def test_a_real_service_logs_json_lines_without_secrets(
    tmp_path: Path, smtp_server_factory: SmtpTestServerFactory
) -> None:
    password, api_key = "smtp-pass-6d1f", new_key()
    server = smtp_server_factory(credentials=("mailroom", password))
    env = {
        "MAILROOM_MAILER": "smtp",
        "MAILROOM_SMTP_HOST": HOST,
        "MAILROOM_SMTP_PORT": str(server.port),
        "MAILROOM_SMTP_USERNAME": "mailroom",
        "MAILROOM_SMTP_PASSWORD": password,
        "MAILROOM_SMTP_ALLOW_PLAIN_AUTH": "true",
        "MAILROOM_SMTP_LOCAL_HOSTNAME": "mailroom.test",
        "MAILROOM_API_KEYS": f"tests:{key_hash(api_key)}",
        "MAILROOM_MAX_ATTEMPTS": "1",
        "MAILROOM_LOG_LEVEL": "debug",
    }
    body = "The secret body 41c7"
    headers = {"authorization": f"Bearer {api_key}", "x-request-id": "log-test-1"}
    with mailroom("serve", env, tmp_path) as proc:
        delivered = _post(proc.base_url, headers, "recipient.one@example.com", body)
        _wait_for(proc.base_url, headers, delivered, "completed")
        server.reply_next("RCPT", "550 5.1.1 <recipient.two@example.com>: no such user")
        failed = _post(proc.base_url, headers, "recipient.two@example.com", body)
        _wait_for(proc.base_url, headers, failed, "failed")
        wait_until(lambda: proc.output.count('"delivery ') >= 2, "delivery log lines", 5)
        assert proc.stop() == 0
        output = proc.output
    lines = records(output)  # every line is one JSON object
    accepted = [r for r in lines if r["message"] == "task accepted"]
    assert {r["task_id"] for r in accepted} == {delivered, failed}
    assert {r["request_id"] for r in accepted} == {"log-test-1"}
    assert {r["recipient"] for r in accepted} == {"r***@example.com"}
    outcomes = {r["task_id"]: r for r in lines if r["message"].startswith("delivery ")}
    assert outcomes[delivered]["outcome"] == "completed"
    assert (outcomes[failed]["outcome"], outcomes[failed]["reason"]) == ("failed", "smtp_5xx")
    assert "r***@example.com" in outcomes[failed]["error"]
    access = [r for r in lines if r["logger"] == "uvicorn.access"]
    assert access
    assert all("request_id" in r for r in access)
    for secret in (body, password, api_key, "recipient.one", "recipient.two"):
        assert secret not in output


def _post(base_url: str | None, headers: dict[str, str], to: str, body: str) -> str:
    payload = {"email": to, "subject": "Logs", "body": body}
    response = httpx.post(f"{base_url}/send-email", json=payload, headers=headers, timeout=5)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def _wait_for(base_url: str | None, headers: dict[str, str], task_id: str, wanted: str) -> None:
    def reached() -> bool:
        response = httpx.get(f"{base_url}/task/{task_id}/status", headers=headers, timeout=5)
        return bool(response.json()["status"] == wanted)

    wait_until(reached, f"task {task_id} {wanted}")


async def test_an_unexpected_error_is_logged_with_the_request_id(log_stream: io.StringIO) -> None:
    configure_logging("info", "json", log_stream)
    app = create_app(Settings(mailer="fake"), run_workers=False)

    async def broken() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/broken", broken)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://mailroom.test") as client:
        response = await client.get("/broken", headers={"x-request-id": "req-500"})
    assert response.status_code == 500
    [error] = [r for r in records(log_stream.getvalue()) if r["level"] == "ERROR"]
    assert error["request_id"] == "req-500"
    assert "RuntimeError: boom" in error["exc_info"]
