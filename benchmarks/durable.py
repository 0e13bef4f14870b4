"""Durable (Redis) mode figures, printed as a table:

1. accepted tasks/s: ``mailroom api`` alone, ``wrk`` POSTing ``/send-email`` (50 connections);
2. delivered emails/s: the accepted backlog drained by 1, then 2, ``mailroom worker`` processes
   into an aiosmtpd sink;
3. reclaim time: from ``kill -9`` of a worker holding a delivery (the SMTP server holds its reply)
   to the completion of that task by another worker.

Run from the repository root: ``.venv/bin/python -m benchmarks.durable``. Needs ``redis-server``
and ``wrk`` on PATH. Everything listens on 127.0.0.1 and every wait is bounded.
Redis runs with ``appendonly yes`` and ``appendfsync always`` (no acknowledged task lost even if
Redis crashes), which is the setting whose cost these figures include.
"""

import argparse
import re
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.integration.fixtures.redis_server import RedisProcess
from tests.integration.fixtures.smtp_server import SmtpTestServer
from tests.integration.processes import MailroomProcess, mailroom

LUA = Path(__file__).with_name("post_email.lua")


def wrk(base_url: str, seconds: int, connections: int = 50) -> tuple[float, int]:
    """Requests/s and non-2xx count of one ``wrk`` run."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            str(LUA),
            f"{base_url}/send-email",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = int(re.search(r"non2xx=(\d+)", out).group(1))  # type: ignore[union-attr]
    return rate, non2xx


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{what} not reached in {timeout_s}s")
        time.sleep(0.02)
    return time.monotonic() - started


def queued(redis_url: str, prefix: str) -> int:
    import redis

    with redis.Redis.from_url(redis_url) as client:
        return int(client.xlen(f"{prefix}queue"))


def intake_then_drain(
    env: dict[str, str], workdir: Path, sink: SmtpTestServer, workers: int, seconds: int
) -> tuple[float, int, float]:
    """Accepted/s during ``seconds`` of wrk, how many, and delivered/s draining them."""
    before = len(sink.messages)
    with mailroom("api", env, workdir) as api:
        assert api.base_url is not None
        accepted_per_s, non2xx = wrk(api.base_url, seconds)
    if non2xx:
        raise RuntimeError(f"{non2xx} requests were not accepted")
    backlog = queued(env["MAILROOM_REDIS_URL"], env["MAILROOM_KEY_PREFIX"])
    processes: list[MailroomProcess] = []
    started = time.monotonic()
    try:
        for _ in range(workers):
            processes.append(MailroomProcess(["worker"], env, workdir, workdir / "worker.log"))
        wait_until(lambda: len(sink.messages) - before >= backlog, 600, f"{backlog} deliveries")
        elapsed = time.monotonic() - started
    finally:
        for process in processes:
            process.stop()
    return accepted_per_s, backlog, backlog / elapsed


def reclaim_time(env: dict[str, str], workdir: Path, sink: SmtpTestServer) -> float:
    """Seconds from kill -9 of the worker holding a delivery to the task's completion."""
    sink.hold_data()
    with mailroom("api", env, workdir) as api:
        doomed = MailroomProcess(["worker", "--concurrency", "1"], env, workdir, workdir / "w1.log")
        task_id = httpx.post(
            f"{api.base_url}/send-email",
            json={"email": "user@example.com", "subject": "reclaim", "body": "x"},
        ).json()["task_id"]
        wait_until(sink.data_held.is_set, 30, "delivery in flight")
        with mailroom("worker", env, workdir) as survivor:
            doomed.kill()
            killed_at = time.monotonic()
            sink.release_data()

            def completed() -> bool:
                status = httpx.get(f"{api.base_url}/task/{task_id}/status").json()
                return bool(status["status"] == "completed")

            wait_until(completed, 120, "reclaimed task completed")
            survivor.stop()
        return time.monotonic() - killed_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--visibility", type=float, default=5.0, help="visibility timeout (s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        redis_server = RedisProcess(workdir / "redis", appendonly=True)
        redis_server.start()
        sink = SmtpTestServer()
        sink.start()
        env = {
            "MAILROOM_STORE": "redis",
            "MAILROOM_REDIS_URL": redis_server.url,
            "MAILROOM_KEY_PREFIX": f"bench-{uuid.uuid4().hex[:6]}:",
            "MAILROOM_MAILER": "smtp",
            "MAILROOM_SMTP_PORT": str(sink.port),
            "MAILROOM_SMTP_LOCAL_HOSTNAME": "bench.test",
            "MAILROOM_LOG_LEVEL": "warning",
            "MAILROOM_VISIBILITY_TIMEOUT_SECONDS": str(args.visibility),
        }
        try:
            rows = [(n, *intake_then_drain(env, workdir, sink, n, args.seconds)) for n in (1, 2)]
            reclaim_s = reclaim_time(env, workdir, sink)
        finally:
            sink.stop()
            redis_server.stop()
    print("| worker processes | accepted tasks/s | tasks drained | delivered emails/s |")
    print("|---|---|---|---|")
    for workers, accepted, backlog, delivered in rows:
        print(f"| {workers} | {accepted:,.0f} | {backlog:,} | {delivered:,.0f} |")
    print(
        f"\nkill -9 of a worker mid-delivery -> task completed by another worker: {reclaim_s:.1f} s"
        f" (visibility timeout {args.visibility:g} s)"
    )


if __name__ == "__main__":
    main()
