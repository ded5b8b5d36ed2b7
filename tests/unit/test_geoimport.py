"""import_geo / reset_geo on real files in tmp_path (no mocks)."""
from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import pytest
from shapely.geometry import Point, shape

from dashboard.config import DATA_DIR, Settings
from dashboard.geo.geography import Geography, geo_path
from dashboard.geo.importer import GeoImportError, import_geo, reset_geo

COLUMNS = ["id", "name", "town_code", "village_code", "grid_code", "lon", "lat", "kind", "url", "status"]
SMALL_TOWN = "331004400"   # 滨海工业城: 9 grids, 120 cameras
OTHER_TOWN = "331004401"   # 滨海新区: 17 grids, 150 cameras


# ------------------------------------------------------------------ demo data, read once

@pytest.fixture(scope="module")
def demo():
    fc = json.loads((DATA_DIR / "grids.geojson").read_text(encoding="utf-8"))
    with open(DATA_DIR / "cameras.csv", encoding="utf-8", newline="") as fh:
        cams = list(csv.DictReader(fh))
    return fc, cams


def subset(demo, town):
    fc, cams = demo
    feats = [copy.deepcopy(f) for f in fc["features"] if f["properties"]["town_code"] == town]
    codes = {f["properties"]["code"] for f in feats}
    return ({"type": "FeatureCollection", "features": feats},
            [dict(c) for c in cams if c["grid_code"] in codes])


def write_grids(path: Path, fc) -> str:
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return str(path)


def write_cams(path: Path, rows, columns=COLUMNS) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return str(path)


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file and directory under root (None for directories) with its bytes."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))}


@pytest.fixture
def settings(tmp_path):
    s = Settings.from_env({}).with_(instance_dir=tmp_path / "inst")
    assert s.data_dir == DATA_DIR
    return s


# ------------------------------------------------------------------ successful imports

def test_import_demo_copy_installs_and_geography_uses_it(settings, tmp_path):
    g = tmp_path / "in" / "grids.geojson"
    c = tmp_path / "in" / "cameras.csv"
    g.parent.mkdir()
    g.write_bytes((DATA_DIR / "grids.geojson").read_bytes())
    c.write_bytes((DATA_DIR / "cameras.csv").read_bytes())
    assert geo_path(settings, "grids.geojson") == DATA_DIR / "grids.geojson"

    report = import_geo(settings, grids=str(g), cameras=str(c))

    geo_dir = settings.instance_dir / "geo"
    assert geo_path(settings, "grids.geojson") == geo_dir / "grids.geojson"
    assert geo_path(settings, "cameras.csv") == geo_dir / "cameras.csv"
    assert "635" in report and "4840" in report and str(geo_dir) in report
    assert "Warning" not in report
    # the demo files are already in the normalised form: installed byte for byte
    assert (geo_dir / "grids.geojson").read_bytes() == (DATA_DIR / "grids.geojson").read_bytes()
    assert (geo_dir / "cameras.csv").read_bytes() == (DATA_DIR / "cameras.csv").read_bytes()
    assert sorted(p.name for p in geo_dir.iterdir()) == ["cameras.csv", "grids.geojson"]  # no temp left

    geo = Geography(settings)
    assert geo.grids_path == geo_dir / "grids.geojson"
    assert len(geo.grids) == 635
    assert geo.locate(28.56367, 121.39419).code == "331004001002-01"


def test_import_subset_normalises_and_computes_label_points(settings, tmp_path, demo):
    fc, cams = subset(demo, SMALL_TOWN)
    orig = {f["properties"]["code"]: dict(f["properties"]) for f in fc["features"]}
    for f in fc["features"]:
        del f["properties"]["lon"], f["properties"]["lat"]
        f.pop("id")
    # MultiPolygon is accepted and kept as such
    mp = fc["features"][0]
    mp["geometry"] = {"type": "MultiPolygon", "coordinates": [mp["geometry"]["coordinates"]]}
    mp["properties"]["extra"] = "kept"
    # messy but valid camera fields
    cams[0]["kind"], cams[0]["url"] = " HLS ", "https://cams.example/1.m3u8"
    cams[1]["status"], cams[1]["lon"] = "Offline", " 121.5000001 "
    gpath = write_grids(tmp_path / "g.geojson", fc)
    cpath = tmp_path / "c.csv"
    write_cams(cpath, cams)
    cpath.write_bytes(b"\xef\xbb\xbf" + cpath.read_bytes().replace(b"\n", b"\r\n"))  # BOM, CRLF

    report = import_geo(settings, grids=gpath, cameras=str(cpath))

    assert "9 (1 MultiPolygon, 8 Polygon)" in report
    assert "lon/lat computed for 9" in report
    assert "9 grids imported; Luqiao has 635" in report     # warning, not an error
    out = json.loads((settings.instance_dir / "geo" / "grids.geojson").read_text(encoding="utf-8"))
    for f in out["features"]:
        p = f["properties"]
        assert f["id"] == p["code"]
        assert {k: p[k] for k in ("code", "name", "village_code", "village_name", "town_code",
                                  "town_name")} == {k: orig[p["code"]][k] for k in
                                                    ("code", "name", "village_code", "village_name",
                                                     "town_code", "town_name")}
        assert round(p["lon"], 5) == p["lon"] and round(p["lat"], 5) == p["lat"]
        assert shape(f["geometry"]).intersects(Point(p["lon"], p["lat"]))
    assert out["features"][0]["geometry"]["type"] == "MultiPolygon"
    assert out["features"][0]["properties"]["extra"] == "kept"

    raw = (settings.instance_dir / "geo" / "cameras.csv").read_bytes()
    assert b"\r" not in raw and raw.startswith(",".join(COLUMNS).encode() + b"\n")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
    assert len(rows) == 120
    assert (rows[0]["kind"], rows[0]["url"]) == ("hls", "https://cams.example/1.m3u8")
    assert (rows[1]["status"], rows[1]["lon"]) == ("offline", "121.5")

    geo = Geography(settings)
    assert len(geo.grids) == 9
    inside = shape(out["features"][0]["geometry"]).representative_point()
    assert geo.locate(inside.y, inside.x).code == out["features"][0]["id"]


def test_cameras_only_are_checked_against_installed_grids(settings, tmp_path, demo):
    fc, cams = subset(demo, SMALL_TOWN)
    import_geo(settings, grids=write_grids(tmp_path / "g.geojson", fc), cameras=None)
    # the demo cameras of the other towns refer to grids that are no longer installed
    before = snapshot(settings.instance_dir)
    _, other_cams = subset(demo, OTHER_TOWN)
    with pytest.raises(GeoImportError) as ei:
        import_geo(settings, grids=None, cameras=write_cams(tmp_path / "c.csv", cams + other_cams[:1]))
    msg = str(ei.value)
    assert "line 122" in msg and "grid_code" in msg and other_cams[0]["grid_code"] in msg
    assert "installed grids" in msg
    assert snapshot(settings.instance_dir) == before

    report = import_geo(settings, grids=None, cameras=write_cams(tmp_path / "c2.csv", cams))
    assert "cameras: 120" in report and "grids:" not in report
    assert geo_path(settings, "cameras.csv") == settings.instance_dir / "geo" / "cameras.csv"


def test_grids_only_warns_about_cameras_in_use(settings, tmp_path, demo):
    fc, _ = subset(demo, SMALL_TOWN)
    report = import_geo(settings, grids=write_grids(tmp_path / "g.geojson", fc), cameras=None)
    assert "4720 of the 4840 cameras in use" in report   # demo cameras outside 滨海工业城
    assert not (settings.instance_dir / "geo" / "cameras.csv").exists()


def test_neither_file_given_is_a_value_error(settings):
    with pytest.raises(ValueError, match="--grids.*--cameras"):
        import_geo(settings, grids=None, cameras=None)
    assert not settings.instance_dir.exists()


# ------------------------------------------------------------------ bad input

def _bow_tie(fc, cams):
    f = fc["features"][1]
    x, y = f["properties"]["lon"], f["properties"]["lat"]
    d = 0.002
    f["geometry"] = {"type": "Polygon", "coordinates": [[[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]]]}


def _far_away(fc, cams):
    f = fc["features"][2]
    f["geometry"]["coordinates"] = [[[x + 20, y] for x, y in ring] for ring in f["geometry"]["coordinates"]]
    f["properties"]["lon"] += 20


def _swapped_axes(fc, cams):
    for f in fc["features"]:
        f["geometry"]["coordinates"] = [[[y, x] for x, y in ring] for ring in f["geometry"]["coordinates"]]


def _dup_code(fc, cams):
    fc["features"][3]["properties"]["code"] = fc["features"][0]["properties"]["code"]


def _set(field, idx, value):
    def change(fc, cams):
        cams[idx][field] = value
    return change


def _unknown_grid(fc, cams):
    cams[5]["grid_code"] = "331004400999-01"


def _cam_town_mismatch(fc, cams):
    cams[6]["town_code"] = "331004001"


GRID_CASES = {
    "not_json": ("{not json", ["not valid JSON", "line 1"]),
    "not_feature_collection": (json.dumps({"type": "Feature", "geometry": None, "properties": {}}),
                               ["not a GeoJSON FeatureCollection", "'Feature'"]),
    "list_not_object": ("[1, 2]", ["not a GeoJSON FeatureCollection"]),
    "missing_property": (lambda fc, c: fc["features"][2]["properties"].pop("village_name"),
                         ["feature #2", "missing property 'village_name'"]),
    "empty_property": (lambda fc, c: fc["features"][4]["properties"].update(name="  "),
                       ["feature #4", "'name' is empty"]),
    "numeric_code": (lambda fc, c: fc["features"][0]["properties"].update(town_code=331004400),
                     ["feature #0", "'town_code' must be a string"]),
    "duplicate_code": (_dup_code, ["feature #3", "duplicate code", "feature #0"]),
    "bow_tie": (_bow_tie, ["feature #1", "invalid polygon", "Self-intersection"]),
    "point_geometry": (lambda fc, c: fc["features"][0].update(geometry={"type": "Point", "coordinates": [121.5, 28.5]}),
                       ["feature #0", "'Point'", "Polygon or MultiPolygon"]),
    "unknown_town": (lambda fc, c: fc["features"][5]["properties"].update(town_code="331004999"),
                     ["feature #5", "town_code", "331004999", "towns.csv"]),
    "far_away": (_far_away, ["feature #2", "far outside the district"]),
    "swapped_axes": (_swapped_axes, ["feature #0", "outside the WGS84 range"]),
    "bad_label_lat": (lambda fc, c: fc["features"][1]["properties"].update(lat="north"),
                      ["feature #1", "'lat' is not a number"]),
    "projected_crs": (lambda fc, c: fc.update(crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}),
                      ["EPSG::3857", "WGS84"]),
    "no_features": (lambda fc, c: fc.update(features=[]), ["no features"]),
}
CAMERA_CASES = {
    "unknown_grid_code": (_unknown_grid, ["line 7", "grid_code", "331004400999-01", "imported grids"]),
    "town_mismatch": (_cam_town_mismatch, ["line 8", "'town_code'", "331004001"]),
    "bad_kind": (_set("kind", 3, "rtsp"), ["line 5", "'kind'", "'rtsp'"]),
    "url_missing": (_set("kind", 4, "mjpeg"), ["line 6", "'url' is empty", "mjpeg"]),
    "bad_status": (_set("status", 0, "broken"), ["line 2", "'status'", "'broken'"]),
    "non_numeric_lat": (_set("lat", 9, "28,5x"), ["line 11", "'lat' is not a number", "28,5x"]),
    "camera_far_away": (_set("lon", 2, "100.0"), ["line 4", "far outside the district"]),
    "duplicate_id": (lambda fc, c: c[7].update(id=c[1]["id"]), ["line 9", "duplicate id", "line 3"]),
    "missing_column": ("drop:status", ["line 1", "missing column", "status"]),
    "extra_column": ("add:remark", ["line 1", "unexpected column", "remark"]),
    "short_row": ("short", ["line 3", "9 fields, expected 10"]),
}


@pytest.fixture
def installed(settings, tmp_path, demo):
    """A previous successful import (another town), which a failed import must leave alone."""
    fc, cams = subset(demo, OTHER_TOWN)
    d = tmp_path / "prev"
    d.mkdir()
    import_geo(settings, grids=write_grids(d / "g.geojson", fc), cameras=write_cams(d / "c.csv", cams))
    return snapshot(settings.instance_dir)


def _bad_files(tmp_path, demo, change):
    fc, cams = subset(demo, SMALL_TOWN)
    g, c = tmp_path / "bad.geojson", tmp_path / "bad.csv"
    columns = list(COLUMNS)
    if isinstance(change, str) and change.startswith(("drop:", "add:")):
        op, col = change.split(":")
        columns = [x for x in columns if x != col] if op == "drop" else columns + [col]
        for r in cams:
            r[col] = "x"
    elif callable(change):
        change(fc, cams)
    write_grids(g, fc)
    write_cams(c, cams, columns)
    if change == "short":
        lines = c.read_text(encoding="utf-8").split("\n")
        lines[2] = lines[2].rsplit(",", 1)[0]
        c.write_text("\n".join(lines), encoding="utf-8")
    elif isinstance(change, str) and not change.startswith(("drop:", "add:")):
        g.write_text(change, encoding="utf-8")
    return str(g), str(c)


@pytest.mark.parametrize("state", ["fresh", "installed"])
@pytest.mark.parametrize("case", sorted(GRID_CASES) + sorted(CAMERA_CASES))
def test_bad_input_is_rejected_and_nothing_changes(case, state, settings, tmp_path, demo, request):
    before = request.getfixturevalue("installed") if state == "installed" else snapshot(settings.instance_dir)
    change, expected = {**GRID_CASES, **CAMERA_CASES}[case]
    g, c = _bad_files(tmp_path, demo, change)

    with pytest.raises(GeoImportError) as ei:
        import_geo(settings, grids=g, cameras=c)

    msg = str(ei.value)
    assert "nothing was installed" in msg
    for text in expected:
        assert text in msg, f"{text!r} not in:\n{msg}"
    assert ei.value.problems
    assert snapshot(settings.instance_dir) == before
    if state == "fresh":
        assert not (settings.instance_dir / "geo").exists()


def test_good_grids_are_not_installed_when_cameras_are_bad(settings, tmp_path, demo, installed):
    # grids alone would be fine (a different town than the one installed): still nothing replaced
    g, c = _bad_files(tmp_path, demo, _set("kind", 3, "rtsp"))
    with pytest.raises(GeoImportError):
        import_geo(settings, grids=g, cameras=c)
    assert snapshot(settings.instance_dir) == installed
    assert len(Geography(settings).grids) == 17


def test_cameras_of_a_rejected_grid_add_no_follow_up_errors(settings, tmp_path, demo):
    g, c = _bad_files(tmp_path, demo, _bow_tie)
    bad_code = json.loads(Path(g).read_text(encoding="utf-8"))["features"][1]["properties"]["code"]
    assert bad_code in Path(c).read_text(encoding="utf-8")     # its cameras are in the CSV
    with pytest.raises(GeoImportError) as ei:
        import_geo(settings, grids=g, cameras=c)
    assert len(ei.value.problems) == 1 and "invalid polygon" in ei.value.problems[0]


def test_many_problems_are_listed_up_to_twenty(settings, tmp_path, demo):
    fc, _ = subset(demo, OTHER_TOWN)
    for f in fc["features"]:
        f["properties"]["town_code"] = "999"
        del f["properties"]["name"]
    with pytest.raises(GeoImportError) as ei:
        import_geo(settings, grids=write_grids(tmp_path / "g.geojson", fc), cameras=None)
    assert len(ei.value.problems) == 34
    listed = [line for line in str(ei.value).splitlines() if line.startswith("  - ")]
    assert len(listed) == 20
    assert "... and 14 more" in str(ei.value)


def test_missing_input_file_is_an_import_error(settings, tmp_path):
    with pytest.raises(GeoImportError, match="cannot read file"):
        import_geo(settings, grids=str(tmp_path / "nope.geojson"), cameras=None)
    assert not settings.instance_dir.exists()


# ------------------------------------------------------------------ reset

def test_reset_geo_restores_demo_paths(settings, tmp_path, demo):
    fc, cams = subset(demo, SMALL_TOWN)
    import_geo(settings, grids=write_grids(tmp_path / "g.geojson", fc),
               cameras=write_cams(tmp_path / "c.csv", cams))
    other = settings.instance_dir / "geo" / "towns.csv"
    other.write_bytes((DATA_DIR / "towns.csv").read_bytes())   # not ours: must survive
    assert len(Geography(settings).grids) == 9

    report = reset_geo(settings)

    assert "grids.geojson" in report and "cameras.csv" in report
    assert geo_path(settings, "grids.geojson") == DATA_DIR / "grids.geojson"
    assert geo_path(settings, "cameras.csv") == DATA_DIR / "cameras.csv"
    assert other.exists()
    geo = Geography(settings)
    assert geo.grids_path == DATA_DIR / "grids.geojson" and len(geo.grids) == 635
    assert "nothing to remove" in reset_geo(settings)
