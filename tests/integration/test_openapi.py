"""The OpenAPI document describes every operation: a summary, an example for every JSON body it
takes or gives, and every error answer the app can give on it (the routes' own, and those of the
middleware and dependencies: 401, 413, 415, 422, 429, 503 with ``Retry-After``)."""

from typing import Any

import pytest

from entrypoints.api.keys import key_hash, new_key
from entrypoints.app import create_app
from entrypoints.settings import Settings

OPERATIONS = {"/healthz", "/readyz", "/metrics"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    settings = Settings(mailer="fake", rate_limit="10/second", api_keys=f"a:{key_hash(new_key())}")
    schema: dict[str, Any] = create_app(settings, run_workers=False).openapi()
    return schema


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def has_example(document: dict[str, Any], media: dict[str, Any]) -> bool:
    if "example" in media or "examples" in media:
        return True
    ref = media.get("schema", {}).get("$ref", "")
    schema = document["components"]["schemas"].get(ref.rpartition("/")[2], {})
    return "examples" in schema or "example" in schema


def test_every_operation_is_listed_with_a_summary(document: dict[str, Any]) -> None:
    listed = {path for path, _, _ in operations(document)}
    assert listed >= {"/send-email", "/task/{task_id}/status", *OPERATIONS}
    for path, method, operation in operations(document):
        assert operation.get("summary"), f"{method} {path} has no summary"


def test_every_json_body_taken_or_given_has_an_example(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        bodies = [("request", operation.get("requestBody", {}))]
        bodies += [(status, answer) for status, answer in operation["responses"].items()]
        for what, body in bodies:
            for media_type, media in body.get("content", {}).items():
                assert has_example(document, media), f"{method} {path} {what} {media_type}"


def test_every_error_answer_is_described(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        answers = operation["responses"]
        where = f"{method.upper()} {path}"
        if "requestBody" in operation:
            assert {"413", "415", "422"} <= set(answers), where
        if path in OPERATIONS:
            assert not {"401", "429"} & set(answers), where
            continue
        assert {"401", "422", "429", "503"} <= set(answers), where
        assert "Retry-After" in answers["429"]["headers"], where
        assert "Retry-After" in answers["503"]["headers"], where
        if "{task_id}" in path:
            assert "404" in answers, where
