"""``is_error``: Redis error codes recognised in every shape a script or command returns them."""

import pytest
from redis.exceptions import ResponseError

from adapters.redis_support import is_error


@pytest.mark.parametrize(
    "message",
    [
        # A command's own reply, and Redis 7's error from redis.call caught by pcall.
        "NOGROUP No such key 'q' or consumer group 'g' in XACK command",
        # Redis < 7: luaPushError puts the script's location first (caught by pcall).
        "@user_script: 52: NOGROUP No such key 'q' or consumer group 'g'",
        # An uncaught error from redis.call, as redis-py gives it (the "ERR " prefix stripped).
        "Error running script (call to f_0123abcd): @user_script:1: @user_script: 1: NOGROUP No"
        " such key 'q' or consumer group 'g'",
    ],
)
def test_recognises_the_code_in_every_shape(message: str) -> None:
    assert is_error(ResponseError(message), "NOGROUP")


@pytest.mark.parametrize(
    "message",
    [
        "BUSYGROUP Consumer Group name already exists",
        "NOGROUPS is not a code",
        "WRONGTYPE Operation against a key holding the wrong kind of value",
        "ERR the text mentions NOGROUP later on",
    ],
)
def test_other_errors_are_not_the_code(message: str) -> None:
    assert not is_error(ResponseError(message), "NOGROUP")
