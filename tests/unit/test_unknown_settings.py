"""``MAILROOM_*`` variables that are no setting (typos) are found, with the setting meant."""

from pathlib import Path

import pytest
from pydantic_settings import EnvSettingsSource

from entrypoints.settings import Settings, setting_names, unknown_setting_warnings


@pytest.fixture(autouse=True)
def _no_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A working directory without a ``.env`` file, unless a test writes one."""
    monkeypatch.chdir(tmp_path)


def test_a_typo_is_named_with_the_setting_probably_meant() -> None:
    warnings = unknown_setting_warnings({"MAILROOM_SMPT_HOST": "smtp.example.com"})

    assert warnings == [
        "MAILROOM_SMPT_HOST in the environment is not a setting and is ignored;"
        " did you mean MAILROOM_SMTP_HOST?"
    ]


def test_a_name_close_to_no_setting_is_named_without_a_suggestion() -> None:
    (warning,) = unknown_setting_warnings({"MAILROOM_BANANA": "1"})

    assert warning == "MAILROOM_BANANA in the environment is not a setting and is ignored"


def test_known_settings_in_any_case_and_other_variables_are_not_reported() -> None:
    environ = {
        "MAILROOM_SMTP_HOST": "smtp.example.com",
        "mailroom_store": "redis",  # Settings reads names case-insensitively
        "Mailroom_Max_Attempts": "3",
        "HOME": "/root",
        "SMPT_HOST": "x",
        "XMAILROOM_SMPT_HOST": "x",
    }

    assert unknown_setting_warnings(environ) == []


def test_every_unknown_name_is_reported_once_and_no_value_is_shown() -> None:
    environ = {
        "MAILROOM_SMTP_PASWORD": "hunter2-secret",
        "mailroom_redis_ur": "redis://user:secret@host/0",
        "MAILROOM_SMTP_HOST": "smtp.example.com",
    }

    warnings = unknown_setting_warnings(environ)

    assert warnings == [
        "MAILROOM_SMTP_PASWORD in the environment is not a setting and is ignored;"
        " did you mean MAILROOM_SMTP_PASSWORD?",
        "mailroom_redis_ur in the environment is not a setting and is ignored;"
        " did you mean MAILROOM_REDIS_URL?",
    ]
    assert not any("secret" in warning for warning in warnings)


def test_unknown_names_in_the_dotenv_file_are_reported_too(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "MAILROOM_STORE=memory\nMAILROOM_MAX_ATEMPTS=3\nOTHER_TOOL=1\n", encoding="utf-8"
    )

    assert unknown_setting_warnings({}) == [
        "MAILROOM_MAX_ATEMPTS in .env is not a setting and is ignored;"
        " did you mean MAILROOM_MAX_ATTEMPTS?"
    ]


def test_setting_names_are_exactly_the_names_pydantic_settings_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each listed name fills exactly one field, and every field is filled by a listed name."""
    filled: set[str] = set()
    for name in sorted(setting_names()):
        monkeypatch.setenv(name, "probe")
        source = EnvSettingsSource(Settings)
        fields = {
            field_name
            for field_name, field in Settings.model_fields.items()
            if source.get_field_value(field, field_name)[0] == "probe"
        }
        monkeypatch.delenv(name)
        assert len(fields) == 1, (name, fields)
        filled |= fields

    assert filled == set(Settings.model_fields)
