"""SMTP delivery through the connection pool versus a new connection per message, in one run:

delivered messages/s from ``SmtpMailer`` to an SMTP sink (``benchmarks.smtp_sink``: by default
the minimal one, ``--sink aiosmtpd`` for aiosmtpd) that accepts and discards every message, with
``--concurrency`` deliveries at once, once with the pool (``MAILROOM_SMTP_POOL_SIZE`` =
concurrency, RSET between messages) and once with every message on a new connection
(``max_messages_per_connection=1``: connect, greeting, EHLO, [STARTTLS, EHLO,] MAIL, RCPT, DATA,
QUIT), for plain text and for STARTTLS (trustme certificates). The sender (this process, default
asyncio loop like ``mailroom worker``) runs on ``--sender-cpu``, the sink in its own process on
``--sink-cpu`` (``taskset``). Rounds alternate between the two modes, and each pooled round is
paired with the round per message that follows it, seconds later, so that a change in the load
of other processes on a shared machine touches both: the ratio shown is the median of the pairs'
ratios (with its interquartile range); rates and CPU times per message (the sender's and the
sink's) are medians over the rounds of each mode.

Run from the repository root: ``.venv/bin/python -m benchmarks.smtp_pool``. Everything listens on
127.0.0.1.
"""

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import trustme

from adapters.smtp_mailer import SmtpConfig, SmtpMailer
from benchmarks import infra
from domain.message import Email

HOST = "127.0.0.1"
MODES = ("pooled", "fresh")
EMAIL = Email(
    sender="bench@example.org",
    to="sink@example.com",
    subject="Pool benchmark",
    body="A short message, as most transactional mail is.\n" * 10,
    message_id="<bench@example.org>",
    date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
)


@dataclass(frozen=True, slots=True)
class Round:
    """One mode's run: delivered messages/s, connections the sink saw opened, CPU milliseconds
    per message of the sender and of the sink."""

    rate: float
    opened: int
    sender_cpu_ms: float
    sink_cpu_ms: float


async def deliver(config: SmtpConfig, messages: int, concurrency: int) -> float:
    """Seconds for ``messages`` sends, ``concurrency`` at a time, from ``start`` to ``aclose``."""
    mailer = SmtpMailer(config)
    await mailer.start()
    remaining = iter(range(messages))

    async def sender() -> None:
        for _ in remaining:
            await mailer.send(EMAIL)

    started = time.perf_counter()
    try:
        await asyncio.gather(*(sender() for _ in range(concurrency)))
    finally:
        await mailer.aclose()
    return time.perf_counter() - started


async def one_round(sink: infra.SmtpSink, config: SmtpConfig, messages: int) -> Round:
    before, cpu_before = sink.stats(), time.process_time()
    elapsed = await deliver(config, messages, config.pool_size)
    sender_cpu = time.process_time() - cpu_before
    after = sink.stats()
    if after.messages - before.messages != messages:
        raise RuntimeError(f"the sink got {after.messages - before.messages} of {messages}")
    return Round(
        rate=messages / elapsed,
        opened=after.connections - before.connections,
        sender_cpu_ms=sender_cpu / messages * 1000,
        sink_cpu_ms=(after.cpu_s - before.cpu_s) / messages * 1000,
    )


async def measure(
    sink: infra.SmtpSink, config: SmtpConfig, messages: int, rounds: int
) -> dict[str, list[Round]]:
    """``rounds`` rounds of each mode, alternating, after a warm-up of both."""
    configs = {"pooled": config, "fresh": replace(config, max_messages_per_connection=1)}
    for mode_config in configs.values():
        await one_round(sink, mode_config, min(messages, 200))
    results: dict[str, list[Round]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode in MODES:
            results[mode].append(await one_round(sink, configs[mode], messages))
    return results


@dataclass(frozen=True, slots=True)
class Summary:
    """One security's figures: median rates (messages/s) and CPU ms per message of each mode,
    connections opened per round, and the median and quartiles of the paired rounds' ratios."""

    pooled: Round
    fresh: Round
    ratio: float
    ratio_quartiles: tuple[float, float]


def summarize(rounds: dict[str, list[Round]]) -> Summary:
    ratios = [
        pooled.rate / fresh.rate
        for pooled, fresh in zip(rounds["pooled"], rounds["fresh"], strict=True)
    ]
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return Summary(
        pooled=_median_round(rounds["pooled"]),
        fresh=_median_round(rounds["fresh"]),
        ratio=statistics.median(ratios),
        ratio_quartiles=(quartiles[0], quartiles[2]),
    )


def _median_round(rounds: list[Round]) -> Round:
    return Round(
        rate=statistics.median(r.rate for r in rounds),
        opened=statistics.median_low(r.opened for r in rounds),
        sender_cpu_ms=statistics.median(r.sender_cpu_ms for r in rounds),
        sink_cpu_ms=statistics.median(r.sink_cpu_ms for r in rounds),
    )


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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="messages per round and mode")
    parser.add_argument("--concurrency", type=int, default=4, help="deliveries at once = pool size")
    parser.add_argument("--rounds", type=int, default=15, help="rounds per mode (medians shown)")
    parser.add_argument("--sink", choices=("minimal", "aiosmtpd"), default="minimal")
    parser.add_argument("--sender-cpu", type=int, default=0)
    parser.add_argument("--sink-cpu", type=int, default=1)
    parser.add_argument(
        "--security", default="none,starttls", help="comma-separated: none, starttls"
    )
    args = parser.parse_args()
    os.sched_setaffinity(0, {args.sender_cpu})
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mailroom-smtp-pool-") as tmp:
        ca = trustme.CA()
        ca_file, certificate_file = Path(tmp, "ca.pem"), Path(tmp, "server.pem")
        ca.cert_pem.write_to_path(str(ca_file))
        ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(certificate_file))
        sink = infra.SmtpSink(args.sink_cpu, Path(tmp), args.sink, tls_cert=certificate_file)
        try:
            all_configs = configs(sink.port, ca_file, args.concurrency)
            results = {
                security: asyncio.run(
                    measure(sink, all_configs[security], args.messages, args.rounds)
                )
                for security in args.security.split(",")
            }
        finally:
            sink.stop()
    print_table(results, args, load_before, os.getloadavg()[0])


def print_table(
    results: dict[str, dict[str, list[Round]]],
    args: argparse.Namespace,
    load_before: float,
    load_after: float,
) -> None:
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.sink} sink on CPU {args.sink_cpu}, "
        f"sender on CPU {args.sender_cpu}; {args.messages} messages per round, "
        f"{args.concurrency} at once, {args.rounds} rounds per mode; "
        f"load average {load_before:.1f} before, {load_after:.1f} after"
    )
    print(
        "| security | pooled msg/s | new connection per message msg/s | ratio (quartiles) "
        "| sender CPU ms/msg (pooled / per message) | sink CPU ms/msg (pooled / per message) "
        "| connections per round (pooled / per message) |"
    )
    print("|---|---|---|---|---|---|---|")
    for security, rounds in results.items():
        summary = summarize(rounds)
        pooled, fresh = summary.pooled, summary.fresh
        low, high = summary.ratio_quartiles
        print(
            f"| {security} | {pooled.rate:,.0f} | {fresh.rate:,.0f} "
            f"| {summary.ratio:.2f}x ({low:.2f} to {high:.2f}) "
            f"| {pooled.sender_cpu_ms:.3f} / {fresh.sender_cpu_ms:.3f} "
            f"| {pooled.sink_cpu_ms:.3f} / {fresh.sink_cpu_ms:.3f} "
            f"| {pooled.opened:,} / {fresh.opened:,} |"
        )


if __name__ == "__main__":
    main()
