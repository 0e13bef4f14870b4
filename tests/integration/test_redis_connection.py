"""The hiredis-packing connection: what it sends is what redis-py would send, on a real Redis."""

import contextlib

import pytest
from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from adapters.redis_connection import HiredisPackingConnection, connection_class_for
from entrypoints.container import open_redis


@pytest.mark.parametrize(
    "args",
    [
        ("SET", "key", "value"),
        (
            "EVALSHA",
            "0" * 40,
            2,
            "k1",
            "k2",
            "text",
            b"\x00\xffbytes",
            12,
            -3,
            1.5,
            0.1 + 0.2,
            1e20,
            "",
        ),
        ("CONFIG GET", "maxmemory"),  # a command name with a space is split, as redis-py does
        ("SET", "grüße", "ünïcødé ✉"),
    ],
)
def test_packs_what_redis_py_packs(args: tuple[object, ...]) -> None:
    python, hiredis = Connection(), HiredisPackingConnection()

    assert b"".join(hiredis.pack_command(*args)) == b"".join(python.pack_command(*args))
    assert b"".join(hiredis.pack_commands([args, args])) == b"".join(
        python.pack_commands([args, args])
    )


def test_only_plain_tcp_urls_get_it() -> None:
    assert connection_class_for("redis://127.0.0.1:6379/0") == {
        "connection_class": HiredisPackingConnection
    }
    assert connection_class_for("rediss://127.0.0.1:6380/0") == {}
    assert connection_class_for("unix:///run/redis.sock") == {}


async def test_mailroom_clients_use_it_against_a_real_redis(redis_url: str) -> None:
    async with contextlib.asynccontextmanager(open_redis)(redis_url, 2.0) as client:
        assert isinstance(client, Redis)
        assert client.connection_pool.connection_class is HiredisPackingConnection
        await client.set("packing:text", "grüße ✉")
        await client.hset("packing:hash", mapping={"n": 7, "f": 0.25, "b": b"\x00\xff"})
        pipe = client.pipeline(transaction=False)
        pipe.get("packing:text")
        pipe.hgetall("packing:hash")
        pipe.eval("return {ARGV[1], #KEYS}", 2, "a", "b", "argument")
        text, stored, scripted = await pipe.execute()

    assert text == "grüße ✉".encode()
    assert stored == {b"n": b"7", b"f": b"0.25", b"b": b"\x00\xff"}
    assert scripted == [b"argument", 2]
