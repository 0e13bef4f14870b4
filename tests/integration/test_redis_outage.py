"""Redis killed and restarted (append-only file, fsync always), or hung (SIGSTOP), under running
``mailroom api`` and ``mailroom worker`` processes: meanwhile the API answers 503 with Retry-After
(never 500, never 202) within the Redis timeout, and once Redis is back every task accepted
before the outage is delivered."""

import time
from pathlib import Path

import httpx
import redis

from tests.integration.fixtures.redis_server import RedisProcess
from tests.integration.fixtures.smtp_server import SmtpTestServer
from tests.integration.processes import MailroomProcess, mailroom
from tests.integration.service_support import (
    message_ids,
    post_email,
    service_env,
    status_of,
    wait_for_status,
    wait_until,
)

ACCEPTED_BEFORE = 20
PAYLOAD = {"email": "user@example.com", "subject": "During", "body": "the outage\n"}


def answers_while_down(
    api: MailroomProcess, task_id: str, rounds: int = 3
) -> list[tuple[int, str | None, float]]:
    """(status code, Retry-After, seconds taken) of POSTs and GETs made while Redis is down."""
    answers = []
    with httpx.Client(base_url=str(api.base_url), timeout=10) as client:
        for _ in range(rounds):
            for request in (
                lambda: client.post("/send-email", json=PAYLOAD),
                lambda: client.get(f"/task/{task_id}/status"),
            ):
                started = time.monotonic()
                response = request()
                elapsed = time.monotonic() - started
                answers.append((response.status_code, response.headers.get("retry-after"), elapsed))
    return answers


def stored_tasks(redis_url: str, prefix: str) -> int:
    with redis.Redis.from_url(redis_url, socket_timeout=2) as client:
        return sum(1 for _ in client.scan_iter(match=f"{prefix}task:*"))


def test_tasks_accepted_before_a_redis_crash_are_delivered_after_its_restart(
    restartable_redis: RedisProcess, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    env = service_env(restartable_redis.url, smtp_server.port)
    with mailroom("api", env, tmp_path) as api:
        accepted = [post_email(api) for _ in range(ACCEPTED_BEFORE)]
        restartable_redis.kill()
        during = answers_while_down(api, accepted[0])
        restartable_redis.start()
        assert status_of(api, accepted[0])["status"] == "pending"
        accepted.append(post_email(api))
        with mailroom("worker", env, tmp_path):
            done = [wait_for_status(api, task_id, "completed") for task_id in accepted]
        assert api.process.poll() is None, api.output

    assert [(code, retry_after) for code, retry_after, _ in during] == [(503, "5")] * len(during)
    assert max(elapsed for *_, elapsed in during) < 3.0
    assert stored_tasks(restartable_redis.url, env["MAILROOM_KEY_PREFIX"]) == len(accepted)
    assert message_ids(smtp_server.messages) == {d["result"]["message_id"]: 1 for d in done}


def test_a_worker_that_lost_redis_mid_delivery_finishes_the_task_once_redis_is_back(
    restartable_redis: RedisProcess, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    env = service_env(restartable_redis.url, smtp_server.port, visibility_timeout_seconds=1)
    smtp_server.hold_data()
    with mailroom("api", env, tmp_path) as api, mailroom("worker", env, tmp_path) as worker:
        task_id = post_email(api)
        wait_until(smtp_server.data_held.is_set, "DATA reply held")
        restartable_redis.kill()
        smtp_server.release_data()  # accepted, but the worker cannot record it
        wait_until(lambda: "entry left for reclaim" in worker.output, "delivery given up")
        restartable_redis.start()
        done = wait_for_status(api, task_id, "completed")
        later = wait_for_status(api, post_email(api), "completed")
        assert worker.process.poll() is None, worker.output

    assert (done["attempts"], done["result"]["interrupted_attempts"]) == (2, [1])
    assert message_ids(smtp_server.messages) == {
        done["result"]["message_id"]: 2,  # the at-least-once duplicate: same Message-ID
        later["result"]["message_id"]: 1,
    }


def test_while_redis_hangs_the_api_answers_503_within_the_redis_timeout(
    restartable_redis: RedisProcess, closed_port: int, tmp_path: Path
) -> None:
    env = service_env(restartable_redis.url, closed_port, redis_timeout_seconds=1)
    with mailroom("api", env, tmp_path) as api:
        task_id = post_email(api)
        restartable_redis.pause()
        try:
            during = answers_while_down(api, task_id, rounds=2)
        finally:
            restartable_redis.resume()
        assert status_of(api, task_id)["status"] == "pending"
        assert api.process.poll() is None, api.output

    assert [(code, retry_after) for code, retry_after, _ in during] == [(503, "5")] * len(during)
    slowest = max(elapsed for *_, elapsed in during)
    assert slowest < 1.6, f"a 503 took {slowest:.2f} s with MAILROOM_REDIS_TIMEOUT_SECONDS=1"


def test_a_post_answered_503_while_redis_hangs_is_stored_whole_or_not_at_all(
    restartable_redis: RedisProcess, closed_port: int, tmp_path: Path
) -> None:
    """A write that timed out is ambiguous: the script already sent may run once Redis wakes up
    (the README says so, and that a retry should carry an Idempotency-Key). What must hold: the
    task is then stored and queued together, never half-written."""
    env = service_env(restartable_redis.url, closed_port, redis_timeout_seconds=0.5)
    prefix = env["MAILROOM_KEY_PREFIX"]
    with mailroom("api", env, tmp_path) as api:
        task_id = post_email(api)
        restartable_redis.pause()
        try:
            refused = httpx.post(f"{api.base_url}/send-email", json=PAYLOAD, timeout=10)
        finally:
            restartable_redis.resume()
        assert refused.status_code == 503
        assert status_of(api, task_id)["status"] == "pending"
        time.sleep(0.5)  # let a late write land, if it is going to
        stored = stored_tasks(restartable_redis.url, prefix)
        with redis.Redis.from_url(restartable_redis.url) as client:
            queued = client.xlen(f"{prefix}queue")
    assert stored in (1, 2)
    assert queued == stored


def test_a_post_with_an_idempotency_key_retried_after_a_503_creates_one_task(
    restartable_redis: RedisProcess, smtp_server: SmtpTestServer, tmp_path: Path
) -> None:
    """The safe way through the ambiguous 503 above: the client retries with the same key."""
    env = service_env(restartable_redis.url, smtp_server.port, redis_timeout_seconds=0.5)
    key = {"Idempotency-Key": '"outage-1"'}
    with mailroom("api", env, tmp_path) as api:
        earlier = post_email(api)
        restartable_redis.pause()
        try:
            refused = httpx.post(
                f"{api.base_url}/send-email", json=PAYLOAD, headers=key, timeout=10
            )
        finally:
            restartable_redis.resume()
        retried = httpx.post(f"{api.base_url}/send-email", json=PAYLOAD, headers=key, timeout=10)
        again = httpx.post(f"{api.base_url}/send-email", json=PAYLOAD, headers=key, timeout=10)
        with mailroom("worker", env, tmp_path):
            task_id = retried.json()["task_id"]
            done = [wait_for_status(api, t, "completed") for t in (earlier, task_id)]

    assert (refused.status_code, retried.status_code, again.status_code) == (503, 202, 202)
    assert again.json()["task_id"] == task_id
    assert stored_tasks(restartable_redis.url, env["MAILROOM_KEY_PREFIX"]) == 2
    assert message_ids(smtp_server.messages) == {d["result"]["message_id"]: 1 for d in done}
