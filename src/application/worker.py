"""The delivery loop: lease entries from the queue, deliver them concurrently, acknowledge them.

At-least-once: an entry is acknowledged only after ``DeliverEmail`` recorded an outcome (a
terminal state, a reschedule, or nothing left to do). An entry whose handling raised stays leased
and is handed to a worker again after the visibility timeout. While a delivery runs, its lease is
extended every third of the visibility timeout, so a slow but live delivery is not taken over.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from application.errors import StoreUnavailable
from application.ports import Lease, TaskQueue

log = logging.getLogger(__name__)

Deliver = Callable[[Lease], Awaitable[object]]


class DeliveryWorker:
    """Runs up to ``concurrency`` deliveries at once until ``stop`` is set.

    On stop it reads nothing more, waits up to ``grace_s`` seconds for deliveries in flight, then
    cancels the rest; their entries stay unacknowledged for another worker to reclaim.
    ``visibility_timeout_s`` is the queue's; ``backoff_max_s`` caps the pause after the queue
    could not be reached (it doubles from 0.1 s on each consecutive failure).
    """

    def __init__(
        self,
        *,
        queue: TaskQueue,
        deliver: Deliver,
        concurrency: int,
        visibility_timeout_s: float,
        grace_s: float,
        poll_s: float = 1.0,
        backoff_max_s: float = 5.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._queue = queue
        self._deliver = deliver
        self._concurrency = concurrency
        self._extend_every_s = max(visibility_timeout_s / 3, 0.05)
        self._grace_s = grace_s
        self._poll_s = poll_s
        self._backoff_max_s = backoff_max_s
        self._in_flight: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            if len(self._in_flight) >= self._concurrency:
                await self._until_a_slot_frees_or(stop)
                continue
            try:
                leases = await self._receive(stop)
            except StoreUnavailable as exc:
                failures += 1
                pause = min(self._backoff_max_s, 0.1 * 2 ** min(failures, 10))
                log.warning("queue unavailable, retrying in %.1fs: %s", pause, exc)
                await _sleep_unless(stop, pause)
                continue
            failures = 0
            for lease in leases:
                self._start(lease)
        await self._drain()

    async def _receive(self, stop: asyncio.Event) -> list[Lease]:
        receiving = asyncio.ensure_future(
            self._queue.receive(self._concurrency - len(self._in_flight), self._poll_s)
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not receiving.done():
            # Stopping while the queue was blocked waiting for entries: whatever it would have
            # leased stays in the queue (an entry leased but not handled is reclaimed later).
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving
            return []
        return list(receiving.result())

    async def _until_a_slot_frees_or(self, stop: asyncio.Event) -> None:
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({*self._in_flight, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()

    def _start(self, lease: Lease) -> None:
        task = asyncio.create_task(self._handle(lease), name=f"deliver:{lease.task_id}")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _handle(self, lease: Lease) -> None:
        extender = asyncio.create_task(self._keep_extending(lease))
        try:
            await self._deliver(lease)
            await self._queue.ack(lease)
        except asyncio.CancelledError:
            log.warning(
                "delivery cancelled at shutdown; its queue entry stays unacknowledged",
                extra={"task_id": lease.task_id},
            )
            raise
        except Exception:
            log.exception(
                "delivery failed; entry left for reclaim", extra={"task_id": lease.task_id}
            )
        finally:
            extender.cancel()

    async def _keep_extending(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self._extend_every_s)
            try:
                await self._queue.extend(lease)
            except StoreUnavailable as exc:
                log.warning("could not extend lease: %s", exc, extra={"task_id": lease.task_id})

    async def _drain(self) -> None:
        if not self._in_flight:
            return
        log.info(
            "waiting up to %.1fs for %d deliveries in flight", self._grace_s, len(self._in_flight)
        )
        _, pending = await asyncio.wait(set(self._in_flight), timeout=self._grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
