"""``mailroom keys new NAME`` and the start-up rule for an API without keys, as a user runs them."""

import hashlib
import os
import subprocess
from pathlib import Path

import httpx

from tests.integration.processes import MAILROOM, free_port, mailroom


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
    return subprocess.run(
        [MAILROOM, *args], env=clean | env, capture_output=True, text=True, timeout=30, check=False
    )


def test_keys_new_prints_a_key_and_the_entry_holding_its_sha256() -> None:
    result = run("keys", "new", "billing")

    assert result.returncode == 0, result.stderr
    lines = [line.strip() for line in result.stdout.splitlines()]
    key = lines[1]
    assert lines[3] == f"billing:{hashlib.sha256(key.encode()).hexdigest()}"
    assert run("keys", "new", "billing").stdout.splitlines()[1].strip() != key


def test_keys_new_refuses_a_name_that_cannot_be_an_entry() -> None:
    result = run("keys", "new", "bad name")

    assert result.returncode != 0
    assert "key name" in result.stderr


def test_an_open_api_refuses_to_listen_beyond_loopback() -> None:
    result = run("api", "--host", "0.0.0.0", "--port", str(free_port()))

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "MAILROOM_API_KEYS" in result.stderr
    assert "MAILROOM_AUTH=disabled" in result.stderr


def test_a_key_pasted_instead_of_its_hash_stops_the_start_without_echoing_it() -> None:
    result = run("api", MAILROOM_API_KEYS="billing:the-secret-key-itself")

    assert result.returncode != 0
    assert "MAILROOM_API_KEYS" in result.stderr
    assert "the-secret-key-itself" not in result.stderr + result.stdout


def test_a_served_api_with_keys_answers_only_to_them(tmp_path: Path) -> None:
    key = "k-" + "x" * 40
    entry = f"billing:{hashlib.sha256(key.encode()).hexdigest()}"
    env = {"MAILROOM_API_KEYS": entry, "MAILROOM_MAILER": "fake"}

    with mailroom("serve", env=env, cwd=tmp_path) as proc:
        assert proc.base_url is not None
        anonymous = httpx.get(f"{proc.base_url}/tasks", timeout=5)
        keyed = httpx.get(
            f"{proc.base_url}/tasks", headers={"Authorization": f"Bearer {key}"}, timeout=5
        )
        output = proc.output

    assert anonymous.status_code == 401
    assert keyed.status_code == 200
    assert keyed.json() == {"tasks": [], "next_cursor": None}
    assert key not in output
