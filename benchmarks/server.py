"""Run one benchmark variant as an HTTP server: ``python -m benchmarks.server VARIANT --port P``.

Variants: ``ceiling`` (``benchmarks.ceiling``), ``tutorial`` (``benchmarks.tutorial``),
``serve`` and ``api`` (Mailroom's ``create_app``, the app ``mailroom serve`` and ``mailroom api``
run, configured from the ``MAILROOM_*`` environment). Every variant is served the same way: one
uvicorn process (no workers), uvloop and httptools as ``mailroom serve`` uses, access log off,
log level warning, on 127.0.0.1 only. The launcher is needed because the ``mailroom`` command has
no switch for uvicorn's access log.

``--prefill N`` (``serve`` with the memory store only) first adds N completed tasks through the
store (``benchmarks.prefill.fill_memory``) and writes a sample of their ids, one per line, to
``--ids-out``.
"""

import argparse
import asyncio
from pathlib import Path
from typing import Any

import uvicorn
import uvloop
from fastapi import FastAPI

VARIANTS = ("ceiling", "tutorial", "serve", "api")


def build(variant: str) -> tuple[FastAPI, Any]:
    """The app of ``variant`` and, for Mailroom's variants, its container (else None)."""
    if variant == "ceiling":
        from benchmarks.ceiling import create_app

        return create_app(), None
    if variant == "tutorial":
        from benchmarks.tutorial import create_app as create_tutorial

        return create_tutorial(), None
    from entrypoints.app import create_app as create_mailroom
    from entrypoints.container import build_container
    from entrypoints.settings import Settings

    settings = Settings()
    container = build_container(settings)
    return create_mailroom(settings, container=container, run_workers=variant == "serve"), container


async def prefill_memory(container: Any, count: int, ids_out: Path | None) -> None:
    """Fill the container's memory store with ``count`` completed tasks; write sampled ids."""
    from adapters.memory import InMemoryTaskQueue, InMemoryTaskStore
    from benchmarks.prefill import fill_memory

    store, queue = container.store(), container.queue()
    if not isinstance(store, InMemoryTaskStore) or not isinstance(queue, InMemoryTaskQueue):
        raise SystemExit("--prefill fills the memory store; the harness prefills Redis itself")
    ids = await fill_memory(store, queue, count)
    if ids_out is not None:
        await asyncio.to_thread(ids_out.write_text, "\n".join(ids) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variant", choices=VARIANTS)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--prefill", type=int, default=0, help="completed tasks to store first")
    parser.add_argument("--ids-out", type=Path, help="where to write a sample of prefilled ids")
    args = parser.parse_args()
    app, container = build(args.variant)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=args.port,
        workers=None,
        loop="none",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        if args.prefill:
            await prefill_memory(container, args.prefill, args.ids_out)
        await server.serve()

    uvloop.run(serve())
    if not server.started:
        raise SystemExit(3)


if __name__ == "__main__":
    main()
