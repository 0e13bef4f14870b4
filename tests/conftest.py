"""Shared test set-up: a clean environment and the integration fixtures (real Redis, real SMTP)."""

import os

import pytest

pytest_plugins = [
    "tests.integration.fixtures.redis_server",
    "tests.integration.fixtures.smtp_server",
]


@pytest.fixture(autouse=True)
def _scrub_mailroom_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's MAILROOM_* settings."""
    for name in list(os.environ):
        if name.startswith("MAILROOM_"):
            monkeypatch.delenv(name)
