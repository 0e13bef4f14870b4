"""JSON request bodies read and validated by the route itself, answered as FastAPI answers them.

The intake route reads its body with one ``model_validate_json`` call (pydantic parses and
validates in one pass) instead of FastAPI's body parameter, which costs a ``json.loads``, a
content-type parse and a dependency solve per request on the hottest path there is. The answers
for bad bodies stay FastAPI's: an empty body is 422 ``missing`` at ``["body"]``, a body that is
not JSON 422 ``json_invalid`` at ``["body", <position>]``, one that is not text 400, a field
error 422 at ``["body", <field>, ...]``. The media type was checked already (``media``).
"""

import json
from typing import TypeVar

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def parse_json_body(model: type[M], body: bytes) -> M:
    """``body`` validated as ``model``. Raises ``RequestValidationError`` (422) or
    ``HTTPException`` (400, a body that is not text in a JSON encoding, RFC 8259 §8.1)."""
    if not body:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required"}
        raise RequestValidationError([missing])
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if all(error["loc"] for error in exc.errors(include_url=False)):  # field errors only
            raise _in_body(exc) from None
    return _parse_as_fastapi(model, body)  # not JSON, or not an object: FastAPI's wording


def _parse_as_fastapi(model: type[M], body: bytes) -> M:
    """A body pydantic's JSON parser refused as a whole, parsed as FastAPI parses it
    (``json.loads``, which also reads UTF-16 and UTF-32, then ``model_validate``), so that both
    give the same answer."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        error = {"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error"}
        raise RequestValidationError([error]) from None
    except ValueError:  # UnicodeDecodeError: not text
        raise HTTPException(400, "There was an error parsing the body") from None
    try:
        return model.model_validate(document, from_attributes=True)  # as FastAPI's ModelField
    except ValidationError as exc:
        raise _in_body(exc) from None


def _in_body(exc: ValidationError) -> RequestValidationError:
    errors = exc.errors(include_url=False, include_input=False)
    return RequestValidationError([{**error, "loc": ("body", *error["loc"])} for error in errors])
