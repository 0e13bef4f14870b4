"""Small pure helpers of the operations features: JSON media types, rate-limit storage URIs."""

import pytest

from entrypoints.api.media import is_json_media_type
from entrypoints.api.ratelimit import redis_storage_uri


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("APPLICATION/JSON;charset=UTF-8", True),
        ("application/merge-patch+json", True),
        ("application/problem+json; charset=utf-8", True),
        ("application/jsonx", False),
        ("application/json-seq", False),
        ("text/json", False),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("multipart/form-data; boundary=x", False),
        ("json", False),
        ("", False),
    ],
)
def test_json_media_types(content_type: str, accepted: bool) -> None:
    assert is_json_media_type(content_type) is accepted


@pytest.mark.parametrize(
    ("url", "uri"),
    [
        ("redis://127.0.0.1:6379/0", "async+redis://127.0.0.1:6379/0"),
        ("rediss://:pw@redis.example:6380/1", "async+rediss://:pw@redis.example:6380/1"),
        ("unix:///run/redis.sock?db=2", "async+redis+unix:///run/redis.sock?db=2"),
    ],
)
def test_the_rate_limit_storage_uses_the_same_redis(url: str, uri: str) -> None:
    assert redis_storage_uri(url) == uri
