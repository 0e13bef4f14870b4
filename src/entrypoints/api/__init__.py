"""The HTTP API: schemas, routes, error handlers and request limits."""
