"""Property tests of the lifecycle: whatever happens, the state stays legal and the log rebuilds it."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.core.domain import LEVELS, STATUS_NAMES, TRANSITIONS, Event, allowed_events, fold

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)
IID = uuid.UUID("22222222-3333-4444-8555-666666666666")
REPORT = {"category": "dispute", "platform": "public_order", "description": "纠纷", "lat": 28.52,
          "lon": 121.41, "reporter": "网格员", "urgency": "yellow", "town": "331004103",
          "village": "331004103001", "grid": "331004103001-01", "photos": [], "source": "api"}
KINDS = [k for k in TRANSITIONS if k != "reported"]


def event(kind, i, data=None):
    return Event(id=uuid.uuid4(), incident_id=IID, type=kind, at=T0 + timedelta(minutes=i),
                 data=data if data is not None else ({"department": "住建局"} if kind in ("assigned", "routed")
                                                     else {"urgency": "red"} if kind == "urgency_changed" else {}),
                 stream_pos=i)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(KINDS), max_size=40))
def test_any_sequence_folds_to_a_legal_state_replayable_from_the_log(kinds):
    events = [event("reported", 0, REPORT)] + [event(k, i + 1) for i, k in enumerate(kinds)]
    state = fold(events)
    assert state.status in STATUS_NAMES and state.level in LEVELS
    # Replaying only the applied events, one at a time, walks legal transitions only.
    applied = [e for e in events if str(e.id) not in state.rejected]
    status = None
    for e in applied:
        assert e.type in allowed_events(status), (status, e.type)
        status = TRANSITIONS[e.type][1] or status
    assert status == state.status
    # The log is the truth: shuffling delivery order changes nothing (order is the stream's).
    again = fold(list(reversed(events)))
    assert (again.status, again.version, again.level, again.closed_at, again.accepted_at) == \
        (state.status, state.version, state.level, state.closed_at, state.accepted_at)
    assert state.version == len(applied)
    if state.status == "closed":
        assert state.closed_at is not None and state.resolved_level is not None
    if state.status != "closed":
        assert state.closed_at is None
