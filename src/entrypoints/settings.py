"""Settings, read once from the environment (prefix ``MAILROOM_``) and an optional ``.env`` file.

Every adapter gets its values from here; nothing else reads ``os.environ``.
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    smtp_ca_file: Path | None = None
    smtp_local_hostname: str | None = None

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

    @property
    def sender_domain(self) -> str:
        """The domain used in Message-IDs: ``message_id_domain``, else the From address's domain."""
        return self.message_id_domain or self.mail_from.rpartition("@")[2] or "localhost"
