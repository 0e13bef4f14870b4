"""API keys: their configuration format, the constant-time check, and when the API may be open."""

import hashlib

import pytest

from entrypoints.api.keys import (
    ApiKeys,
    AuthenticationFailed,
    UnsafeBinding,
    is_loopback,
    key_hash,
    new_key,
    parse_api_keys,
    startup_check,
)
from entrypoints.settings import Settings

KEY = "s3cret-key-for-billing"
OTHER = "another-key-for-reports"
HASHES = {"billing": key_hash(KEY), "reports": key_hash(OTHER)}


def test_a_new_key_is_random_url_safe_text_and_its_entry_is_its_sha256() -> None:
    first, second = new_key(), new_key()

    assert first != second
    assert len(first) >= 43
    assert all(c.isalnum() or c in "-_" for c in first)
    assert key_hash(first) == hashlib.sha256(first.encode()).hexdigest()


def test_the_setting_is_comma_separated_names_and_hashes() -> None:
    text = f" billing:{HASHES['billing'].upper()} , reports:{HASHES['reports']},"

    assert parse_api_keys(text) == HASHES
    assert parse_api_keys("") == {}


@pytest.mark.parametrize(
    "text",
    [
        f"billing:{KEY}",  # the key itself instead of its hash
        "billing",
        f":{'a' * 64}",
        f"bad name:{'a' * 64}",
        f"billing:{'a' * 63}",
        f"billing:{'g' * 64}",
        f"billing:{'a' * 64},billing:{'b' * 64}",
    ],
)
def test_a_malformed_entry_is_refused_without_echoing_it(text: str) -> None:
    with pytest.raises(ValueError, match="entry") as raised:
        parse_api_keys(text)
    assert KEY not in str(raised.value)
    assert "a" * 63 not in str(raised.value)


def test_the_setting_is_checked_at_start_and_kept_out_of_the_settings_repr() -> None:
    with pytest.raises(ValueError, match="sha256hex"):
        Settings(api_keys=f"billing:{KEY}")
    settings = Settings(api_keys=f"billing:{HASHES['billing']}")
    assert settings.api_key_hashes == {"billing": HASHES["billing"]}
    assert HASHES["billing"] not in repr(settings)


def test_auth_disabled_ignores_the_configured_keys() -> None:
    settings = Settings(api_keys=f"billing:{HASHES['billing']}", auth="disabled")

    assert settings.api_key_hashes == {}


def test_a_configured_key_names_its_owner() -> None:
    keys = ApiKeys(HASHES)

    assert keys.required
    assert keys.owner(KEY) == "billing"
    assert keys.owner(OTHER) == "reports"


@pytest.mark.parametrize(("presented", "missing"), [(None, True), ("", True), ("nope", False)])
def test_a_missing_or_unknown_key_fails(presented: str | None, missing: bool) -> None:
    with pytest.raises(AuthenticationFailed) as raised:
        ApiKeys(HASHES).owner(presented)
    assert raised.value.missing is missing


def test_a_hash_is_not_a_key() -> None:
    with pytest.raises(AuthenticationFailed):
        ApiKeys(HASHES).owner(HASHES["billing"])


def test_without_keys_everyone_is_the_open_owner() -> None:
    keys = ApiKeys({})

    assert not keys.required
    assert keys.owner(None) is None
    assert keys.owner("anything") is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
def test_other_addresses(host: str) -> None:
    assert not is_loopback(host)


def test_an_open_api_beyond_loopback_refuses_to_start_with_one_line() -> None:
    with pytest.raises(UnsafeBinding) as raised:
        startup_check("0.0.0.0", keys_configured=False, auth_disabled=False)
    message = str(raised.value)
    assert "\n" not in message
    assert "MAILROOM_API_KEYS" in message
    assert "MAILROOM_AUTH=disabled" in message


def test_an_open_api_on_loopback_starts_with_a_warning() -> None:
    warning = startup_check("127.0.0.1", keys_configured=False, auth_disabled=False)

    assert warning is not None
    assert "open" in warning


def test_keys_or_an_explicit_disable_allow_any_address() -> None:
    assert startup_check("0.0.0.0", keys_configured=True, auth_disabled=False) is None
    warning = startup_check("0.0.0.0", keys_configured=False, auth_disabled=True)
    assert warning is not None
    assert "MAILROOM_AUTH=disabled" in warning
