"""The live view on real Redis and both databases: incremental refresh after changes."""
from __future__ import annotations

import uuid
from datetime import timedelta

from dashboard.core.domain import Event
from dashboard.queries.live import LiveView
from dashboard.stream.events import LIVE_VERSION_KEY


def follow(incident, kind, minutes, pos, **data):
    return Event(id=uuid.uuid4(), incident_id=incident.incident_id, type=kind,
                 at=incident.at + timedelta(minutes=minutes), data=data, stream_pos=pos)


def all_markers(snap) -> dict:
    """id -> urgency code of every marker on the map: clustered and pinned."""
    return {f["properties"]["id"]: f["properties"]["u"]
            for f in snap.markers["features"] + snap.pinned["features"]}


def test_changes_are_read_incrementally_and_closed_cases_leave(rt, make_events):
    reports = make_events(3, seed=31, follow_ups=False)
    for i, e in enumerate(reports):
        e.stream_pos = i + 1
    rt.store.store_events(reports)
    live = LiveView(rt, min_interval=0)
    rt.redis.incr(LIVE_VERSION_KEY)
    snap = live.snapshot()
    assert set(all_markers(snap)) == {str(e.incident_id) for e in reports}
    first = reports[0]
    # Close the first case, raise the second to red.
    rt.store.store_events([follow(first, "accepted", 1, 10), follow(first, "assigned", 2, 11, department="x"),
                           follow(first, "resolved", 3, 12), follow(first, "closed", 4, 13),
                           follow(reports[1], "urgency_changed", 1, 14, urgency="red")])
    rt.redis.incr(LIVE_VERSION_KEY)
    snap = live.snapshot()
    ids = all_markers(snap)
    assert set(ids) == {str(reports[1].incident_id), str(reports[2].incident_id)}
    assert ids[str(reports[1].incident_id)] == "r"
    assert live.full_loads == 1 and live.computations == 2   # the second one was incremental
    assert snap.counts["red"] >= 1


def test_unchanged_version_reuses_the_snapshot_and_full_reload_heals(rt, make_events):
    reports = make_events(2, seed=32, follow_ups=False)
    rt.store.store_events(reports)
    live = LiveView(rt, min_interval=0, full_every=0)
    rt.redis.incr(LIVE_VERSION_KEY)
    a = live.snapshot()
    assert live.snapshot() is a                                  # same version: same object
    rt.redis.incr(LIVE_VERSION_KEY)
    live.snapshot()
    assert live.full_loads == 2                                  # full_every=0: always reload


def test_marker_revision_moves_only_when_markers_change(rt, make_events):
    reports = make_events(2, seed=33, follow_ups=False)
    for e in reports:  # clustered markers (red cases that wait are pinned, not clustered)
        e.data["urgency"] = "green"
    for i, e in enumerate(reports):
        e.stream_pos = i + 1
    rt.store.store_events(reports)
    live = LiveView(rt, min_interval=0)
    rt.redis.incr(LIVE_VERSION_KEY)
    rev0 = live.snapshot().markers_rev
    first = reports[0]
    rt.store.store_events([follow(first, "accepted", 1, 10)])          # same marker: no new rev
    rt.redis.incr(LIVE_VERSION_KEY)
    assert live.snapshot().markers_rev == rev0
    recolour = "yellow"
    rt.store.store_events([follow(first, "urgency_changed", 2, 11, urgency=recolour)])  # recoloured
    rt.redis.incr(LIVE_VERSION_KEY)
    rev1 = live.snapshot().markers_rev
    assert rev1 == rev0 + 1
    rt.store.store_events([follow(first, "assigned", 3, 12, department="x"), follow(first, "resolved", 4, 13),
                           follow(first, "closed", 5, 14)])               # gone
    rt.redis.incr(LIVE_VERSION_KEY)
    assert live.snapshot().markers_rev == rev1 + 1
