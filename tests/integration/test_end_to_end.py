"""The real service as a user runs it: ``mailroom serve`` in its own process, a real SMTP server
(aiosmtpd) and, in Redis mode, a real Redis."""

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.fixtures.smtp_server import SmtpTestServer
from tests.integration.processes import MAILROOM, MailroomProcess, mailroom

SUBJECT = "Grüße aus Köln — 你好"
BODY = "Hallo!\nA line with only a dot follows:\n.\n..and one starting with two dots.\n"


def post_email(proc: MailroomProcess, **changes: str) -> str:
    payload = {"email": "user@example.com", "subject": SUBJECT, "body": BODY, **changes}
    response = httpx.post(f"{proc.base_url}/send-email", json=payload, timeout=5)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def status_of(proc: MailroomProcess, task_id: str) -> dict[str, Any]:
    response = httpx.get(f"{proc.base_url}/task/{task_id}/status", timeout=5)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_status(
    proc: MailroomProcess, task_id: str, wanted: str, timeout_s: float = 15
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = status_of(proc, task_id)
        if status["status"] == wanted:
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} not {wanted}: {status}\n{proc.output}")


def store_env(store: str, redis_url: str | None) -> dict[str, str]:
    if store == "memory":
        return {"MAILROOM_STORE": "memory"}
    assert redis_url is not None
    return {
        "MAILROOM_STORE": "redis",
        "MAILROOM_REDIS_URL": redis_url,
        "MAILROOM_KEY_PREFIX": f"e2e-{uuid.uuid4().hex[:8]}:",
    }


@pytest.fixture(params=["memory", "redis"])
def env(request: pytest.FixtureRequest, smtp_server: SmtpTestServer) -> dict[str, str]:
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return {
        **store_env(request.param, redis_url),
        "MAILROOM_MAILER": "smtp",
        "MAILROOM_SMTP_HOST": smtp_server.host,
        "MAILROOM_SMTP_PORT": str(smtp_server.port),
        "MAILROOM_SMTP_LOCAL_HOSTNAME": "mailroom.test",
        "MAILROOM_MAIL_FROM": "noreply@example.org",
    }


async def test_an_email_posted_to_the_service_arrives_at_the_smtp_server_intact(
    env: dict[str, str], smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    with mailroom("serve", env, tmp_path) as proc:
        task_id = post_email(proc)
        done = wait_for_status(proc, task_id, "completed")
    (received,) = await smtp_server.wait_for_messages(1)
    message = received.message
    assert received.mail_from == "noreply@example.org"
    assert received.rcpt_tos == ("user@example.com",)
    assert message["From"] == "noreply@example.org"
    assert message["To"] == "user@example.com"
    assert message["Subject"] == SUBJECT
    assert message["Message-ID"] == done["result"]["message_id"]
    assert message["Message-ID"] == f"<{task_id}@example.org>"
    assert message.get_content().replace("\r\n", "\n") == BODY
    assert done["result"]["smtp_code"] == 250
    assert (done["attempts"], done["error"]) == (1, None)


async def test_a_permanent_refusal_fails_the_task_with_the_smtp_reply(
    env: dict[str, str], smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    smtp_server.reply_next("RCPT", "550 5.1.1 no such user")
    with mailroom("serve", env, tmp_path) as proc:
        failed = wait_for_status(proc, post_email(proc), "failed")
    assert failed["attempts"] == 1
    assert failed["error"].startswith("550 5.1.1 no such user")
    assert smtp_server.messages == []


def test_the_default_run_writes_eml_files_to_the_outbox(tmp_path: Path) -> None:
    with mailroom("serve", {}, tmp_path) as proc:
        task_id = post_email(proc)
        done = wait_for_status(proc, task_id, "completed")
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    assert done["result"]["detail"] == str(Path("outbox") / eml.name)
    content = eml.read_bytes()
    assert f"Message-ID: <{task_id}@localhost>".encode() in content
    assert b"\r\n..\r\n" not in content  # files hold the message itself, not SMTP dot-stuffing


def test_in_redis_mode_a_task_survives_a_restart_of_the_service(
    redis_url: str, tmp_path: Path
) -> None:
    env = store_env("redis", redis_url)
    with mailroom("serve", env, tmp_path) as first:
        task_id = post_email(first)
        before = wait_for_status(first, task_id, "completed")
        assert first.stop() == 0
    with mailroom("serve", env, tmp_path) as second:
        assert status_of(second, task_id) == before


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MAILROOM_STORE", "bogus"), ("MAILROOM_PORT", "eighty"), ("MAILROOM_MAX_ATTEMPTS", "0")],
)
def test_an_invalid_setting_stops_the_service_with_one_clear_line(
    tmp_path: Path, variable: str, value: str
) -> None:
    finished = subprocess.run(
        [MAILROOM, "serve"],
        env={"PATH": "/usr/bin:/bin", variable: value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert finished.returncode != 0
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 1, finished.stderr
    assert variable in lines[0]
    assert "Traceback" not in finished.stderr
