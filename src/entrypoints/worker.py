"""Running the delivery worker: inside the API process (``serve``) or alone (``worker``).

SIGTERM or SIGINT stops reading new entries; deliveries in flight get
``MAILROOM_SHUTDOWN_GRACE_SECONDS`` to finish; the rest stay in the queue for another worker to
reclaim (Redis mode) and the process exits 0.
"""

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from entrypoints import gc_tuning
from entrypoints.container import Container, build_container, provide, resources_open
from entrypoints.settings import Settings

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def running_worker(container: Container) -> AsyncIterator[asyncio.Event]:
    """Runs the container's delivery worker in the background while the block runs; on exit
    stops it and waits for it (the worker itself bounds the wait by the grace period)."""
    stop = asyncio.Event()
    worker = await provide(container.delivery_worker)
    runner = asyncio.create_task(worker.run(stop), name="delivery-worker")
    runner.add_done_callback(_log_crash)
    try:
        yield stop
    finally:
        stop.set()
        await runner


def _log_crash(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("delivery worker stopped unexpectedly", exc_info=task.exception())


async def run_worker(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """``mailroom worker``: deliver until SIGTERM/SIGINT (or ``stop``), then shut down cleanly."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with (
        resources_open(build_container(settings)) as container,
        running_worker(container) as worker_stop,
    ):
        gc_tuning.tune()
        await stop.wait()
        log.info("stopping: no new deliveries; waiting for those in flight")
        worker_stop.set()
