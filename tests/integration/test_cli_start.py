"""What ``mailroom serve|api|worker`` says at start, as a user runs it: a port already in use is
one line and exit code 2 before anything starts; a mistyped ``MAILROOM_*`` variable is warned
about, naming the setting probably meant, and the service starts anyway."""

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.processes import MAILROOM, mailroom


def run(args: list[str], cwd: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """``mailroom ARGS`` with only ``env`` as its ``MAILROOM_*`` settings; and its run time, s."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
    started = time.monotonic()
    result = subprocess.run(
        [MAILROOM, *args],
        env=clean | env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, time.monotonic() - started


def json_records(output: str) -> list[dict[str, object]]:
    records = []
    for line in output.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 where another server listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


@pytest.mark.parametrize("command", ["serve", "api"])
def test_a_port_in_use_stops_the_start_with_one_line_before_anything_starts(
    command: str, busy_port: int, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"

    result, seconds = run(
        [command, "--port", str(busy_port)],
        tmp_path,
        MAILROOM_AUTH="disabled",  # no open-API warning: stderr holds only the refusal
        MAILROOM_METRICS_DIR=str(metrics_dir),
        # Redis mode against a Redis that is not there: starting would fail differently.
        MAILROOM_STORE="redis",
        MAILROOM_REDIS_URL="redis://127.0.0.1:1/0",
    )

    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert lines == [
        f"mailroom: cannot listen on 127.0.0.1:{busy_port}: Address already in use"
        " (another server listens there; choose a port with --port or MAILROOM_PORT)"
    ]
    assert "Started server process" not in result.stderr  # uvicorn never ran
    assert not metrics_dir.exists()  # nor did any of Mailroom's own start-up
    assert seconds < 10


def test_a_port_out_of_range_on_the_command_line_is_an_invalid_setting(tmp_path: Path) -> None:
    result, _ = run(["serve", "--port", "70000"], tmp_path)

    assert result.returncode == 2
    assert result.stderr.startswith("mailroom: invalid setting MAILROOM_PORT: ")
    assert result.stderr.count("\n") == 1


def test_a_mistyped_variable_is_warned_about_with_the_setting_meant(
    busy_port: int, tmp_path: Path
) -> None:
    result, _ = run(
        ["serve", "--port", str(busy_port)],
        tmp_path,
        MAILROOM_SMPT_HOST="smtp.example.com",
        MAILROOM_MAILER="fake",
    )

    warnings = [r for r in json_records(result.stderr) if r["level"] == "WARNING"]
    assert {
        "level": "WARNING",
        "logger": "mailroom",
        "message": "MAILROOM_SMPT_HOST in the environment is not a setting and is ignored;"
        " did you mean MAILROOM_SMTP_HOST?",
    }.items() <= warnings[0].items()
    assert not any("MAILROOM_MAILER" in str(r["message"]) for r in warnings)


def test_the_worker_warns_too(tmp_path: Path) -> None:
    result, _ = run(["worker"], tmp_path, MAILROOM_LOG_FORMAT="text", MAILROOM_CONCURENCY="4")

    assert (
        "WARNING mailroom MAILROOM_CONCURENCY in the environment is not a setting and is ignored"
        in result.stderr
    )
    assert result.returncode == 1  # then refuses memory mode, as before: the warning is no stop


def test_with_a_mistyped_variable_the_service_starts_and_serves_on_its_port(
    tmp_path: Path,
) -> None:
    env = {"MAILROOM_MAILER": "fake", "MAILROOM_LOG_FORMAT": "text", "MAILROOM_LOG_LEVL": "debug"}

    with mailroom("serve", env, tmp_path) as proc:
        assert proc.base_url is not None
        assert httpx.get(f"{proc.base_url}/healthz", timeout=5).status_code == 200
        assert proc.stop() == 0
        output = proc.output

    assert "MAILROOM_LOG_LEVL in the environment is not a setting" in output
    assert "did you mean MAILROOM_LOG_LEVEL?" in output
    assert f"Uvicorn running on {proc.base_url} (Press CTRL+C to quit)" in output
