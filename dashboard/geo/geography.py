"""Reference geography: towns, villages, grids, and finding the grid of a point.

Files come from ``data/`` (schematic demo geography, see data/README.md), or from
``instance/geo/`` when a real deployment has imported its own with
``python -m dashboard import-geo``.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import shapely
from shapely.geometry import Point, shape
from shapely.strtree import STRtree

from dashboard.config import Settings

GEO_FILES = ("towns.csv", "villages.csv", "grids.geojson", "towns.geojson",
             "district_outline.geojson", "cameras.csv")


def geo_path(settings: Settings, name: str) -> Path:
    override = settings.instance_dir / "geo" / name
    return override if override.exists() else settings.data_dir / name


@dataclass(frozen=True)
class Grid:
    code: str
    name: str
    village_code: str
    village_name: str
    town_code: str
    town_name: str
    lat: float
    lon: float


class Geography:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.towns: dict[str, dict] = {}
        with open(geo_path(settings, "towns.csv"), encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                self.towns[row["code"]] = row
        self.villages: dict[str, dict] = {}
        with open(geo_path(settings, "villages.csv"), encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                self.villages[row["code"]] = row
        self.grids_path = geo_path(settings, "grids.geojson")
        fc = json.loads(self.grids_path.read_text(encoding="utf-8"))
        self.grid_features = fc["features"]
        self.grids: dict[str, Grid] = {}
        geoms = []
        for f in self.grid_features:
            p = f["properties"]
            g = Grid(p["code"], p["name"], p["village_code"], p["village_name"], p["town_code"],
                     p["town_name"], float(p["lat"]), float(p["lon"]))
            self.grids[g.code] = g
            geoms.append(shape(f["geometry"]))
        self._grid_codes = [f["properties"]["code"] for f in self.grid_features]
        self._geoms = geoms
        self._tree = STRtree(geoms)
        outline = json.loads(geo_path(settings, "district_outline.geojson").read_text(encoding="utf-8"))
        self.outline = shapely.union_all([shape(f["geometry"]) for f in outline["features"]])
        shapely.prepare(self.outline)
        self.bounds = self.outline.bounds  # (minlon, minlat, maxlon, maxlat)

    def locate(self, lat: float, lon: float) -> Grid | None:
        """The grid containing the point, or None outside the district's grids."""
        pt = Point(lon, lat)
        idx = self._tree.query(pt, predicate="intersects")
        if len(idx):
            return self.grids[self._grid_codes[int(min(idx))]]
        # On the outline's edge, rounding can leave a point between cells: take the nearest
        # grid within ~50 m if the district contains the point.
        if self.outline.distance(pt) < 0.0005:
            near = self._tree.query_nearest(pt, max_distance=0.0005)
            if len(near):
                return self.grids[self._grid_codes[int(near[0])]]
        return None

    @cached_property
    def town_shapes(self) -> dict:
        fc = json.loads(geo_path(self.settings, "towns.geojson").read_text(encoding="utf-8"))
        return {f["properties"]["code"]: shape(f["geometry"]) for f in fc["features"]}

    def scope_bounds(self, town: str | None) -> tuple[float, float, float, float]:
        """(minlon, minlat, maxlon, maxlat) of a town, or of the district when ``town`` is None."""
        if town and town in self.town_shapes:
            return self.town_shapes[town].bounds
        return self.bounds

    def town_label_points(self, lang: str = "zh") -> dict:
        """A GeoJSON FeatureCollection of the towns' label points with their names: the point
        of each town's largest part farthest from its edges, so labels do not collide."""
        from shapely.ops import polylabel

        feats = []
        for code, row in self.towns.items():
            region = self.town_shapes.get(code)
            if region is None:
                continue
            part = max(getattr(region, "geoms", [region]), key=lambda g: g.area)
            pt = polylabel(part, tolerance=0.0005)
            name = (row.get("name_en") if lang == "en" else row.get("name")) or code
            feats.append({"type": "Feature", "properties": {"code": code, "name": name},
                          "geometry": {"type": "Point", "coordinates": [round(pt.x, 5), round(pt.y, 5)]}})
        return {"type": "FeatureCollection", "features": feats}
