"""``create_app``: the FastAPI application, its container and its lifespan.

The lifespan opens the container's resources (the Redis client), prepares the queue, and in
``serve`` mode runs the delivery worker in the same process; at shutdown it stops the worker
(in-flight deliveries get the grace period) and closes the resources.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from entrypoints.api import routes
from entrypoints.api.errors import install_error_handlers
from entrypoints.api.limits import MaxBodySize
from entrypoints.container import Container, build_container, resources_open
from entrypoints.settings import Settings
from entrypoints.worker import running_worker

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    container: Container | None = None,
    run_workers: bool = True,
) -> FastAPI:
    """The app. ``run_workers=False`` gives the API alone (``mailroom api``)."""
    settings = settings or Settings()
    container = container or build_container(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with resources_open(container):
            if run_workers:
                async with running_worker(container):
                    yield
            else:
                yield

    app = FastAPI(
        title="Mailroom",
        version="0.1.0",
        summary="Accept email tasks over HTTP, deliver them over SMTP, poll their status.",
        lifespan=lifespan,
    )
    container.wire(modules=[routes])
    app.state.container = container
    app.include_router(routes.router)
    install_error_handlers(app)
    app.add_middleware(MaxBodySize, max_bytes=settings.max_request_bytes)
    return app
