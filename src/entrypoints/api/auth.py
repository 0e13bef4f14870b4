"""The ``Owner`` dependency: who is calling, from ``Authorization: Bearer <key>`` (RFC 6750 §2.1).

A route that takes ``owner: Owner`` answers 401 (``WWW-Authenticate: Bearer``, see
``errors``) to a request without a configured key, and gets the key's name otherwise; with no
keys configured it gets None (the API is open). The key itself is never logged or kept.
"""

from typing import Annotated, Any

from fastapi import Depends, Request

from entrypoints.api.keys import ApiKeys
from entrypoints.api.schemas import ErrorResponse
from entrypoints.container import Container

SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key from `mailroom keys new NAME`: `Authorization: Bearer <key>`.",
}
"""OpenAPI security scheme ``ApiKey``; ``entrypoints.docs`` declares it on every route that takes
``Owner`` (the dependency reads the header itself: FastAPI's ``HTTPBearer`` would be one more
dependency to solve on every request)."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (RFC 6750 §2.1; the scheme name is
    case-insensitive), or None for a missing header or another scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def owner_of(request: Request) -> str | None:
    """The calling key's name (None while the API is open). Raises ``AuthenticationFailed``.

    The keys come from the container of the app serving the request (``app.state.container``),
    not through dependency-injector wiring: wiring patches this module for the most recently
    wired container, and authentication must never follow another app's settings.
    """
    container: Container = request.app.state.container
    keys: ApiKeys = container.api_keys()
    return keys.owner(bearer_token(request.headers.get("authorization")))


async def current_owner(request: Request) -> str | None:
    """``owner_of`` as a FastAPI dependency."""
    return owner_of(request)


Owner = Annotated[str | None, Depends(current_owner)]

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorResponse,
        "description": "No API key, or not a configured one (API keys are configured)",
        "headers": {
            "WWW-Authenticate": {
                "description": '`Bearer` (RFC 6750); `error="invalid_token"`: a wrong key',
                "schema": {"type": "string"},
            }
        },
    }
}
"""OpenAPI ``responses`` entry for routes that take ``Owner``."""
