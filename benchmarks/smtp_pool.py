"""SMTP delivery through the connection pool versus a new connection per message, in one run:

delivered messages/s from ``SmtpMailer`` to an aiosmtpd sink (its own process, accepting and
discarding every message), with ``--concurrency`` deliveries at once, once with the pool
(``MAILROOM_SMTP_POOL_SIZE`` = concurrency, RSET between messages) and once with every message on
a new connection (``max_messages_per_connection=1``: connect, greeting, EHLO, [STARTTLS, EHLO,]
MAIL, RCPT, DATA, QUIT), for plain text and for STARTTLS (trustme certificates). Rounds
alternate between the two modes; the table shows the median round and the ratio.

Run from the repository root: ``.venv/bin/python -m benchmarks.smtp_pool``. Everything listens on
127.0.0.1.
"""

import argparse
import asyncio
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from adapters.smtp_mailer import SmtpConfig, SmtpMailer
from domain.message import Email
from tests.integration.fixtures.smtp_server import HOST, free_port

EMAIL = Email(
    sender="bench@example.org",
    to="sink@example.com",
    subject="Pool benchmark",
    body="A short message, as most transactional mail is.\n" * 10,
    message_id="<bench@example.org>",
    date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
)


class _Counting:
    """aiosmtpd handler: accepts and discards every message, counts messages and connections."""

    def __init__(self) -> None:
        self.messages = 0
        self.connections = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.messages += 1
        return "250 2.0.0 OK"


class _SinkController(Controller):
    def factory(self) -> SMTP:
        self.handler.connections += 1
        return super().factory()


def serve_sink(port: int, certificate_file: str) -> None:
    """The sink process: STARTTLS offered (not required); prints ``ready``, then answers each
    ``stats`` line on stdin with ``<connections> <messages>``."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate_file)
    handler = _Counting()
    controller = _SinkController(
        handler, hostname=HOST, port=port, server_hostname="sink.test", tls_context=tls
    )
    controller.start()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            print(f"{handler.connections} {handler.messages}", flush=True)
    controller.stop()


@dataclass
class Sink:
    """The sink process, seen from the benchmark."""

    process: subprocess.Popen[str]
    port: int
    lock: threading.Lock

    def stats(self) -> tuple[int, int]:
        with self.lock:
            assert self.process.stdin is not None
            assert self.process.stdout is not None
            self.process.stdin.write("stats\n")
            self.process.stdin.flush()
            connections, messages = self.process.stdout.readline().split()
        return int(connections), int(messages)


def start_sink(certificate_file: Path) -> Sink:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.smtp_pool", "--sink", str(port), str(certificate_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("the SMTP sink did not start")
    return Sink(process, port, threading.Lock())


async def deliver(config: SmtpConfig, messages: int, concurrency: int) -> float:
    """Delivered messages/s for ``messages`` sends, ``concurrency`` at a time."""
    mailer = SmtpMailer(config)
    await mailer.start()
    remaining = iter(range(messages))

    async def sender() -> None:
        for _ in remaining:
            await mailer.send(EMAIL)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    finally:
        await mailer.aclose()
    return messages / elapsed


async def measure(
    sink: Sink, config: SmtpConfig, messages: int, rounds: int
) -> tuple[float, float, int, int]:
    """Median messages/s pooled and per-connection, and connections opened per round by each."""
    fresh = replace(config, max_messages_per_connection=1)
    await deliver(config, min(messages, 200), config.pool_size)  # warm up both sides
    rates: dict[str, list[float]] = {"pooled": [], "fresh": []}
    opened: dict[str, int] = {}
    for _ in range(rounds):
        for mode, mode_config in (("pooled", config), ("fresh", fresh)):
            before, _ = sink.stats()
            rates[mode].append(await deliver(mode_config, messages, config.pool_size))
            opened[mode] = sink.stats()[0] - before
    return (
        statistics.median(rates["pooled"]),
        statistics.median(rates["fresh"]),
        opened["pooled"],
        opened["fresh"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages per round and mode")
    parser.add_argument("--concurrency", type=int, default=4, help="deliveries at once = pool size")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per mode (median shown)")
    parser.add_argument("--sink", nargs=2, metavar=("PORT", "CERT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        serve_sink(int(args.sink[0]), args.sink[1])
        return
    with tempfile.TemporaryDirectory() as tmp:
        ca = trustme.CA()
        ca_file, certificate_file = Path(tmp, "ca.pem"), Path(tmp, "server.pem")
        ca.cert_pem.write_to_path(str(ca_file))
        ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(certificate_file))
        sink = start_sink(certificate_file)
        try:
            rows = [
                (security, *asyncio.run(measure(sink, config, args.messages, args.rounds)))
                for security, config in configs(sink.port, ca_file, args.concurrency).items()
            ]
        finally:
            sink.process.terminate()
            sink.process.wait(timeout=30)
    print_table(rows, args)


def configs(port: int, ca_file: Path, pool_size: int) -> dict[str, SmtpConfig]:
    plain = SmtpConfig(
        host=HOST,
        port=port,
        security="none",
        username=None,
        password=None,
        timeout_s=30.0,
        local_hostname="bench.test",
        pool_size=pool_size,
    )
    return {"none": plain, "starttls": replace(plain, security="starttls", ca_file=str(ca_file))}


def print_table(rows: list[tuple[str, float, float, int, int]], args: argparse.Namespace) -> None:
    print(
        f"{args.messages} messages per round, {args.concurrency} at once, "
        f"median of {args.rounds} rounds"
    )
    print(
        "| security | pooled msg/s | new connection per message msg/s | ratio "
        "| connections opened (pooled / per message) |"
    )
    print("|---|---|---|---|---|")
    for security, pooled, fresh, opened_pooled, opened_fresh in rows:
        print(
            f"| {security} | {pooled:,.0f} | {fresh:,.0f} | {pooled / fresh:.1f}x "
            f"| {opened_pooled} / {opened_fresh} |"
        )


if __name__ == "__main__":
    main()
