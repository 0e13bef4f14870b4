"""Real Mailroom processes for tests: ``mailroom serve|api|worker`` started from the venv's
console script with a clean environment, stopped with SIGTERM or killed with SIGKILL."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.integration.net import free_port

MAILROOM = shutil.which("mailroom", path=str(Path(sys.executable).parent)) or "mailroom"


class MailroomProcess:
    """One ``mailroom`` command running in the background; its output goes to ``log_path``."""

    def __init__(
        self,
        command: list[str],
        env: Mapping[str, str],
        cwd: Path,
        log_path: Path,
        base_url: str | None = None,
    ) -> None:
        self.log_path = log_path
        self.base_url = base_url
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [MAILROOM, *command],
            env={**clean, **env},
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_healthy(self, timeout_s: float = 15.0) -> None:
        assert self.base_url is not None, "only serve and api answer HTTP"
        base_url = self.base_url
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mailroom exited early:\n{self.output}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"mailroom not healthy after {timeout_s}s:\n{self.output}")

    def stop(self, timeout_s: float = 40.0) -> int:
        """SIGTERM, then wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        finally:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log.close()


@contextmanager
def mailroom(
    command: str, env: Mapping[str, str], cwd: Path, *extra: str
) -> Iterator[MailroomProcess]:
    """Runs ``mailroom <command>`` for the block; HTTP commands are waited on until healthy."""
    env = dict(env)
    args = [command, *extra]
    base_url = None
    if command in ("serve", "api"):
        port = free_port()
        args += ["--port", str(port)]
        base_url = f"http://127.0.0.1:{port}"
    log_path = cwd / f"mailroom-{command}-{time.monotonic_ns()}.log"
    proc = MailroomProcess(args, env, cwd, log_path, base_url)
    try:
        if base_url:
            proc.wait_until_healthy()
        yield proc
    finally:
        proc.kill()
