"""Task ids: canonical version-4 UUIDs, unique, and never shared with a forked child."""

import os
import uuid

from adapters.task_ids import RandomUuids


def test_ids_are_canonical_version_4_uuids() -> None:
    ids = RandomUuids()

    for _ in range(1000):  # several refills of the 256-id buffer
        text = ids()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_ids_do_not_repeat() -> None:
    ids = RandomUuids()

    assert len({ids() for _ in range(20_000)}) == 20_000


def test_a_forked_child_draws_its_own_ids() -> None:
    ids = RandomUuids()
    ids()  # the buffer holds 255 more ids now
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.write(write, ids().encode())
        os._exit(0)
    os.close(write)
    _, status = os.waitpid(child, 0)
    from_child = os.read(read, 100).decode()
    os.close(read)

    assert status == 0
    assert from_child != ids()  # the parent's next id, from the buffer the child had too
