"""Retries as a client sees them: real ``mailroom`` processes on a real Redis, an SMTP server
that is down, refuses for a while, refuses for good or never answers."""

import time
from pathlib import Path

import httpx

from tests.integration.fixtures.smtp_server import SilentTcpServer, SmtpTestServer
from tests.integration.processes import mailroom
from tests.integration.service_support import (
    POLL_S,
    Status,
    message_ids,
    post_email,
    service_env,
    smtp_server_on,
    status_of,
    wait_for_status,
    wait_until,
)

TRY_LATER = "451 4.3.0 try again later"


def test_a_task_is_delivered_once_the_smtp_server_comes_up(
    redis_url: str, closed_port: int, tmp_path: Path
) -> None:
    env = service_env(redis_url, closed_port, max_attempts=50)
    with mailroom("api", env, tmp_path) as api, mailroom("worker", env, tmp_path):
        task_id = post_email(api)
        wait_until(lambda: status_of(api, task_id)["attempts"] >= 2, "2 failed attempts")
        refused = status_of(api, task_id)
        with smtp_server_on(closed_port) as smtp_server:
            done = wait_for_status(api, task_id, "completed")
            received = message_ids(smtp_server.messages)

    assert "connect" in refused["error"], refused
    assert done["attempts"] > refused["attempts"] >= 2
    assert done["error"] is None
    assert received == {done["result"]["message_id"]: 1}


def test_a_task_refused_with_451_twice_is_retried_and_shows_its_wait_while_pending(
    redis_url: str, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    smtp_server.reply_next("DATA", TRY_LATER, times=2)
    env = service_env(redis_url, smtp_server.port, retry_base_seconds=0.5, retry_max_seconds=1)
    waiting: list[Status] = []
    with mailroom("api", env, tmp_path) as api, mailroom("worker", env, tmp_path):
        task_id = post_email(api)
        deadline = time.monotonic() + 25
        while (status := status_of(api, task_id))["status"] != "completed":
            assert time.monotonic() < deadline, f"not completed: {status}"
            if status["status"] == "pending" and status["attempts"] > 0:
                waiting.append(status)
            time.sleep(POLL_S)

    assert (status["attempts"], status["error"]) == (3, None)
    assert waiting, "never saw the task pending between attempts"
    assert {w["attempts"] for w in waiting} <= {1, 2}
    assert all(w["error"].startswith("451") and w["next_attempt_at"] for w in waiting)
    assert len(smtp_server.messages) == 1


def test_a_permanent_550_fails_the_task_after_one_attempt(
    redis_url: str, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    smtp_server.reply_next("DATA", "550 5.7.1 message refused")
    env = service_env(redis_url, smtp_server.port)
    with mailroom("api", env, tmp_path) as api, mailroom("worker", env, tmp_path):
        failed = wait_for_status(api, post_email(api), "failed")

    assert failed["attempts"] == 1
    assert failed["error"].startswith("550")
    assert failed["next_attempt_at"] is None
    assert smtp_server.messages == []


def test_a_task_still_refused_with_451_after_max_attempts_fails(
    redis_url: str, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    smtp_server.reply_next("DATA", TRY_LATER, times=100)
    env = service_env(redis_url, smtp_server.port, max_attempts=3)
    with mailroom("api", env, tmp_path) as api, mailroom("worker", env, tmp_path):
        failed = wait_for_status(api, post_email(api), "failed")

    assert failed["attempts"] == 3
    assert failed["error"].startswith("451")
    assert smtp_server.messages == []


def test_a_stalled_smtp_server_times_out_the_attempts_while_the_api_stays_fast(
    redis_url: str, stalled_smtp_server: SilentTcpServer, tmp_path: Path
) -> None:
    env = service_env(redis_url, stalled_smtp_server.port, smtp_timeout_seconds=0.5, max_attempts=2)
    with mailroom("serve", env, tmp_path) as service, httpx.Client(timeout=5) as client:
        task_ids = [post_email(service) for _ in range(5)]
        latencies_while_hanging: list[float] = []
        deadline = time.monotonic() + 25
        while True:
            statuses: list[Status] = []
            for task_id in task_ids:
                started = time.monotonic()
                statuses.append(client.get(f"{service.base_url}/task/{task_id}/status").json())
                if statuses[-1]["status"] == "processing":
                    latencies_while_hanging.append(time.monotonic() - started)
            if all(s["status"] == "failed" for s in statuses):
                break
            assert time.monotonic() < deadline, f"not all failed: {statuses}"
            time.sleep(POLL_S)

    assert [(s["attempts"], "timeout" in s["error"]) for s in statuses] == [(2, True)] * 5
    assert latencies_while_hanging, "never saw a delivery hanging"
    assert max(latencies_while_hanging) < 0.5
