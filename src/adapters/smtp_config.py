"""How the SMTP mailer connects: ``SmtpConfig``, and the warnings a risky one deserves at start."""

from dataclasses import dataclass, field
from typing import Final, Literal

Security = Literal["none", "starttls", "tls"]

DEADLINE_TIMEOUTS: Final = 4
"""Unless ``deadline_s`` is given, the whole exchange of one message may take this many
``timeout_s`` (waiting for a pooled connection included)."""

IMPLICIT_TLS_PORT: Final = 465  # RFC 8314 §3.3 (submissions)
SUBMISSION_PORT: Final = 587  # RFC 6409 §3.1, upgraded with STARTTLS (RFC 3207)


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """Where and how to connect, and how connections are pooled.

    ``security``: ``"none"`` (plain text), ``"starttls"`` (upgrade after connecting; a server that
    does not offer STARTTLS is a permanent failure, never a silent downgrade), ``"tls"`` (implicit
    TLS). Certificates are verified against the system store plus ``ca_file`` (PEM) unless
    ``validate_certs`` is False. ``username`` None means no AUTH; AUTH over ``security="none"`` is
    refused (``ValueError``) unless ``allow_plain_auth``. ``timeout_s`` bounds connecting, the
    greeting, the TLS handshake and each command; ``deadline_s`` (None: ``DEADLINE_TIMEOUTS``
    times ``timeout_s``) bounds one whole delivery. ``local_hostname`` is the EHLO name (None:
    this host's FQDN, looked up once off the event loop).

    Pool: at most ``pool_size`` connections, each used by one delivery at a time; one is replaced
    after ``max_messages_per_connection`` messages or ``idle_s`` seconds unused.
    Raises ``ValueError`` for an impossible combination.
    """

    host: str
    port: int
    security: Security
    username: str | None
    password: str | None = field(repr=False)
    timeout_s: float
    validate_certs: bool = True
    ca_file: str | None = None
    local_hostname: str | None = None
    allow_plain_auth: bool = False
    deadline_s: float | None = None
    pool_size: int = 4
    max_messages_per_connection: int = 100
    idle_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.host or any(char.isspace() or not char.isprintable() for char in self.host):
            raise ValueError("host must be a host name or address without spaces")
        if self.security not in ("none", "starttls", "tls"):
            raise ValueError(f"security must be none, starttls or tls, not {self.security!r}")
        if self.sends_password_in_clear and not self.allow_plain_auth:
            raise ValueError(PLAIN_AUTH_REFUSED)
        positive = {
            "timeout_s": self.timeout_s,
            "deadline_s": self.effective_deadline_s,
            "pool_size": self.pool_size,
            "max_messages_per_connection": self.max_messages_per_connection,
            "idle_s": self.idle_s,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ValueError(f"{name} must be positive")

    @property
    def effective_deadline_s(self) -> float:
        if self.deadline_s is not None:
            return self.deadline_s
        return self.timeout_s * DEADLINE_TIMEOUTS

    @property
    def sends_password_in_clear(self) -> bool:
        return self.username is not None and self.security == "none"


PLAIN_AUTH_REFUSED: Final = (
    "an SMTP username is set but the connection is not encrypted "
    "(MAILROOM_SMTP_SECURITY=none): AUTH would send the password in clear text; "
    "use MAILROOM_SMTP_SECURITY=starttls or tls, or set MAILROOM_SMTP_ALLOW_PLAIN_AUTH=true"
)


def config_warnings(config: SmtpConfig) -> list[str]:
    """What deserves a warning at start: certificates not verified, a port that usually speaks
    the other kind of TLS, credentials allowed over plain text. Never mentions the password."""
    warnings = []
    if not config.validate_certs:
        warnings.append(
            "MAILROOM_SMTP_VALIDATE_CERTS=false: the SMTP server's certificate is not verified, "
            "so anyone on the path can pose as the server (use only for test servers)"
        )
    if config.port == IMPLICIT_TLS_PORT and config.security != "tls":
        warnings.append(
            f"MAILROOM_SMTP_PORT={config.port} usually expects implicit TLS "
            f"(MAILROOM_SMTP_SECURITY=tls), not {config.security}"
        )
    if config.port == SUBMISSION_PORT and config.security == "tls":
        warnings.append(
            f"MAILROOM_SMTP_PORT={config.port} usually expects STARTTLS "
            "(MAILROOM_SMTP_SECURITY=starttls), not implicit TLS"
        )
    if config.sends_password_in_clear:
        warnings.append(
            "MAILROOM_SMTP_ALLOW_PLAIN_AUTH=true: the SMTP password is sent unencrypted"
        )
    return warnings
