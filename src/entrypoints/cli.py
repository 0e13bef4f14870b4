"""The ``mailroom`` command: ``serve`` (API and workers), ``api`` (API only), ``worker``.

An invalid setting stops the command at start with one line naming it, exit code 2.
"""

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence

import uvicorn
from pydantic import ValidationError

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
    return parser


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; on an invalid one, print one line naming it and exit 2."""
    try:
        settings = Settings()
        return settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "MAILROOM_" + "_".join(str(part) for part in error["loc"]).upper()
        sys.exit(f"mailroom: invalid setting {name}: {error['msg']}")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k != "command"}
    if "concurrency" in overrides:
        overrides["worker_concurrency"] = overrides.pop("concurrency")
    settings = load_settings(**overrides)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if args.command == "worker":
        _run_worker(settings)
    else:
        _serve(settings, run_workers=args.command == "serve")


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


def _serve(settings: Settings, *, run_workers: bool) -> None:
    from entrypoints.app import create_app

    app = create_app(settings, run_workers=run_workers)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
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
