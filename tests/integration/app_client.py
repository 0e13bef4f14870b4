"""The real HTTP app in process: an ``httpx.AsyncClient`` on its ASGI interface."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from entrypoints.app import create_app
from entrypoints.container import Container


@asynccontextmanager
async def app_client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the API-only app built on ``container`` (no lifespan, no workers)."""
    app = create_app(container.settings(), container=container, run_workers=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mailroom.test") as client:
        yield client
