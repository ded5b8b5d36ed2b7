"""The Redis stream: publishing events, and what a reader needs to know about the stream.

Every event is one entry ``{"e": <json>}`` in the stream ``incidents:events``; a report goes in
with its case head (``dashboard.stream.heads``). ``dashboard.stream.persister`` stores the
entries. ``group_status``, ``store_delay_s`` and ``safe_trim_id`` read the consumer group's
progress (for /healthz, the wall's "as of" and the trimming).
"""
from __future__ import annotations

import logging
import time
from typing import Iterable

import orjson
import redis
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

from dashboard.core.domain import Event
from dashboard.core.schemas import EventIn
from dashboard.stream.heads import seed_head

log = logging.getLogger(__name__)

LAG_COUNT_CAP = 10_000  # Redis < 7 has no lag figure; count at most this many entries
LIVE_VERSION_KEY = "live:version"  # bumped after every commit that changed incidents
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
TRANSIENT_DB_ERRORS = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError)


def redis_client(url: str) -> redis.Redis:
    # Socket timeout stays above the XREAD BLOCK time (settings.block_ms).
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=3,
                                health_check_interval=10, retry_on_timeout=False)


# --------------------------------------------------------------------------- encoding

def encode_event(ev: Event) -> dict[str, bytes]:
    body = {"id": str(ev.id), "incident_id": str(ev.incident_id), "type": ev.type,
            "at": ev.at.isoformat(), "actor": ev.actor, "note": ev.note, "data": ev.data}
    return {"e": orjson.dumps(body)}


def stream_pos(entry_id: bytes | str) -> int:
    """A sortable integer from a stream id ``<ms>-<seq>``."""
    s = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = s.partition("-")
    return (int(ms) << 20) + int(seq or 0)


def decode_entry(entry_id: bytes, fields: dict) -> Event:
    """Parse and validate one stream entry. Raises ValueError with a readable reason."""
    raw = fields.get(b"e")
    if raw is None:
        raise ValueError("entry has no 'e' field")
    try:
        ev = EventIn.model_validate_json(raw)  # parse and validate in one pass (pydantic-core)
        data = ev.checked_data()
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid":
            raise ValueError(f"not JSON: {first['msg']}") from None
        loc = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"invalid event ({exc.error_count()} errors): {loc}: {first['msg']}") from None
    return Event(id=ev.id, incident_id=ev.incident_id, type=ev.type, at=ev.at, actor=ev.actor,
                 note=ev.note, data=data, stream_pos=stream_pos(entry_id))


class Publisher:
    def __init__(self, r: redis.Redis, stream: str = "incidents:events"):
        self.r = r
        self.stream = stream

    def publish(self, ev: Event) -> str:
        """XADD one event; a report goes in together with its case head (version 1), so that
        actions on the case can be checked at once (dashboard.stream.commands)."""
        if ev.type == "reported":
            pipe = self.r.pipeline(transaction=True)
            pipe.xadd(self.stream, encode_event(ev))
            seed_head(pipe, ev.incident_id)
            return pipe.execute()[0].decode()
        return self.r.xadd(self.stream, encode_event(ev)).decode()

    def publish_many(self, events: Iterable[Event], chunk: int = 1000) -> int:
        n = 0
        pipe = self.r.pipeline(transaction=False)
        for ev in events:
            pipe.xadd(self.stream, encode_event(ev))
            if ev.type == "reported":
                seed_head(pipe, ev.incident_id)
            n += 1
            if n % chunk == 0:
                pipe.execute()
        pipe.execute()
        return n


def safe_trim_id(r: redis.Redis, stream: str, group: str) -> str | None:
    """The lowest id the group still needs: its oldest pending entry, or the first entry after
    what it has read. Everything below it is stored (or dead-lettered)."""
    try:
        groups = r.xinfo_groups(stream)
    except redis.exceptions.ResponseError:
        return None
    info = next((g for g in groups if as_str(g["name"]) == group), None)
    if info is None:
        return None
    last = as_str(info["last-delivered-id"])
    if last == "0-0":
        return None
    summary = r.xpending(stream, group)
    if summary["pending"]:
        return as_str(summary["min"])
    ms, _, seq = last.partition("-")
    return f"{ms}-{int(seq) + 1}"


def store_delay_s(r: redis.Redis, stream: str, group: str) -> float:
    """How far what is stored lags the stream, in seconds: the age of the oldest entry the group
    has not read yet (0 when it has read everything). Two cheap calls, whatever the backlog."""
    try:
        groups = r.xinfo_groups(stream)
    except redis.exceptions.ResponseError:
        return 0.0
    info = next((g for g in groups if as_str(g["name"]) == group), None)
    last = as_str(info["last-delivered-id"]) if info else "0-0"
    nxt = r.xrange(stream, min=f"({last}" if last != "0-0" else "-", max="+", count=1)
    if not nxt:
        return 0.0
    ms = int(as_str(nxt[0][0]).partition("-")[0])
    return max(0.0, time.time() - ms / 1000)


def group_status(r: redis.Redis, stream: str, group: str) -> dict:
    """Length, lag (entries not yet read by the group) and pending count, for /healthz."""
    length = r.xlen(stream)
    out = {"stream_length": length, "lag": None, "pending": None, "consumers": 0}
    try:
        groups = r.xinfo_groups(stream)
    except redis.exceptions.ResponseError:
        return out
    info = next((g for g in groups if as_str(g["name"]) == group), None)
    if info is None:
        out["lag"] = length
        return out
    out["pending"] = info["pending"]
    out["consumers"] = info["consumers"]
    lag = info.get("lag")
    if lag is None:  # Redis < 7 does not report lag: count what follows the last-delivered id
        last = as_str(info["last-delivered-id"])
        lag = len(r.xrange(stream, min=f"({last}", max="+", count=LAG_COUNT_CAP)) if last != "0-0" else length
        out["lag_capped"] = lag >= LAG_COUNT_CAP
    out["lag"] = lag
    return out


def as_str(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
