"""The live snapshot: worst urgency per grid and compact markers."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from dashboard.live import build_snapshot

NOW = datetime(2026, 11, 26, tzinfo=timezone.utc)


def row(grid, urgency, lat=28.5, lon=121.4):
    return {"id": uuid.uuid4(), "reported_at": NOW, "town_code": "t", "grid_code": grid,
            "category": "garbage", "description": "x", "lat": lat, "lon": lon,
            "urgency": urgency, "status": "reported"}


def test_grid_takes_its_most_urgent_open_case():
    snap = build_snapshot([row("a", "green"), row("a", "red"), row("a", "yellow"), row("b", "yellow"),
                           row("c", "green")], "7", NOW)
    assert snap.grid_urgency == {"a": "r", "b": "y", "c": "g"}
    assert snap.counts == {"red": 1, "yellow": 2, "green": 2}
    assert snap.version == "7"


def test_markers_are_geojson_points_lon_lat_rounded():
    snap = build_snapshot([row("a", "red", lat=28.123456789, lon=121.987654321)], "1", NOW)
    f = snap.markers["features"][0]
    assert f["geometry"] == {"type": "Point", "coordinates": [121.98765, 28.12346]}
    assert f["properties"]["u"] == "r" and f["properties"]["t"] == int(NOW.timestamp())


def test_markers_follow_the_base_map_datum():
    snap = build_snapshot([row("a", "red", lat=28.5, lon=121.4)], "1", NOW,
                          project=lambda lon, lat: (lon + 0.004, lat - 0.003))
    assert snap.markers["features"][0]["geometry"]["coordinates"] == [121.404, 28.497]
