"""``create_app``: the FastAPI application, its container and its lifespan.

The lifespan opens the container's resources (the Redis client), prepares the queue, in
``serve`` mode runs the delivery worker in the same process, and tunes the garbage collector
(``gc_tuning``); at shutdown it stops the worker
(in-flight deliveries get the grace period) and closes the resources.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from entrypoints import gc_tuning
from entrypoints.api import auth, operations, routes, task_routes
from entrypoints.api.errors import install_error_handlers
from entrypoints.api.limits import MaxBodySize
from entrypoints.api.media import JsonBodiesOnly
from entrypoints.api.ratelimit import rate_limit_dependencies
from entrypoints.api.request_id import RequestId
from entrypoints.container import Container, build_container, provide, resources_open
from entrypoints.docs import SWAGGER_UI_PARAMETERS, install_openapi
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
                    gc_tuning.tune()
                    yield
            else:
                gc_tuning.tune()
                yield

    limited = settings.rate_limit is not None
    rate_limit = (
        rate_limit_dependencies(partial(provide, container.rate_limit), auth.current_owner)
        if limited
        else []
    )
    # FastAPIOffline: /docs with its assets served by Mailroom (entrypoints.docs). The task
    # routes are the app's own (route_table: no include_router wrapper on the hot paths).
    app = FastAPIOffline(
        routes=[
            *routes.routes.router(rate_limit).routes,
            *task_routes.routes.router(rate_limit).routes,
        ],
        title="Mailroom",
        version="0.1.0",
        summary="Accept email tasks over HTTP, deliver them over SMTP, poll their status.",
        lifespan=lifespan,
        redoc_url=None,  # ReDoc's sidebar always loads a logo from cdn.redoc.ly
        swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
    )
    app.state.container = container
    app.state.use_cases = {}
    app.include_router(operations.router)
    install_error_handlers(app)
    install_openapi(app, rate_limited=limited)
    app.add_middleware(MaxBodySize, max_bytes=settings.max_request_bytes)
    app.add_middleware(JsonBodiesOnly)  # 415 before the body is read
    app.add_middleware(RequestId)  # outermost: every answer carries X-Request-ID
    return app
