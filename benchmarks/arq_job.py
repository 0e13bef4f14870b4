"""The peer queue for the end-to-end comparison: arq (Redis) delivering the same email through
aiosmtplib. Runs in the benchmarks' own venv (``benchmarks/.venv``: arq and aiosmtplib), not in
Mailroom's; imports nothing from Mailroom.

``python -m benchmarks.arq_job enqueue --redis URL --count N``: enqueues N ``send_email`` jobs
(arq's ``enqueue_job``, 100 at a time) and prints the seconds it took as JSON.

``python -m benchmarks.arq_job worker --redis URL --smtp-port P``: runs an arq worker tuned as the
issue asks (``max_jobs=100``, ``poll_delay=0.01``; arq's defaults poll so slowly that they cap it
near 200 jobs/s), until SIGTERM. Each job builds the message with the standard library's
``EmailMessage`` (the headers and body Mailroom sends: From, To, Subject, Date, Message-ID,
MIME-Version, UTF-8 text/plain) and sends it with ``aiosmtplib.send``, one connection per message,
as aiosmtplib's documentation shows.
"""

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Any

import aiosmtplib
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

SENDER = "bench@example.com"
POLICY = SMTP.clone(max_line_length=76)


async def send_email(
    ctx: dict[str, Any], to: str, subject: str, body: str, message_id: str, date: str
) -> str:
    """The job: build and send one message; returns the server's reply text."""
    message = EmailMessage(policy=POLICY)
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.fromisoformat(date))
    message["Message-ID"] = message_id
    message["MIME-Version"] = "1.0"
    message.set_content(body, subtype="plain", charset="utf-8", cte="7bit")
    _, reply = await aiosmtplib.send(
        message,
        hostname="127.0.0.1",
        port=ctx["smtp_port"],
        local_hostname="bench.test",
        timeout=30,
    )
    return reply


async def enqueue(redis_url: str, count: int) -> float:
    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    started = time.monotonic()
    try:
        for start in range(0, count, 100):
            await asyncio.gather(
                *(_enqueue_one(pool, n) for n in range(start, min(count, start + 100)))
            )
    finally:
        await pool.aclose()
    return time.monotonic() - started


async def _enqueue_one(pool: Any, number: int) -> None:
    message_id = f"<{uuid.uuid4()}@example.com>"
    await pool.enqueue_job(
        "send_email",
        "user@example.com",
        "Benchmark",
        "Hello from the benchmark.",
        message_id,
        datetime.now(UTC).isoformat(),
    )


def worker(redis_url: str, smtp_port: int) -> None:
    async def startup(ctx: dict[str, Any]) -> None:
        ctx["smtp_port"] = smtp_port

    Worker(
        functions=[send_email],
        redis_settings=RedisSettings.from_dsn(redis_url),
        on_startup=startup,
        max_jobs=100,
        poll_delay=0.01,
    ).run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    enqueue_cmd = commands.add_parser("enqueue")
    enqueue_cmd.add_argument("--redis", required=True)
    enqueue_cmd.add_argument("--count", type=int, required=True)
    worker_cmd = commands.add_parser("worker")
    worker_cmd.add_argument("--redis", required=True)
    worker_cmd.add_argument("--smtp-port", type=int, required=True)
    args = parser.parse_args()
    if args.command == "enqueue":
        print(json.dumps({"seconds": asyncio.run(enqueue(args.redis, args.count))}))
    else:
        worker(args.redis, args.smtp_port)


if __name__ == "__main__":
    main()
