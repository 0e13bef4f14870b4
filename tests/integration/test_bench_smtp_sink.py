"""The benchmarks' minimal SMTP sink speaks STARTTLS when given a certificate, and only then (the
end-to-end benchmark runs it without one, as before); the pool benchmark's sink process counts
messages and connections for both implementations, over STARTTLS too."""

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest
import pytest_asyncio
import trustme
from benchmarks.infra import SmtpSink
from benchmarks.smtp_pool import EMAIL, Round, configs, summarize
from benchmarks.smtp_sink import Counter, MinimalSmtp

from adapters.smtp_mailer import SmtpMailer
from tests.integration.fixtures.smtp_server import HOST, ServerCertificates

SinkFactory = Callable[[ServerCertificates | None], Awaitable[tuple[int, Counter]]]
"""Starts a minimal sink in the test's event loop (offering STARTTLS with the certificates, if
any): ``(port, counter)``."""


@pytest_asyncio.fixture
async def sink_factory() -> AsyncIterator[SinkFactory]:
    servers: list[asyncio.Server] = []

    async def start(certificates: ServerCertificates | None) -> tuple[int, Counter]:
        counter = Counter()
        tls = None if certificates is None else certificates.server_context
        server = await asyncio.get_running_loop().create_server(
            lambda: MinimalSmtp(counter, tls), HOST, 0
        )
        servers.append(server)
        return server.sockets[0].getsockname()[1], counter

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def message(number: int) -> EmailMessage:
    built = EmailMessage()
    built["From"], built["To"], built["Subject"] = "a@example.com", "b@example.com", f"#{number}"
    built.set_content(f"message {number}\n.leading dot\n")
    return built


async def test_with_a_certificate_the_sink_offers_starttls_once_and_counts_over_tls(
    sink_factory: SinkFactory,
    server_certificates: ServerCertificates,
) -> None:
    port, counter = await sink_factory(server_certificates)
    smtp = aiosmtplib.SMTP(
        hostname=HOST,
        port=port,
        start_tls=False,
        local_hostname="t.test",
        cert_bundle=str(server_certificates.ca_file),
    )
    await smtp.connect()
    await smtp.ehlo()
    assert smtp.supports_extension("starttls")

    await smtp.starttls()
    await smtp.ehlo()
    for number in range(3):
        errors, reply = await smtp.send_message(message(number))
        assert (errors, reply.split()[0]) == ({}, "2.0.0")

    assert smtp.get_transport_info("sslcontext") is not None
    assert not smtp.supports_extension("starttls")  # RFC 3207 §4.2: not offered again
    await smtp.quit()
    assert (counter.messages, counter.connections) == (3, 1)


async def test_without_a_certificate_the_sink_neither_offers_nor_accepts_starttls(
    sink_factory: SinkFactory,
) -> None:
    port, counter = await sink_factory(None)
    async with aiosmtplib.SMTP(
        hostname=HOST, port=port, start_tls=False, local_hostname="t.test"
    ) as smtp:
        assert not smtp.supports_extension("starttls")
        refused = await smtp.execute_command(b"STARTTLS")
        assert refused.code == 502
        await smtp.send_message(message(1))
    assert (counter.messages, counter.connections) == (1, 1)


async def test_the_mailer_pool_delivers_through_the_sink_over_starttls(
    sink_factory: SinkFactory,
    server_certificates: ServerCertificates,
) -> None:
    port, counter = await sink_factory(server_certificates)
    config = configs(port, server_certificates.ca_file, pool_size=2)["starttls"]
    mailer = SmtpMailer(config)
    try:
        receipts = await asyncio.gather(
            *(mailer.send(replace(EMAIL, message_id=f"<{n}@example.org>")) for n in range(10))
        )
    finally:
        await mailer.aclose()

    assert {receipt.reply.code for receipt in receipts if receipt.reply} == {250}
    assert counter.messages == 10
    assert counter.connections == 2


@pytest.mark.skipif(
    shutil.which("taskset") is None, reason="the sink process is pinned with taskset"
)
@pytest.mark.parametrize("impl", ["minimal", "aiosmtpd"])
async def test_the_pool_benchmark_sink_process_counts_messages_and_connections(
    impl: str, tmp_path: Path
) -> None:
    ca = trustme.CA()
    ca_file, certificate_file = tmp_path / "ca.pem", tmp_path / "server.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ca.issue_cert(HOST).private_key_and_cert_chain_pem.write_to_path(str(certificate_file))
    sink = SmtpSink(0, tmp_path, impl, tls_cert=certificate_file)
    try:
        for security, config in configs(sink.port, ca_file, pool_size=1).items():
            before = await asyncio.to_thread(sink.stats)
            mailer = SmtpMailer(replace(config, max_messages_per_connection=2))
            try:
                for number in range(3):
                    email = replace(EMAIL, date=datetime(2024, 1, 2, 3, 4, number, tzinfo=UTC))
                    await mailer.send(email)
            finally:
                await mailer.aclose()
            after = await asyncio.to_thread(sink.stats)
            assert (after.messages - before.messages, security) == (3, security)
            assert (after.connections - before.connections, security) == (2, security)
            assert after.cpu_s >= before.cpu_s
    finally:
        sink.stop()


def test_the_pool_benchmark_pairs_each_pooled_round_with_the_next_round_per_message() -> None:
    def at(rate: float, cpu_ms: float = 0.2) -> Round:
        return Round(rate=rate, opened=4, sender_cpu_ms=cpu_ms, sink_cpu_ms=0.1)

    # Load halves both rounds of the second pair: the pair's ratio stays 2.
    summary = summarize(
        {
            "pooled": [at(2000), at(1000), at(3000, 0.3)],
            "fresh": [at(1000), at(500), at(1000, 0.6)],
        }
    )

    assert summary.ratio == 2.0
    assert summary.ratio_quartiles == (2.0, 3.0)
    assert (summary.pooled.rate, summary.fresh.rate) == (2000, 1000)
    assert (summary.pooled.sender_cpu_ms, summary.fresh.sender_cpu_ms) == (0.2, 0.2)
