"""SMTP AUTH against aiosmtpd: over STARTTLS and implicit TLS, a 535 that fails the task at once,
the refusal to send a password in clear text, and a password that never shows."""

import asyncio
import base64
import logging
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pydantic
import pytest

from adapters.smtp_config import SmtpConfig
from application.errors import PermanentDeliveryError
from domain.message import Email
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.integration.fixtures.smtp_server import (
    HOST,
    ServerCertificates,
    SmtpMailerFactory,
    SmtpTestServer,
    SmtpTestServerFactory,
)
from tests.integration.processes import MAILROOM

USER = "mailroom"
PASSWORD = "s3cret-Pa55-wörd"
EMAIL = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject="Authenticated",
    body="Sent after AUTH.\n",
    message_id="<auth-1@example.org>",
    date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
)


def password_forms(password: str) -> list[str]:
    """The password and the encodings AUTH LOGIN and AUTH PLAIN put on the wire."""
    return [
        password,
        base64.b64encode(password.encode()).decode(),
        base64.b64encode(f"\0{USER}\0{password}".encode()).decode(),
    ]


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_login_over_tls_delivers(
    security: str,
    smtp_server_factory: SmtpTestServerFactory,
    smtp_mailer_factory: SmtpMailerFactory,
    server_certificates: ServerCertificates,
) -> None:
    # The STARTTLS server offers AUTH only after the upgrade.
    server = smtp_server_factory(
        credentials=(USER, PASSWORD), security=security, certificates=server_certificates
    )
    mailer = smtp_mailer_factory(
        server.port,
        security=security,
        ca_file=str(server_certificates.ca_file),
        username=USER,
        password=PASSWORD,
    )

    await mailer.send(EMAIL)
    await mailer.send(EMAIL)

    assert len(server.messages) == 2
    assert server.auth_attempts == 1  # once per connection, not per message


async def test_an_empty_username_means_no_auth(
    smtp_server_factory: SmtpTestServerFactory,
    smtp_mailer_factory: SmtpMailerFactory,
    server_certificates: ServerCertificates,
) -> None:
    server = smtp_server_factory(
        credentials=(USER, PASSWORD), security="starttls", certificates=server_certificates
    )
    settings = Settings(mailer="smtp", smtp_username="", smtp_password=PASSWORD)
    assert settings.smtp_username == ""
    mailer = smtp_mailer_factory(
        server.port, security="starttls", ca_file=str(server_certificates.ca_file)
    )

    await mailer.send(EMAIL)

    assert (len(server.messages), server.auth_attempts) == (1, 0)


async def test_a_rejected_login_is_permanent_with_535_and_never_shows_the_password(
    smtp_server_factory: SmtpTestServerFactory,
    smtp_mailer_factory: SmtpMailerFactory,
    server_certificates: ServerCertificates,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = smtp_server_factory(
        credentials=(USER, "the-right-one"), security="starttls", certificates=server_certificates
    )
    mailer = smtp_mailer_factory(
        server.port,
        security="starttls",
        ca_file=str(server_certificates.ca_file),
        username=USER,
        password=PASSWORD,
    )

    with caplog.at_level(logging.DEBUG), pytest.raises(PermanentDeliveryError) as caught:
        await mailer.send(EMAIL)

    assert caught.value.code == 535
    assert "535" in caught.value.reason
    for form in password_forms(PASSWORD):
        assert form not in str(caught.value)
        assert form not in repr(caught.value.__cause__)
        assert form not in caplog.text
    assert server.messages == []


@pytest.fixture
async def service_with_a_wrong_password(
    smtp_server_factory: SmtpTestServerFactory, server_certificates: ServerCertificates
) -> AsyncIterator[tuple[httpx.AsyncClient, SmtpTestServer]]:
    """The whole service in this process (API and worker), delivering over STARTTLS with a
    password the server refuses, and up to 5 attempts per task."""
    server = smtp_server_factory(
        credentials=(USER, "the-right-one"), security="starttls", certificates=server_certificates
    )
    settings = Settings(
        mailer="smtp",
        smtp_port=server.port,
        smtp_security="starttls",
        smtp_ca_file=server_certificates.ca_file,
        smtp_username=USER,
        smtp_password=PASSWORD,
        smtp_local_hostname="mailroom.test",
        max_attempts=5,
        retry_base_seconds=0,
        retry_max_seconds=0,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://mailroom.test"
        ) as client,
    ):
        yield client, server


async def test_a_535_fails_the_task_at_once_and_its_status_hides_the_password(
    service_with_a_wrong_password: tuple[httpx.AsyncClient, SmtpTestServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, server = service_with_a_wrong_password
    payload = {"email": "user@example.com", "subject": "Hello", "body": "Hi"}

    with caplog.at_level(logging.DEBUG):
        task_id = (await client.post("/send-email", json=payload)).json()["task_id"]
        deadline = time.monotonic() + 15
        while (response := await client.get(f"/task/{task_id}/status")).json()[
            "status"
        ] != "failed":
            assert time.monotonic() < deadline, response.text
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # room for a retry storm, were there one

    status = response.json()
    assert status["attempts"] == 1
    assert "535" in status["error"]
    assert server.connections == 1
    for form in password_forms(PASSWORD):
        assert form not in response.text
        assert form not in caplog.text


def test_a_password_over_plain_text_is_an_invalid_setting() -> None:
    with pytest.raises(pydantic.ValidationError, match="MAILROOM_SMTP_ALLOW_PLAIN_AUTH"):
        Settings(mailer="smtp", smtp_username=USER, smtp_password=PASSWORD)


def test_a_password_over_plain_text_stops_the_service_at_start(tmp_path: Path) -> None:
    finished = subprocess.run(
        [MAILROOM, "serve"],
        env={
            "PATH": "/usr/bin:/bin",
            "MAILROOM_MAILER": "smtp",
            "MAILROOM_SMTP_USERNAME": USER,
            "MAILROOM_SMTP_PASSWORD": PASSWORD,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert finished.returncode == 2
    [line] = finished.stderr.strip().splitlines()
    assert "MAILROOM_SMTP_ALLOW_PLAIN_AUTH" in line
    assert "starttls" in line
    assert PASSWORD not in finished.stderr


def test_the_adapter_refuses_a_password_over_plain_text_too() -> None:
    with pytest.raises(ValueError, match="clear text"):
        SmtpConfig(HOST, 25, "none", USER, PASSWORD, timeout_s=1.0)


async def test_plain_text_auth_works_when_explicitly_allowed(
    smtp_server_factory: SmtpTestServerFactory, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    server = smtp_server_factory(credentials=(USER, PASSWORD))
    mailer = smtp_mailer_factory(
        server.port, username=USER, password=PASSWORD, allow_plain_auth=True
    )

    await mailer.send(EMAIL)

    assert (len(server.messages), server.auth_attempts) == (1, 1)


async def test_a_server_without_auth_fails_permanently_when_a_username_is_set(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    mailer = smtp_mailer_factory(
        smtp_server.port, username=USER, password=PASSWORD, allow_plain_auth=True
    )

    with pytest.raises(PermanentDeliveryError) as caught:
        await mailer.send(EMAIL)

    assert "AUTH" in caught.value.reason
    assert smtp_server.messages == []
