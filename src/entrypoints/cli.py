"""The ``mailroom`` command: ``serve`` (API and workers), ``api`` (API only), ``worker``,
``keys new NAME`` (a fresh API key and its ``MAILROOM_API_KEYS`` entry).

An invalid setting stops the command at start with one line naming it, exit code 2; so does a
``--host``/``--port`` that cannot be bound (``serve``, ``api``), before anything else starts. A
``MAILROOM_*`` variable that is no setting (a typo) is logged as a warning and ignored.
"""

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import socket
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import ValidationError

from entrypoints.api import keys
from entrypoints.logging_setup import configure_logging
from entrypoints.settings import Settings, unknown_setting_warnings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailroom", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "HTTP API and delivery workers in one process"),
        ("api", "HTTP API only (Redis mode: workers run elsewhere)"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("--host", help="bind address (default MAILROOM_HOST, 127.0.0.1)")
        command.add_argument("--port", type=int, help="port (default MAILROOM_PORT, 8000)")
    worker = commands.add_parser(
        "worker", help="delivery workers only (needs MAILROOM_STORE=redis)"
    )
    worker.add_argument(
        "--concurrency", type=int, help="deliveries at once (MAILROOM_WORKER_CONCURRENCY)"
    )
    key_commands = commands.add_parser("keys", help="API keys").add_subparsers(
        dest="keys", required=True
    )
    new_key = key_commands.add_parser(
        "new", help="print a fresh random key and its MAILROOM_API_KEYS entry"
    )
    new_key.add_argument("name", help="the key's name: owner of the tasks created with it")
    return parser


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, ``overrides`` (command-line options; None: not given)
    taking precedence and checked alike; on an invalid one, print one line naming it, exit 2."""
    try:
        given: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "MAILROOM_" + "_".join(str(part) for part in error["loc"]).upper()
        print(f"mailroom: invalid setting {name}: {error['msg']}", file=sys.stderr)
        sys.exit(2)


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "keys":
        _new_key(args.name)
        return
    overrides = {k: v for k, v in vars(args).items() if k != "command"}
    if "concurrency" in overrides:
        overrides["worker_concurrency"] = overrides.pop("concurrency")
    settings = load_settings(**overrides)
    configure_logging(settings.log_level, settings.log_format)
    for warning in unknown_setting_warnings():
        logging.getLogger("mailroom").warning(warning)
    sockets: list[socket.socket] = []
    if args.command != "worker":
        _check_auth(settings)
        sockets = _bind(settings.host, settings.port)  # before anything starts
    _share_metrics(settings.metrics_dir)
    try:
        if args.command == "worker":
            _run_worker(settings)
        else:
            _serve(settings, sockets, run_workers=args.command == "serve")
    finally:
        from entrypoints.metrics import mark_process_dead

        mark_process_dead(os.getpid())


def _share_metrics(metrics_dir: Path | None) -> None:
    """``MAILROOM_METRICS_DIR``: prometheus-client's multiprocess mode, which it reads from
    ``PROMETHEUS_MULTIPROC_DIR`` when first imported (later than this, by ``entrypoints.app``
    or ``entrypoints.worker``)."""
    if metrics_dir is not None:
        metrics_dir.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())


class _Server(uvicorn.Server):
    """uvicorn's server, except that a SIGTERM or SIGINT that led to a clean shutdown ends the
    process with exit code 0 (uvicorn re-raises the signal after shutting down), and that it
    logs where it listens also when given its sockets (which uvicorn leaves to the caller)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            for sock in sockets or ():
                host, port = sock.getsockname()[:2]
                where = f"[{host}]:{port}" if sock.family == socket.AF_INET6 else f"{host}:{port}"
                logging.getLogger("uvicorn.error").info(
                    "Uvicorn running on http://%s (Press CTRL+C to quit)", where
                )

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                self._captured_signals.clear()


def _new_key(name: str) -> None:
    """``mailroom keys new NAME``: the key (shown once, never stored) and the entry to add."""
    if not keys.NAME.fullmatch(name):
        sys.exit(
            "mailroom: a key name is 1 to 64 letters, digits, '.', '-' or '_',"
            " starting with a letter or digit"
        )
    key = keys.new_key()
    print(f"API key for {name!r} (shown only now; give it to the client, keep it secret):")
    print(f"  {key}")
    print("Add this entry to MAILROOM_API_KEYS (entries are comma-separated):")
    print(f"  {name}:{keys.key_hash(key)}")


def _check_auth(settings: Settings) -> None:
    """Refuse to serve an open API beyond loopback (exit 2); warn when it is open at all."""
    try:
        warning = keys.startup_check(
            settings.host,
            keys_configured=bool(keys.parse_api_keys(settings.api_keys)),
            auth_disabled=settings.auth == "disabled",
        )
    except keys.UnsafeBinding as exc:
        print(f"mailroom: {exc}", file=sys.stderr)
        sys.exit(2)
    if warning is not None:
        logging.getLogger("mailroom").warning(warning)


def _bind(host: str, port: int) -> list[socket.socket]:
    """Sockets bound (not yet listening) to ``host:port``, one per address ``host`` resolves to
    (an empty host: all interfaces), with the options asyncio's own server would use; uvicorn
    serves on them. When one cannot be bound (the port is taken, the host is unknown or not
    this machine's, the port needs privileges), prints one line naming ``host:port`` and why,
    and exits with code 2."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    sockets: list[socket.socket] = []
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        for family, kind, proto, _, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except (OSError, OverflowError) as exc:
        for sock in sockets:
            sock.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            reason += " (another server listens there; choose a port with --port or MAILROOM_PORT)"
        print(f"mailroom: cannot listen on {where}: {reason}", file=sys.stderr)
        sys.exit(2)
    return sockets


def _serve(settings: Settings, sockets: list[socket.socket], *, run_workers: bool) -> None:
    from entrypoints.app import create_app

    app = create_app(settings, run_workers=run_workers)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's records go to Mailroom's handler (entrypoints.logging_setup)
        loop="uvloop",
        http="httptools",
        lifespan="on",
    )
    server = _Server(config)
    server.run(sockets=sockets)
    if not server.started:
        sys.exit(3)  # uvicorn logged why (the app failed to start)


def _run_worker(settings: Settings) -> None:
    from entrypoints.worker import run_worker

    if settings.store != "redis":
        sys.exit(
            "mailroom: `mailroom worker` needs MAILROOM_STORE=redis (memory mode: use `serve`)"
        )
    asyncio.run(run_worker(settings))
