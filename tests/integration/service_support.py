"""What the durability tests share: the environment of a Redis-backed Mailroom delivering over
SMTP, HTTP calls to a running ``mailroom api|serve``, and polling with a deadline."""

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from tests.integration.fixtures.smtp_recorder import ReceivedMessage, SmtpRecorder
from tests.integration.fixtures.smtp_server import HOST, SERVER_NAME
from tests.integration.processes import MailroomProcess

Status = dict[str, Any]
POLL_S = 0.02


def service_env(redis_url: str, smtp_port: int, **settings: object) -> dict[str, str]:
    """A Redis-mode, SMTP-delivering Mailroom with its own key prefix and quick retries;
    ``settings`` override or add ``MAILROOM_<NAME>`` variables (``max_attempts=3``).

    Timeouts stay long enough that a loaded machine does not trip them: an SMTP reply a test
    holds back is waited for, and a live delivery is not reclaimed. Tests of reclaim set
    ``visibility_timeout_seconds`` lower."""
    env = {
        "MAILROOM_STORE": "redis",
        "MAILROOM_REDIS_URL": redis_url,
        "MAILROOM_KEY_PREFIX": f"durability-{uuid.uuid4().hex[:8]}:",
        "MAILROOM_MAILER": "smtp",
        "MAILROOM_SMTP_HOST": HOST,
        "MAILROOM_SMTP_PORT": str(smtp_port),
        "MAILROOM_SMTP_LOCAL_HOSTNAME": "mailroom.test",
        "MAILROOM_SMTP_TIMEOUT_SECONDS": "20",
        "MAILROOM_MAIL_FROM": "noreply@example.org",
        "MAILROOM_VISIBILITY_TIMEOUT_SECONDS": "10",
        "MAILROOM_RETRY_BASE_SECONDS": "0.1",
        "MAILROOM_RETRY_MAX_SECONDS": "0.5",
        "MAILROOM_SHUTDOWN_GRACE_SECONDS": "10",
    }
    env.update({f"MAILROOM_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def post_email(proc: MailroomProcess, to: str = "user@example.com") -> str:
    payload = {"email": to, "subject": "Durable", "body": "Delivered at least once.\n"}
    response = httpx.post(f"{proc.base_url}/send-email", json=payload, timeout=5)
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def status_of(proc: MailroomProcess, task_id: str) -> Status:
    response = httpx.get(f"{proc.base_url}/task/{task_id}/status", timeout=5)
    assert response.status_code == 200, response.text
    status: Status = response.json()
    return status


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s} s")
        time.sleep(POLL_S)


def wait_for_status(
    proc: MailroomProcess, task_id: str, wanted: str, timeout_s: float = 20.0
) -> Status:
    """The task's status once it is ``wanted``; fails after ``timeout_s`` with the last one seen
    and the service's log."""
    deadline = time.monotonic() + timeout_s
    while (status := status_of(proc, task_id))["status"] != wanted:
        if time.monotonic() > deadline:
            raise AssertionError(f"task {task_id} not {wanted}: {status}\n{proc.output}")
        time.sleep(POLL_S)
    return status


def message_ids(messages: list[ReceivedMessage]) -> Counter[str]:
    """How many times each Message-ID arrived."""
    return Counter(str(received.message["Message-ID"]) for received in messages)


@contextmanager
def smtp_server_on(port: int) -> Iterator[SmtpRecorder]:
    """A recording aiosmtpd server on ``port`` (one a test chose, such as ``closed_port``), for
    the duration of the block."""
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname=HOST, port=port, server_hostname=SERVER_NAME)
    controller.start()
    try:
        yield recorder
    finally:
        recorder.release_data()
        controller.stop()
