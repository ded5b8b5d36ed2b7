"""``Idempotency-Key`` on ``POST /api/v1/incidents``: a retried request is answered, not repeated.

A client (a phone on a bad connection) sends a key of its choosing, 1-128 printable ASCII
characters, with a report. The key is scoped by who sends it (``idem:<kind>:<id>:<key>`` in
Redis, so two accounts cannot see or block each other's keys):

* first request: a short *pending* marker is set (``SET NX``, ``PENDING_S``); when the report
  is accepted (202) its answer replaces the marker for ``TTL_S`` (24 h); any other answer
  removes the marker, so the client may fix its request and retry with the same key;
* the same key and the same request again: the stored answer, with ``Idempotent-Replayed:
  true``, and nothing is published;
* the same key with a different request (another report or other photos): 422;
* the same key while the first request is still being processed: 409 (retry a little later).

"The same request" is the report's JSON (parsed, so key order and spacing do not matter) and
the SHA-256 of each photo, in order.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
from typing import Callable

import orjson
import redis
from flask import Response

from dashboard.core.access import Principal

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEY_RE = re.compile(r"^[\x20-\x7e]{1,128}$")
TTL_S = 24 * 3600
PENDING_S = 60
REPLAY_HEADERS = ("Location",)

# Replace or delete the marker only if it is still ours (it may have expired and been taken).
_FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then return redis.call('DEL', KEYS[1]) end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""


class IdempotencyError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def check_key(raw: str) -> str:
    if not KEY_RE.match(raw):
        raise IdempotencyError(400, f"{HEADER} must be 1 to 128 printable ASCII characters "
                                    "(for example a UUID made by the client for this report)")
    return raw


def redis_key(p: Principal, key: str) -> str:
    return f"idem:{p.kind}:{p.id}:{key}"


def fingerprint(report: dict, photo_hashes: list[str]) -> str:
    canonical = orjson.dumps({"report": report, "photos": photo_hashes}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def run(r: redis.Redis, p: Principal, raw_key: str, fp: str, produce: Callable[[], Response]) -> Response:
    """``produce()``'s answer, once per key: a repeat gets the stored answer back."""
    key = redis_key(p, check_key(raw_key))
    marker = orjson.dumps({"state": "pending", "fp": fp, "token": secrets.token_hex(8)})
    stored = _claim(r, key, marker)
    if stored is not None:
        return _replay(stored, fp)
    resp = None
    try:
        resp = produce()
    finally:
        _finish(r, key, marker, fp, resp)
    return resp


def _finish(r: redis.Redis, key: str, marker: bytes, fp: str, resp: Response | None) -> None:
    """Keep a 202 for replays; free the key after anything else. If Redis fails now, the
    answer still goes out: the pending marker expires after PENDING_S."""
    if resp is not None and resp.status_code == 202:
        value = orjson.dumps({"state": "done", "fp": fp, "status": resp.status_code,
                              "body": resp.get_data(as_text=True),
                              "headers": {h: resp.headers[h] for h in REPLAY_HEADERS if h in resp.headers}})
        args = [marker, value, TTL_S]
    else:
        args = [marker, "", 0]
    try:
        r.register_script(_FINISH)(keys=[key], args=args)
    except redis.exceptions.RedisError:
        log.warning("could not record the answer for %s; its marker expires in %d s", key, PENDING_S)


def _claim(r: redis.Redis, key: str, marker: bytes) -> dict | None:
    """None when this request holds the key now; else what is stored under it."""
    for _ in range(3):  # the other request's marker may expire between SET and GET
        if r.set(key, marker, nx=True, ex=PENDING_S):
            return None
        raw = r.get(key)
        if raw is not None:
            return orjson.loads(raw)
    raise IdempotencyError(409, f"another request with this {HEADER} is being processed; retry shortly")


def _replay(stored: dict, fp: str) -> Response:
    if stored.get("fp") != fp:
        raise IdempotencyError(422, f"this {HEADER} was used for a different report; use a new key "
                                    "for a new report")
    if stored.get("state") != "done":
        raise IdempotencyError(409, f"a request with this {HEADER} is still being processed; retry "
                                    "shortly to get its answer")
    headers = dict(stored.get("headers") or {})
    headers["Idempotent-Replayed"] = "true"
    return Response(stored["body"], status=stored["status"], headers=headers, mimetype="application/json")
