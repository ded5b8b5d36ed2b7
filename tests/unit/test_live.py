"""The live snapshot: the grid fill rule (dashboard/core/wall.py), pinned red cases, alarms and
compact markers."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from dashboard.core.sla import SlaPolicy
from dashboard.queries.live import build_snapshot

NOW = datetime(2026, 11, 26, 8, tzinfo=timezone.utc)


def row(grid, urgency, status="accepted", lat=28.5, lon=121.4, age_h=1.0, category="garbage"):
    reported = NOW - timedelta(hours=age_h)
    return {"id": uuid.uuid4(), "reported_at": reported, "town_code": "t", "grid_code": grid,
            "category": category, "description": "x", "lat": lat, "lon": lon, "base_urgency": urgency,
            "urgency": urgency, "status": status,
            "accepted_at": None if status == "reported" else reported + timedelta(minutes=5)}


def snap(rows, **kw):
    return build_snapshot(rows, "7", NOW, lateness=SlaPolicy.load().lateness, **kw)


def test_a_red_case_in_hand_does_not_paint_its_grid_red():
    s = snap([row("a", "red"), row("a", "green"), row("b", "green")])
    assert s.grid_fill == {"a": "g", "b": "g"}
    assert s.counts["red"] == 1 and s.alarms == []


def test_red_waiting_or_overdue_paints_red_late_acceptance_or_yellow_waiting_paints_yellow():
    late_closure = row("f", "green", age_h=130)                     # in hand, closure overdue (5 days)
    s = snap([row("a", "red", status="reported"),                  # waits for acceptance
              row("b", "red", age_h=30),                            # red, accepted, past its 24 h close
              row("c", "green", status="reported", age_h=25),       # acceptance overdue (24 h)
              row("d", "yellow", status="reported"),                # yellow, waiting
              row("e", "green", status="reported"),                 # green, waiting, in time
              row("e", "yellow"),                                   # yellow in hand
              late_closure])
    assert s.grid_fill == {"a": "r", "b": "r", "c": "y", "d": "y", "e": "g", "f": "g"}
    assert s.counts["overdue"] == 3 and s.counts["waiting"] == 4
    # a late closure does not colour its grid, but its marker carries the overdue ring
    marker = next(f for f in s.markers["features"] if f["properties"]["id"] == str(late_closure["id"]))
    assert marker["properties"].get("l") == 1


def test_a_grid_with_many_routine_cases_stays_green():
    # district density: ~20 open cases per grid, most in hand: the grid is not red
    rows = [row("a", u) for u in ["green"] * 12 + ["yellow"] * 6 + ["red"] * 2]
    assert snap(rows).grid_fill == {"a": "g"}


def test_pinned_red_cases_are_not_clustered_and_alarms_name_the_waiting_ones():
    waiting, late = row("a", "red", status="reported", age_h=0.2), row("b", "red", age_h=30)
    other = row("c", "yellow")
    s = snap([waiting, late, other])
    assert {f["properties"]["id"] for f in s.pinned["features"]} == {str(waiting["id"]), str(late["id"])}
    assert [f["properties"]["id"] for f in s.markers["features"]] == [str(other["id"])]
    assert [a["id"] for a in s.alarms] == [str(waiting["id"])]
    props = {f["properties"]["id"]: f["properties"] for f in s.pinned["features"]}
    assert props[str(waiting["id"])].get("w") == 1 and "l" not in props[str(waiting["id"])]
    assert props[str(late["id"])].get("l") == 1


def test_the_head_in_redis_overrides_a_stale_stored_status():
    waiting = row("a", "red", status="reported", age_h=0.2)
    gone = row("b", "red", status="reported", age_h=0.2)
    s = snap([waiting, gone], heads={waiting["id"]: "accepted", gone["id"]: "closed"})
    assert s.alarms == [] and s.grid_fill == {"a": "g"}       # accepted in the stream: in hand
    assert s.counts["red"] == 1                                # closed in the stream: gone


def test_alarms_most_urgent_first():
    fresh = row("a", "red", status="reported", age_h=0.1)
    old = row("b", "red", status="reported", age_h=0.5)
    late = row("c", "red", status="reported", age_h=2)        # red: accept within 1 h
    assert [a["id"] for a in snap([fresh, old, late]).alarms] == [str(late["id"]), str(old["id"]), str(fresh["id"])]


def test_markers_are_geojson_points_lon_lat_rounded():
    s = snap([row("a", "yellow", lat=28.123456789, lon=121.987654321)])
    f = s.markers["features"][0]
    assert f["geometry"] == {"type": "Point", "coordinates": [121.98765, 28.12346]}
    assert f["properties"]["u"] == "y" and f["properties"]["t"] == int((NOW - timedelta(hours=1)).timestamp())


def test_markers_follow_the_base_map_datum():
    s = snap([row("a", "green", lat=28.5, lon=121.4)], project=lambda lon, lat: (lon + 0.004, lat - 0.003))
    assert s.markers["features"][0]["geometry"]["coordinates"] == [121.404, 28.497]


def test_a_case_overdue_in_the_database_but_moved_on_in_the_stream_is_judged_by_its_head():
    # stored: accepted 2 days ago, past its 24 h close deadline (red); the stream already closed it
    late = row("a", "red", age_h=30)
    # stored: waiting since 30 h (overdue acceptance); the stream already accepted it
    waiting = row("b", "green", status="reported", age_h=30)
    s = snap([late, waiting], heads={late["id"]: "closed", waiting["id"]: "accepted"})
    assert s.grid_fill == {"b": "g"} and s.counts["overdue"] == 0
