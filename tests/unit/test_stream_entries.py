"""Decoding stream entries: what the persister accepts and what it dead-letters."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import orjson
import pytest

from dashboard.core.domain import Event
from dashboard.stream.events import decode_entry, encode_event, stream_pos

REPORT = {"category": "garbage", "platform": "enforcement", "description": "垃圾", "lat": 28.5,
          "lon": 121.4, "reporter": "w", "urgency": "green", "town": "331004103",
          "village": "331004103001", "grid": "331004103001-01"}


def entry(ev: Event) -> dict:
    return {k.encode(): v for k, v in encode_event(ev).items()}


def test_round_trip_and_stream_position():
    ev = Event(id=uuid.uuid4(), incident_id=uuid.uuid4(), type="reported",
               at=datetime(2026, 11, 26, 3, tzinfo=timezone.utc), data=REPORT)
    back = decode_entry(b"1764126000000-3", entry(ev))
    assert (back.id, back.incident_id, back.type, back.at) == (ev.id, ev.incident_id, ev.type, ev.at)
    assert back.stream_pos == stream_pos("1764126000000-3")
    assert stream_pos("1-0") < stream_pos("1-1") < stream_pos("2-0")


@pytest.mark.parametrize("mutate,reason", [
    (lambda b: b.update(type="exploded"), "type"),
    (lambda b: b.update(at="2026-11-26T03:00:00"), "at"),
    (lambda b: b.pop("incident_id"), "incident_id"),
    (lambda b: b["data"].update(lat="north"), "lat"),
    (lambda b: b["data"].pop("grid"), "grid"),
    (lambda b: b["data"].update(platform="weather"), "platform"),
])
def test_invalid_entries_raise_with_the_field(mutate, reason):
    body = {"id": str(uuid.uuid4()), "incident_id": str(uuid.uuid4()), "type": "reported",
            "at": "2026-11-26T03:00:00+00:00", "actor": "", "note": "", "data": dict(REPORT)}
    mutate(body)
    with pytest.raises(ValueError) as exc:
        decode_entry(b"1-0", {b"e": orjson.dumps(body)})
    assert reason in str(exc.value)
