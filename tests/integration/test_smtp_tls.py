"""STARTTLS and implicit TLS against aiosmtpd with trustme certificates: verification against the
CA file, certificate failures as permanent, never an automatic upgrade, start-up warnings."""

import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pydantic
import pytest

from adapters.smtp_config import SmtpConfig, config_warnings
from adapters.smtp_mailer import SmtpMailer
from application.errors import PermanentDeliveryError
from domain.message import Email
from entrypoints.settings import Settings
from tests.integration.fixtures.smtp_server import (
    HOST,
    ServerCertificates,
    SmtpMailerFactory,
    SmtpTestServer,
    SmtpTestServerFactory,
    make_certificates,
)

EMAIL = Email(
    sender="mailroom@example.org",
    to="user@example.com",
    subject="Über TLS",
    body="Encrypted on the way.\n",
    message_id="<tls-1@example.org>",
    date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
)
TLS_MODES = ["starttls", "tls"]


@pytest.mark.parametrize("security", TLS_MODES)
async def test_delivers_over_tls_verified_against_the_ca_file(
    security: str,
    smtp_server_factory: SmtpTestServerFactory,
    smtp_mailer_factory: SmtpMailerFactory,
    server_certificates: ServerCertificates,
) -> None:
    # The STARTTLS server refuses MAIL before the upgrade, so a delivery proves it happened.
    server = smtp_server_factory(security=security, certificates=server_certificates)
    mailer = smtp_mailer_factory(
        server.port, security=security, ca_file=str(server_certificates.ca_file)
    )

    receipt = await mailer.send(EMAIL)

    [received] = server.messages
    assert received.message["Subject"] == "Über TLS"
    assert receipt.reply is not None
    assert receipt.reply.code == 250


@pytest.mark.parametrize("security", TLS_MODES)
async def test_a_certificate_the_system_store_does_not_trust_fails_permanently(
    security: str,
    smtp_server_factory: SmtpTestServerFactory,
    smtp_mailer_factory: SmtpMailerFactory,
    server_certificates: ServerCertificates,
) -> None:
    server = smtp_server_factory(security=security, certificates=server_certificates)

    with pytest.raises(PermanentDeliveryError) as caught:
        await smtp_mailer_factory(server.port, security=security).send(EMAIL)

    assert "certificate" in caught.value.reason
    assert server.messages == []


async def test_a_certificate_for_another_name_fails_permanently(
    smtp_server_factory: SmtpTestServerFactory,
    smtp_mailer_factory: SmtpMailerFactory,
    tmp_path: Path,
) -> None:
    certificates = make_certificates(tmp_path, names=("mail.example.test",))
    server = smtp_server_factory(security="tls", certificates=certificates)
    mailer = smtp_mailer_factory(server.port, security="tls", ca_file=str(certificates.ca_file))

    with pytest.raises(PermanentDeliveryError) as caught:
        await mailer.send(EMAIL)

    assert "certificate" in caught.value.reason
    assert server.messages == []


async def test_without_verification_a_test_certificate_is_accepted(
    smtp_server_factory: SmtpTestServerFactory,
    smtp_mailer_factory: SmtpMailerFactory,
    server_certificates: ServerCertificates,
) -> None:
    server = smtp_server_factory(security="starttls", certificates=server_certificates)

    await smtp_mailer_factory(server.port, security="starttls", validate_certs=False).send(EMAIL)

    assert len(server.messages) == 1


async def test_security_none_never_upgrades_on_its_own(
    smtp_server_factory: SmtpTestServerFactory,
    smtp_mailer_factory: SmtpMailerFactory,
    server_certificates: ServerCertificates,
) -> None:
    # The server offers STARTTLS and insists on it; aiosmtplib's automatic STARTTLS would comply.
    server = smtp_server_factory(security="starttls", certificates=server_certificates)

    with pytest.raises(PermanentDeliveryError) as caught:
        await smtp_mailer_factory(server.port, security="none").send(EMAIL)

    assert caught.value.code == 530
    assert server.messages == []


async def test_starttls_required_but_not_offered_fails_permanently(
    smtp_server: SmtpTestServer, smtp_mailer_factory: SmtpMailerFactory
) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        await smtp_mailer_factory(smtp_server.port, security="starttls").send(EMAIL)

    assert "STARTTLS" in caught.value.reason
    assert smtp_server.messages == []


def config(**changes: object) -> SmtpConfig:
    base = SmtpConfig(HOST, 25, "none", None, None, timeout_s=1.0, local_hostname="mailroom.test")
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"validate_certs": False, "security": "starttls"}, "VALIDATE_CERTS=false"),
        ({"port": 465, "security": "starttls"}, "implicit TLS"),
        ({"port": 465, "security": "none"}, "implicit TLS"),
        ({"port": 587, "security": "tls"}, "STARTTLS"),
        ({"username": "u", "password": "p", "allow_plain_auth": True}, "unencrypted"),
    ],
)
async def test_risky_settings_are_warned_about_at_start(
    changes: dict[str, object], expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    mailer = SmtpMailer(config(**changes))

    with caplog.at_level(logging.WARNING, logger="adapters.smtp_mailer"):
        await mailer.start()
    await mailer.aclose()

    [warning] = caplog.records
    assert expected in warning.getMessage()
    assert warning.levelno == logging.WARNING


@pytest.mark.parametrize(
    "changes",
    [
        {"port": 587, "security": "starttls"},
        {"port": 465, "security": "tls"},
        {"port": 25, "security": "none"},
    ],
)
def test_matching_settings_give_no_warning(changes: dict[str, object]) -> None:
    assert config_warnings(config(**changes)) == []


def test_a_ca_file_that_does_not_exist_is_an_invalid_setting(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="smtp_ca_file"):
        Settings(smtp_ca_file=tmp_path / "missing.pem")
