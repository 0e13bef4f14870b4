import asyncio
from collections.abc import Sequence

import pytest

from application.errors import StoreUnavailable
from application.ports import Lease
from application.worker import DeliveryWorker


class ScriptedQueue:
    """A TaskQueue that hands out given leases, can fail ``receive``, and records acks/extends."""

    def __init__(self, leases: Sequence[Lease], *, failures: int = 0) -> None:
        self.waiting = list(leases)
        self.failures = failures
        self.acked: list[str] = []
        self.extended: list[str] = []
        self.receives: list[tuple[float, int]] = []  # (wait_s, leases handed out)
        self.calls = 0  # receives started, cancelled ones included

    async def receive(self, max_count: int, wait_s: float) -> Sequence[Lease]:
        self.calls += 1
        taken = await self._receive(max_count, wait_s)
        self.receives.append((wait_s, len(taken)))
        return taken

    async def _receive(self, max_count: int, wait_s: float) -> Sequence[Lease]:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("redis down")
        if not self.waiting:
            await asyncio.sleep(min(wait_s, 0.01))
            return []
        taken, self.waiting = self.waiting[:max_count], self.waiting[max_count:]
        return taken

    async def ack(self, lease: Lease) -> None:
        self.acked.append(lease.task_id)

    async def extend(self, lease: Lease) -> None:
        self.extended.append(lease.task_id)


def leases(n: int) -> list[Lease]:
    return [Lease(task_id=f"t{i}", entry_id=f"{i}-0") for i in range(n)]


async def run_until(worker: DeliveryWorker, condition: "asyncio.Event") -> None:
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(condition.wait(), timeout=5)
    stop.set()
    await asyncio.wait_for(running, timeout=5)


async def test_every_lease_is_delivered_and_acked_within_the_concurrency_limit() -> None:
    queue = ScriptedQueue(leases(25))
    running = peak = 0
    all_done = asyncio.Event()

    async def deliver(lease: Lease) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.005)
        running -= 1
        if len(queue.acked) == 24:
            all_done.set()

    worker = DeliveryWorker(
        queue=queue, deliver=deliver, concurrency=4, visibility_timeout_s=60, grace_s=1, poll_s=0.01
    )
    await run_until(worker, all_done)
    assert sorted(queue.acked) == sorted(f"t{i}" for i in range(25))
    assert peak == 4


async def test_a_slow_delivery_keeps_extending_its_lease() -> None:
    queue = ScriptedQueue(leases(1))
    done = asyncio.Event()

    async def deliver(lease: Lease) -> None:
        await asyncio.sleep(0.2)
        done.set()

    worker = DeliveryWorker(
        queue=queue, deliver=deliver, concurrency=1, visibility_timeout_s=0.15, grace_s=1
    )
    await run_until(worker, done)
    await asyncio.sleep(0.01)
    assert len(queue.extended) >= 3
    assert queue.acked == ["t0"]
    extended = len(queue.extended)
    await asyncio.sleep(0.15)  # three extension periods after the delivery: none happens
    assert len(queue.extended) == extended


async def test_waiting_entries_are_leased_without_blocking_and_only_an_empty_queue_blocks() -> None:
    queue = ScriptedQueue(leases(10))
    all_done = asyncio.Event()

    async def deliver(lease: Lease) -> None:
        await asyncio.sleep(0)
        if len(queue.acked) == 9:
            all_done.set()

    worker = DeliveryWorker(
        queue=queue, deliver=deliver, concurrency=3, visibility_timeout_s=60, grace_s=1, poll_s=0.01
    )
    await run_until(worker, all_done)
    handed_out = [wait_s for wait_s, count in queue.receives if count]
    assert sum(count for _, count in queue.receives) == 10
    assert handed_out
    assert set(handed_out) == {0.0}
    # Each blocking receive came right after a non-blocking one that found nothing.
    for index, (wait_s, _) in enumerate(queue.receives):
        if wait_s:
            assert wait_s == 0.01
            assert queue.receives[index - 1] == (0.0, 0)


async def test_a_full_worker_starts_the_next_delivery_as_soon_as_one_finishes() -> None:
    queue = ScriptedQueue(leases(3))
    release = [asyncio.Event() for _ in range(3)]
    started: list[str] = []
    third_started = asyncio.Event()

    async def deliver(lease: Lease) -> None:
        started.append(lease.task_id)
        if len(started) == 3:
            third_started.set()
        await release[int(lease.task_id[1:])].wait()

    worker = DeliveryWorker(
        queue=queue, deliver=deliver, concurrency=2, visibility_timeout_s=60, grace_s=1
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == ["t0", "t1"]
    release[1].set()
    await asyncio.wait_for(third_started.wait(), timeout=1)
    assert started == ["t0", "t1", "t2"]
    assert worker.in_flight == 2
    release[0].set()
    release[2].set()
    stop.set()
    await asyncio.wait_for(running, timeout=5)
    assert sorted(queue.acked) == ["t0", "t1", "t2"]


async def test_a_failed_delivery_is_not_acked_and_the_worker_goes_on() -> None:
    queue = ScriptedQueue(leases(2))
    second = asyncio.Event()

    async def deliver(lease: Lease) -> None:
        if lease.task_id == "t0":
            raise RuntimeError("adapter bug")
        second.set()

    worker = DeliveryWorker(
        queue=queue, deliver=deliver, concurrency=1, visibility_timeout_s=60, grace_s=1
    )
    await run_until(worker, second)
    await asyncio.sleep(0)
    assert queue.acked == ["t1"]


async def test_the_worker_backs_off_and_resumes_when_the_queue_returns() -> None:
    queue = ScriptedQueue(leases(1), failures=3)
    delivered = asyncio.Event()

    async def deliver(lease: Lease) -> None:
        delivered.set()

    worker = DeliveryWorker(
        queue=queue,
        deliver=deliver,
        concurrency=1,
        visibility_timeout_s=60,
        grace_s=1,
        backoff_max_s=0.05,
    )
    await run_until(worker, delivered)
    assert queue.failures == 0


@pytest.mark.parametrize(("grace_s", "acked"), [(1.0, ["t0"]), (0.05, [])])
async def test_stopping_lets_deliveries_finish_within_the_grace_period(
    grace_s: float, acked: list[str]
) -> None:
    queue = ScriptedQueue(leases(1))
    started = asyncio.Event()

    async def deliver(lease: Lease) -> None:
        started.set()
        await asyncio.sleep(0.2)

    worker = DeliveryWorker(
        queue=queue, deliver=deliver, concurrency=1, visibility_timeout_s=60, grace_s=grace_s
    )
    await run_until(worker, started)
    assert queue.acked == acked
    assert worker.in_flight == 0


async def test_a_stop_during_the_non_blocking_receive_starts_no_blocking_one() -> None:
    stop = asyncio.Event()

    class StoppingQueue(ScriptedQueue):
        async def _receive(self, max_count: int, wait_s: float) -> Sequence[Lease]:
            if wait_s == 0:
                stop.set()  # e.g. SIGTERM while the read was on its way
            return await super()._receive(max_count, wait_s)

    queue = StoppingQueue([])

    async def deliver(lease: Lease) -> None:
        raise AssertionError("nothing to deliver")

    worker = DeliveryWorker(
        queue=queue, deliver=deliver, concurrency=2, visibility_timeout_s=60, grace_s=1
    )
    await asyncio.wait_for(worker.run(stop), timeout=5)
    assert queue.receives == [(0.0, 0)]
    assert queue.calls == 1  # no blocking receive started (it could lease an entry)


async def test_a_stop_event_set_and_cleared_leaves_a_worker_that_still_waits_for_entries() -> None:
    queue = ScriptedQueue([])

    async def deliver(lease: Lease) -> None:
        raise AssertionError("nothing to deliver")

    worker = DeliveryWorker(
        queue=queue, deliver=deliver, concurrency=2, visibility_timeout_s=60, grace_s=1, poll_s=0.05
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.01)
    stop.set()
    stop.clear()  # before the worker looked: it goes on
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(running, timeout=5)
    # Blocking receives of up to 10 ms each (ScriptedQueue), not a spin of instant ones.
    assert queue.calls < 100
