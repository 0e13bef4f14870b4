"""redis-py's asyncio connection, packing commands with hiredis (C) instead of Python.

redis-py's synchronous client packs commands with ``hiredis.pack_command`` whenever hiredis is
installed (``redis.connection.HiredisRespSerializer``); its asyncio ``Connection`` always packs in
Python, which costs 13 to 15 us for a script call with a dozen arguments here, against about 2 us
in hiredis (benchmarks: docs/benchmarks.md, "Redis client"). ``HiredisPackingConnection`` is that
``Connection`` with the synchronous client's hiredis serializer; everything else (parsing,
timeouts, retries, health checks) is redis-py's own. Pass it as ``connection_class`` for
``redis://`` URLs (``connection_class_for``); TLS and Unix-socket URLs keep redis-py's classes.
"""

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio.connection import Connection
from redis.connection import HiredisRespSerializer
from redis.utils import HIREDIS_AVAILABLE


class HiredisPackingConnection(Connection):
    """A TCP ``redis.asyncio.Connection`` whose ``pack_command`` / ``pack_commands`` use hiredis
    (RESP2/RESP3 request framing is the same: an array of bulk strings). Raises redis-py's
    ``DataError`` for an argument hiredis cannot encode, as the synchronous client does."""

    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: Any) -> list[bytes]:
        packed: list[bytes] = self._serializer.pack(*args)
        return packed

    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[bytes]:
        return [b"".join(self._serializer.pack(*command)[0] for command in commands)]


def connection_class_for(url: str) -> dict[str, Any]:
    """``{"connection_class": HiredisPackingConnection}`` for a ``redis://`` URL when hiredis is
    installed, else ``{}`` (redis-py chooses: ``rediss://`` TLS, ``unix://`` sockets)."""
    if HIREDIS_AVAILABLE and urlsplit(url).scheme == "redis":
        return {"connection_class": HiredisPackingConnection}
    return {}
