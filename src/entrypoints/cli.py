"""The ``mailroom`` command: ``serve`` (API and workers), ``api`` (API only), ``worker``,
``keys new NAME`` (a fresh API key and its ``MAILROOM_API_KEYS`` entry).

An invalid setting stops the command at start with one line naming it, exit code 2.
"""

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from entrypoints.api import keys
from entrypoints.logging_setup import configure_logging
from entrypoints.settings import Settings


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
    """Settings from the environment; on an invalid one, print one line naming it and exit 2."""
    try:
        settings = Settings()
        return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
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
    _share_metrics(settings.metrics_dir)
    try:
        if args.command == "worker":
            _run_worker(settings)
        else:
            _serve(settings, run_workers=args.command == "serve")
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
    process with exit code 0 (uvicorn re-raises the signal after shutting down)."""

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


def _serve(settings: Settings, *, run_workers: bool) -> None:
    from entrypoints.app import create_app

    _check_auth(settings)
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
    server.run()
    if not server.started:
        sys.exit(3)  # uvicorn logged why (the port is taken, the app failed to start)


def _run_worker(settings: Settings) -> None:
    from entrypoints.worker import run_worker

    if settings.store != "redis":
        sys.exit(
            "mailroom: `mailroom worker` needs MAILROOM_STORE=redis (memory mode: use `serve`)"
        )
    asyncio.run(run_worker(settings))
