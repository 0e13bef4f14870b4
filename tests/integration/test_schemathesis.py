"""Schemathesis against the OpenAPI document of the real app (in process, through its ASGI
interface): for every operation, generated requests (valid and invalid) never get a 5xx, and every
answer matches the document (status code, content type, headers, body schema).

Bounded: at most ``MAX_EXAMPLES`` generated cases per operation (plus the schema's examples and
schemathesis's coverage cases), no Hypothesis deadline (the machine is shared), pytest's per-test
timeout as the time bound. API keys are on: schemathesis sends a configured key (through its auth
configuration for the document's ``ApiKey`` scheme) and checks that a missing or wrong one is
refused.

The schema is loaded when the module is imported: schemathesis's lazy ``from_fixture`` loader does
not work with this pytest (it sets ``Function._nodeid``).
"""

import uuid

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from entrypoints.api.keys import key_hash, new_key
from entrypoints.app import create_app
from entrypoints.settings import Settings

MAX_EXAMPLES = 50
API_KEY = new_key()


def build_app() -> FastAPI:
    settings = Settings(mailer="fake", api_keys=f"schemathesis:{key_hash(API_KEY)}")
    return create_app(settings, run_workers=False)


schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    build_app(),
    # The key for the document's bearer scheme: schemathesis sends it, and knows which requests
    # it made without one (or with a wrong one) on purpose.
    config=schemathesis.Config.from_dict({"auth": {"openapi": {"ApiKey": {"bearer": API_KEY}}}}),
)


@pytest.fixture(scope="module")
def app() -> FastAPI:
    """The app the calls go to, built right before them: dependency-injector's wiring belongs to
    the route modules, so the app of the latest ``create_app`` answers for every app of the
    process (the one built at import may have been rewired by other test modules since)."""
    return build_app()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_to_its_openapi_document(case: schemathesis.Case, app: FastAPI) -> None:
    if case.headers and "Idempotency-Key" in case.headers:
        # A generated key may repeat across cases with other bodies, which the API rightly refuses
        # (422): each case gets its own key. Idempotency itself is tested in test_idempotency*.
        case.headers["Idempotency-Key"] = f'"{uuid.uuid4()}"'
    # Positive-data acceptance is left out: address validity (email-validator refuses special-use
    # domains such as ``.test``, quoted local parts, ...) is stricter than JSON Schema can state,
    # so schema-valid addresses may rightly get 422. Every other check runs.
    case.call_and_validate(app=app, excluded_checks=[positive_data_acceptance])
