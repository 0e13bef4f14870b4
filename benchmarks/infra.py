"""Processes for the benchmark: each pinned to a CPU with ``taskset``, on 127.0.0.1 only, and
every wait bounded in time.

* ``Pinned``: a command on one CPU, output to a log file; ``stop`` is SIGTERM then SIGKILL.
* ``RedisServer``: a private ``redis-server`` with Mailroom's durable settings (``appendonly
  yes``, ``appendfsync always``) and automatic AOF rewrites off, so that no background rewrite
  lands in a measurement.
* ``http_server``: a ``benchmarks.server`` variant, waited on until ``/healthz`` answers.
* ``smtp_sink``: ``benchmarks.smtp_sink``, with ``delivered()`` reading its count.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from tests.integration.net import free_port

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll ``condition`` every 10 ms; the seconds it took, or ``TimeoutError``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{what}: not reached within {timeout_s:g} s")
        time.sleep(0.01)
    return time.monotonic() - started


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` (``VmRSS`` in ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time process ``pid`` has used so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def missing_tools() -> list[str]:
    """Commands the harness needs that are not on PATH."""
    return [tool for tool in ("wrk", "taskset", "redis-server") if shutil.which(tool) is None]


class Pinned:
    """``command`` running on CPU ``cpu`` (``taskset -c``), its output appended to ``log``."""

    def __init__(
        self, command: Sequence[str], cpu: int, log: Path, env: Mapping[str, str] | None = None
    ) -> None:
        self.log = log
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                ["taskset", "-c", str(cpu), *command],
                env={**clean, **(env or {})},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


class RedisServer:
    """A private, durable ``redis-server`` on CPU ``cpu``."""

    def __init__(self, workdir: Path, cpu: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        options = [
            *("--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", str(workdir)),
            *("--appendonly", "yes", "--appendfsync", "always"),
            *("--auto-aof-rewrite-percentage", "0", "--maxmemory-policy", "noeviction"),
        ]
        self._process = Pinned(["redis-server", *options], cpu, workdir / "redis.log")
        self.client = redis.Redis.from_url(self.url, socket_timeout=120)
        try:
            wait_until(self._answers, 15, "redis-server answering PING")
        except TimeoutError:
            self.stop()
            raise

    def _answers(self) -> bool:
        if not self._process.alive():
            raise RuntimeError(f"redis-server exited:\n{self._process.output()}")
        try:
            return bool(self.client.ping())
        except redis.ConnectionError:
            return False

    def used_memory(self) -> int:
        """``used_memory`` of ``INFO memory``, in bytes."""
        return int(self.client.info("memory")["used_memory"])

    def flush(self) -> None:
        """Empty every database and drop the append-only file's history (``BGREWRITEAOF`` of an
        empty data set), so the next measurement starts clean."""
        self.client.flushall()
        self.client.bgrewriteaof()
        wait_until(self._rewrite_done, 120, "AOF rewrite after FLUSHALL")

    def _rewrite_done(self) -> bool:
        info = self.client.info("persistence")
        return not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]

    def stop(self) -> None:
        self.client.close()
        self._process.stop()


@contextmanager
def http_server(
    variant: str,
    cpu: int,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
    start_timeout_s: float = 30.0,
) -> Iterator[tuple[str, Pinned]]:
    """``benchmarks.server VARIANT`` on CPU ``cpu`` for the block: ``(base_url, process)``."""
    port = free_port()
    log = workdir / f"server-{variant}-{time.monotonic_ns()}.log"
    command = [PYTHON, "-m", "benchmarks.server", variant, "--port", str(port), *extra]
    server = Pinned(command, cpu, log, env)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(server, base_url), start_timeout_s, f"{variant} healthy")
        yield base_url, server
    finally:
        server.stop()


def _healthy(server: Pinned, base_url: str) -> bool:
    if not server.alive():
        raise RuntimeError(f"server exited:\n{server.output()}")
    try:
        return httpx.get(f"{base_url}/healthz", timeout=0.5).status_code == 200
    except httpx.TransportError:
        return False


@dataclass(frozen=True, slots=True)
class SinkStats:
    """What an SMTP sink counted so far, and its CPU seconds."""

    messages: int
    connections: int
    cpu_s: float


class SmtpSink:
    """``benchmarks.smtp_sink`` (implementation ``impl``) on CPU ``cpu``, offering STARTTLS with
    ``tls_cert`` when given; ``delivered()`` is its message count, ``stats()`` its counts and
    CPU seconds."""

    def __init__(
        self, cpu: int, workdir: Path, impl: str = "minimal", tls_cert: Path | None = None
    ) -> None:
        self.port, self._stats_port = free_port(), free_port()
        command = [PYTHON, "-m", "benchmarks.smtp_sink", "--port", str(self.port)]
        command += ["--stats-port", str(self._stats_port), "--impl", impl]
        if tls_cert is not None:
            command += ["--tls-cert", str(tls_cert)]
        self._process = Pinned(command, cpu, workdir / "smtp-sink.log")
        try:
            wait_until(self._listening, 15, "SMTP sink listening")
        except BaseException:
            self._process.stop()
            raise

    def _listening(self) -> bool:
        if not self._process.alive():
            raise RuntimeError(f"SMTP sink exited:\n{self._process.output()}")
        try:
            self.delivered()
        except OSError:
            return False
        return True

    def cpu_seconds(self) -> float:
        return cpu_seconds(self._process.pid)

    def delivered(self) -> int:
        return self.stats().messages

    def stats(self) -> SinkStats:
        with socket.create_connection(("127.0.0.1", self._stats_port), timeout=5) as connection:
            messages, _, connections = connection.makefile().readline().split()
        return SinkStats(int(messages), int(connections), self.cpu_seconds())

    def stop(self) -> None:
        self._process.stop()
