"""Settings, read once from the environment (prefix ``MAILROOM_``) and an optional ``.env`` file.

Every adapter gets its values from here; nothing else reads ``os.environ``.
"""

import difflib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from limits import parse_many
from pydantic import (
    AliasChoices,
    AliasPath,
    Field,
    FilePath,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, DotEnvSettingsSource, SettingsConfigDict

from adapters.smtp_config import PLAIN_AUTH_REFUSED
from domain.errors import InvalidEmail
from domain.message import require_bare_address
from entrypoints.api.keys import parse_api_keys


class Settings(BaseSettings):
    """Mailroom's settings; each field is ``MAILROOM_<FIELD NAME>`` in the environment."""

    model_config = SettingsConfigDict(
        env_prefix="MAILROOM_", env_file=".env", extra="ignore", frozen=True
    )

    # Where tasks live
    store: Literal["memory", "redis"] = "memory"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_timeout_seconds: PositiveFloat = 2.0
    key_prefix: str = Field(default="mailroom:", min_length=1)
    task_ttl_seconds: PositiveInt = 7 * 24 * 3600
    memory_max_tasks: PositiveInt = 100_000

    # How mail leaves
    mailer: Literal["smtp", "file", "fake"] = "file"
    outbox_dir: Path = Path("outbox")
    mail_from: str = "mailroom@localhost"
    message_id_domain: str | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: PositiveFloat = 30.0
    smtp_validate_certs: bool = True
    smtp_ca_file: FilePath | None = None
    smtp_local_hostname: str | None = None
    smtp_pool_size: PositiveInt = 4
    smtp_max_messages_per_connection: PositiveInt = 100
    smtp_idle_seconds: PositiveFloat = 30.0
    # After mailer, smtp_security and smtp_username: its check reads them.
    smtp_allow_plain_auth: bool = Field(default=False, validate_default=True)

    # Delivery
    worker_concurrency: PositiveInt = 10
    visibility_timeout_seconds: PositiveFloat = 60.0
    retry_base_seconds: float = Field(default=2.0, ge=0)
    retry_max_seconds: float = Field(default=300.0, ge=0)
    max_attempts: PositiveInt = 5
    shutdown_grace_seconds: float = Field(default=30.0, ge=0)

    # HTTP
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    max_request_bytes: PositiveInt = 10 * 1024 * 1024
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    # API keys and idempotency (see entrypoints.api.keys)
    api_keys: str = Field(default="", repr=False)
    auth: Literal["auto", "disabled"] = "auto"
    idempotency_ttl_seconds: PositiveInt = 24 * 3600

    # Operations
    log_format: Literal["json", "text"] = "json"
    rate_limit: str | None = Field(default=None, examples=["100/second", "6000/minute"])
    metrics_dir: Path | None = None

    @field_validator("smtp_allow_plain_auth")
    @classmethod
    def _no_password_in_clear_text(cls, allowed: bool, info: ValidationInfo) -> bool:
        """Refuse to start rather than send the SMTP password unencrypted, or fail every task."""
        data = info.data
        in_clear = data.get("smtp_username") and data.get("smtp_security") == "none"
        if data.get("mailer") == "smtp" and in_clear and not allowed:
            raise ValueError(PLAIN_AUTH_REFUSED)
        return allowed

    @field_validator("rate_limit")
    @classmethod
    def _one_rate_limit(cls, value: str | None) -> str | None:
        """One limit in the ``limits`` library's notation: ``<count>/<period>``, where the period
        is ``second``, ``minute``, ``hour`` or ``day`` (optionally preceded by a number)."""
        if value is None or not value.strip():
            return None
        try:
            parsed = parse_many(value)
        except ValueError:
            parsed = []
        if len(parsed) != 1:
            raise ValueError("expected one limit such as 100/second")
        return value.strip()

    @field_validator("mail_from")
    @classmethod
    def _mail_from_is_an_address(cls, value: str) -> str:
        """A bare ``local-part@domain``: checked at start, so a typo stops the service with one
        line instead of failing every accepted task."""
        try:
            require_bare_address("mail_from", value)
        except InvalidEmail as exc:
            raise ValueError(exc.reason) from None
        return value

    @field_validator("api_keys")
    @classmethod
    def _api_keys_are_hashes(cls, value: str) -> str:
        parse_api_keys(value)
        return value

    @property
    def api_key_hashes(self) -> dict[str, str]:
        """``{name: SHA-256 hex}`` from ``api_keys``; empty when authentication is disabled."""
        return {} if self.auth == "disabled" else parse_api_keys(self.api_keys)

    @property
    def sender_domain(self) -> str:
        """The domain used in Message-IDs: ``message_id_domain``, else the From address's domain."""
        return self.message_id_domain or self.mail_from.rpartition("@")[2] or "localhost"


def setting_names() -> frozenset[str]:
    """The environment name of every setting, upper-case (``MAILROOM_STORE``, ...): a field's
    validation alias when it has one (each choice, or a path's first name), else the prefix and
    the field name; both when the model also accepts field names."""
    config = Settings.model_config
    prefix = config.get("env_prefix") or ""
    by_name = bool(config.get("populate_by_name") or config.get("validate_by_name"))
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
        for choice in choices:
            if isinstance(choice, AliasPath):
                names.add(str(choice.path[0]))
            elif isinstance(choice, str):
                names.add(choice)
        if alias is None or by_name:
            names.add(prefix + field_name)
    return frozenset(name.upper() for name in names)


def unknown_setting_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One line per ``MAILROOM_*`` variable that is no setting and so is ignored (a typo such as
    ``MAILROOM_SMPT_HOST``): those of ``environ`` (default: this process's environment), then
    those of the ``.env`` file Settings reads. Each line names the variable and where it was
    found and, when a setting's name is close (``difflib``), suggests it; values are never
    shown. Names compare case-insensitively, as Settings reads them. Empty when all are known."""
    environ = os.environ if environ is None else environ
    dotenv = DotEnvSettingsSource(Settings).env_vars  # the .env file(s), names lower-cased
    return [
        *_unknown("the environment", environ),
        *_unknown(".env", [name.upper() for name in dotenv]),
    ]


def _unknown(where: str, names: Iterable[str]) -> list[str]:
    prefix = (Settings.model_config.get("env_prefix") or "").upper()
    if not prefix:
        return []  # without a prefix, no name can be told to be meant for Mailroom
    known = setting_names()
    # Compared without the shared prefix, which would otherwise make every name look close.
    short = {name.removeprefix(prefix): name for name in known}
    lines = []
    for name in sorted(names):
        upper = name.upper()
        if not upper.startswith(prefix) or upper in known:
            continue
        line = f"{name} in {where} is not a setting and is ignored"
        close = difflib.get_close_matches(upper.removeprefix(prefix), short, n=1)
        if close:
            line += f"; did you mean {short[close[0]]}?"
        lines.append(line)
    return lines
