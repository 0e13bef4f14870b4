"""``RouteTable``: routes declared once at import, built into a fresh ``APIRouter`` per app.

Each app serves its task routes straight from its own router (``FastAPI(routes=...)``) rather
than through ``include_router``: FastAPI 0.165 keeps an included router behind a wrapper route
that matches every request twice, about 20 us per request here, as much as a whole dependency.
The rate limit (``ratelimit``), which depends on the app's settings, is given to ``router``.
"""

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, params

F = TypeVar("F", bound=Callable[..., Any])


class RouteTable:
    """Records ``@table.get(path, **options)`` / ``@table.post(...)`` declarations, which take
    ``APIRouter.add_api_route``'s options, and builds routers from them."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, str, Callable[..., Any], dict[str, Any]]] = []

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        return self._declare("GET", path, options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        return self._declare("POST", path, options)

    def _declare(self, method: str, path: str, options: dict[str, Any]) -> Callable[[F], F]:
        def declare(endpoint: F) -> F:
            self._routes.append((method, path, endpoint, options))
            return endpoint

        return declare

    def router(self, dependencies: Sequence[params.Depends] = ()) -> APIRouter:
        """A new router with every declared route, each also depending on ``dependencies``."""
        router = APIRouter(dependencies=list(dependencies))
        for method, path, endpoint, options in self._routes:
            router.add_api_route(path, endpoint, methods=[method], **options)
        return router
