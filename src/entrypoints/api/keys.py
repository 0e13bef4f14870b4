"""API keys: how they are made, configured and checked (no FastAPI here; see ``auth``).

A key is ``secrets.token_urlsafe(32)`` (256 random bits). The service stores only its SHA-256:
``MAILROOM_API_KEYS`` is a comma-separated list of ``name:sha256hex``; the name becomes the owner
of every task created with that key.

Checking hashes the presented key once and compares the digest with *every* configured digest
using ``hmac.compare_digest`` (constant time in the content, no early exit), so the time taken
tells nothing about which key, or which bytes of a digest, came close. (A dict lookup of the
digest would be safe too, as an attacker cannot choose digests, but the argument is longer.)
"""

import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Mapping
from typing import Final

NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A key's name: a letter or digit, then up to 63 letters, digits, dots, dashes, underscores."""

_DIGEST: Final = re.compile(r"[0-9a-fA-F]{64}")


class AuthenticationFailed(Exception):
    """No key, or not a configured one; ``missing`` tells which (RFC 6750 §3.1: a request with no
    credentials gets no error code, a wrong key gets ``invalid_token``)."""

    def __init__(self, *, missing: bool) -> None:
        super().__init__("missing API key" if missing else "invalid API key")
        self.missing = missing


def new_key() -> str:
    """A fresh random key: 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    """The SHA-256 of ``key`` (UTF-8), as 64 lower-case hex digits: what ``MAILROOM_API_KEYS``
    holds."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_api_keys(text: str) -> dict[str, str]:
    """``name:sha256hex,...`` as ``{name: lower-case hex}``; blanks around items are ignored.

    Raises ``ValueError`` naming the item's position, never its value (it may be a key pasted by
    mistake, and the message may reach logs).
    """
    keys: dict[str, str] = {}
    for position, item in enumerate((part.strip() for part in text.split(",")), start=1):
        if not item:
            continue
        name, _, digest = item.partition(":")
        if not NAME.fullmatch(name) or not _DIGEST.fullmatch(digest):
            raise ValueError(
                f"entry {position} is not name:sha256hex (64 hex digits: the SHA-256 of the key,"
                " not the key; `mailroom keys new NAME` prints one)"
            )
        if name in keys:
            raise ValueError(f"entry {position} repeats a name")
        keys[name] = digest.lower()
    return keys


class ApiKeys:
    """The configured keys. ``required`` is False when there are none (the API is open)."""

    def __init__(self, hashes: Mapping[str, str]) -> None:
        self._digests = [(name, bytes.fromhex(digest)) for name, digest in hashes.items()]

    @property
    def required(self) -> bool:
        return bool(self._digests)

    def owner(self, presented: str | None) -> str | None:
        """The name of the key ``presented``; None when no keys are required (whatever was
        presented). Raises ``AuthenticationFailed``."""
        if not self._digests:
            return None
        if not presented:
            raise AuthenticationFailed(missing=True)
        digest = hashlib.sha256(presented.encode()).digest()
        owner = None
        for name, expected in self._digests:
            if hmac.compare_digest(digest, expected):
                owner = name
        if owner is None:
            raise AuthenticationFailed(missing=False)
        return owner


class UnsafeBinding(Exception):
    """The API would listen beyond this machine with no API keys."""


def startup_check(host: str, *, keys_configured: bool, auth_disabled: bool) -> str | None:
    """A warning to log when the API starts open (no keys), or None when keys protect it.

    Open is allowed on a loopback address (``127.0.0.0/8``, ``::1``, ``localhost``), or anywhere
    when ``auth_disabled`` (``MAILROOM_AUTH=disabled``) says so on purpose; any other address
    without keys raises ``UnsafeBinding`` with a one-line message saying what to set.
    """
    if auth_disabled:
        ignored = " (MAILROOM_API_KEYS is ignored)" if keys_configured else ""
        return f"MAILROOM_AUTH=disabled: the API accepts requests without an API key{ignored}"
    if keys_configured:
        return None
    if not is_loopback(host):
        raise UnsafeBinding(
            f"refusing to listen on {host} without API keys: set MAILROOM_API_KEYS (see"
            " `mailroom keys new NAME`), bind to 127.0.0.1, or set MAILROOM_AUTH=disabled"
        )
    return f"no MAILROOM_API_KEYS: the API on {host} is open to every local process"


def is_loopback(host: str) -> bool:
    """True for a loopback IP address or ``localhost``; a host name is not resolved."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
