"""Base-map tile presets and the GCJ-02 shift for Amap tiles.

Our data is WGS84. Tianditu tiles are CGCS2000 (same as WGS84 at map scale); Amap/Gaode tiles
are GCJ-02, about 430 m east and 330 m south of WGS84 here, so with the Amap preset every
coordinate we draw is shifted to GCJ-02 on the server. The default preset is ``none``: the
grids on a dark background, which needs no internet and no tile server.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TilePreset:
    name: str
    url: str | None
    attribution: str = ""
    subdomains: str = ""
    gcj02: bool = False  # the tiles are in GCJ-02: shift our WGS84 data
    max_zoom: int = 18


def tile_preset(name: str, *, url: str | None = None, tianditu_key: str | None = None) -> TilePreset:
    name = (name or "none").lower()
    if name == "none":
        return TilePreset("none", None)
    if name == "osm":
        return TilePreset("osm", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                          "© OpenStreetMap contributors")
    if name == "tianditu":
        if not tianditu_key:
            raise ValueError("TILE_PRESET=tianditu needs TIANDITU_KEY")
        return TilePreset("tianditu",
                          "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
                          "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
                          f"&TILECOL={{x}}&tk={tianditu_key}", "© 天地图", subdomains="01234567")
    if name == "amap":
        return TilePreset("amap", "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                          "&style=8&x={x}&y={y}&z={z}", "© 高德地图", subdomains="1234", gcj02=True)
    if name == "custom":
        if not url:
            raise ValueError("TILE_PRESET=custom needs TILE_URL (e.g. https://tiles.example.org/{z}/{x}/{y}.png)")
        return TilePreset("custom", url, "")
    raise ValueError(f"TILE_PRESET must be none, osm, tianditu, amap or custom, not {name!r}")


# --------------------------------------------------------------------------- WGS84 -> GCJ-02
_A = 6378245.0
_EE = 0.00669342162296594323


def _tlat(x: float, y: float) -> float:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    r += (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return r


def _tlon(x: float, y: float) -> float:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    r += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    r += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    r += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The published GCJ-02 forward transform (valid inside China)."""
    dlat = _tlat(lon - 105.0, lat - 35.0)
    dlon = _tlon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return lon + dlon, lat + dlat


def shift_geojson(obj: dict) -> dict:
    """A copy of a GeoJSON object with every position moved from WGS84 to GCJ-02."""
    def pos(c):
        if isinstance(c[0], (int, float)):
            x, y = wgs84_to_gcj02(c[0], c[1])
            return [round(x, 6), round(y, 6)]
        return [pos(p) for p in c]

    if obj.get("type") == "FeatureCollection":
        return {**obj, "features": [shift_geojson(f) for f in obj["features"]]}
    if obj.get("type") == "Feature":
        geom = obj.get("geometry")
        return {**obj, "geometry": shift_geojson(geom) if geom else geom}
    if "coordinates" in obj:
        return {**obj, "coordinates": pos(obj["coordinates"])}
    return obj
