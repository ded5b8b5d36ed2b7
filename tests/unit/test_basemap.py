"""Base-map presets and the GCJ-02 shift applied to our WGS84 data for Amap tiles."""
from __future__ import annotations

import math

import pytest

from dashboard.geo.basemap import shift_geojson, tile_preset, wgs84_to_gcj02


def test_gcj02_shift_near_luqiao_is_about_430m_east_330m_south():
    lon, lat = 121.4147, 28.5231
    x, y = wgs84_to_gcj02(lon, lat)
    east = (x - lon) * 111_320 * math.cos(math.radians(lat))
    north = (y - lat) * 110_574
    assert 400 < east < 460 and -360 < north < -300


def test_shift_geojson_moves_every_position_and_keeps_properties():
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "g1"},
         "geometry": {"type": "Polygon", "coordinates": [[[121.4, 28.5], [121.41, 28.5], [121.41, 28.51], [121.4, 28.5]]]}},
        {"type": "Feature", "properties": {"code": "p"}, "geometry": {"type": "Point", "coordinates": [121.4, 28.5]}},
    ]}
    out = shift_geojson(fc)
    assert out["features"][0]["properties"] == {"code": "g1"}
    ring = out["features"][0]["geometry"]["coordinates"][0]
    assert len(ring) == 4 and all(p[0] > 121.4 for p in ring)
    assert out["features"][1]["geometry"]["coordinates"] == [round(v, 6) for v in wgs84_to_gcj02(121.4, 28.5)]
    assert fc["features"][1]["geometry"]["coordinates"] == [121.4, 28.5]  # input untouched


def test_presets():
    assert tile_preset("none").url is None
    assert tile_preset("amap").gcj02 and not tile_preset("osm").gcj02
    assert "tk=KEY" in tile_preset("tianditu", tianditu_key="KEY").url
    assert tile_preset("custom", url="http://tiles.local/{z}/{x}/{y}.png").url.startswith("http://tiles.local")
    for bad in (lambda: tile_preset("tianditu"), lambda: tile_preset("custom"), lambda: tile_preset("google")):
        with pytest.raises(ValueError):
            bad()
