"""One JSON format for every answer of the HTTP API, errors included.

An error is ``{"error": "<what is wrong>"}``, with ``fields`` (the refused fields, named) when
the input was refused, and any other facts the client needs (a camera's ``last_seen``, a case's
``version``). Errors are never cached; a 503 says when to retry. Open311 has its own format
(``dashboard.web.open311``), as its specification wants.
"""
from __future__ import annotations

import orjson
from flask import Response

RETRY_AFTER_S = 30  # what a 503 (Redis or the database away) asks the client to wait


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(orjson.dumps(body, default=str), status=status, headers=headers,
                    mimetype="application/json")


def json_error(status: int, message: str, fields: list | None = None, *, headers: dict | None = None,
               **extra) -> Response:
    body: dict = {"error": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    sent = {"Cache-Control": "no-store"}
    if status == 503:
        sent["Retry-After"] = str(RETRY_AFTER_S)
    return json_response(body, status, {**sent, **(headers or {})})
