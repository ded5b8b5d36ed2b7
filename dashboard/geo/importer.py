"""Install a deployment's own grid GeoJSON and camera CSV in place of the demo ones.

``python -m dashboard import-geo --grids FILE --cameras FILE`` calls :func:`import_geo`.
The files are validated completely first (formats: data/README.md); only when every
given file is free of problems are they written to ``instance/geo/`` (temp file +
``os.replace``, so a reader never sees a half-written file), where
:func:`dashboard.geo.geography.geo_path` prefers them over the demo files in ``data/``.
:func:`reset_geo` removes them again so the demo files apply.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import shapely
from shapely.geometry import Point, shape

from dashboard.config import Settings
from dashboard.geo.geography import geo_path

__all__ = ["GeoImportError", "import_geo", "reset_geo"]

_GRID_PROPS = ("code", "name", "village_code", "village_name", "town_code", "town_name")
_CAMERA_COLUMNS = ("id", "name", "town_code", "village_code", "grid_code", "lon", "lat",
                   "kind", "url", "status")
_KINDS = ("sim", "mjpeg", "snapshot", "hls", "embed")
_STATUSES = ("online", "offline")
_EXPECTED_GRIDS = 635
_MAX_LISTED = 20
# Anything farther than this (degrees, ~10 km) outside the district outline's bounding
# box is not a Luqiao grid or camera (wrong CRS, swapped axes, another place).
_NEAR_DEG = 0.1
# A camera more than this (degrees, ~100 m) from its grid polygon is reported as a warning.
_CAMERA_GRID_TOL = 0.001
_WGS84_CRS = ("CRS84", "EPSG::4326", "EPSG:4326", "EPSG::4490", "EPSG:4490")


class GeoImportError(ValueError):
    """The given files have problems; nothing was installed. ``problems`` lists them all."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        shown = self.problems[:_MAX_LISTED]
        lines = [f"{len(self.problems)} problem(s) found, nothing was installed:"]
        lines += [f"  - {p}" for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more")
        super().__init__("\n".join(lines))


@dataclass
class _GridSet:
    """Grids as far as they could be read: code -> (village_code, town_code), geometry."""
    parents: dict[str, tuple[str, str]] = field(default_factory=dict)
    geoms: dict[str, object] = field(default_factory=dict)
    rejected: set[str] = field(default_factory=set)  # codes of features with problems


# ---------------------------------------------------------------------------- helpers

def _read_text(path: Path, label: str, problems: list[str]) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(f"{label}: cannot read file: {exc.strerror or exc}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        problems.append(f"{label}: not UTF-8 text (invalid byte at line {line})")
        return None


def _number(value) -> float | None:
    """A finite float from a JSON number or numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        v = float(value)
    elif isinstance(value, str):
        try:
            v = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return v if math.isfinite(v) else None


def _district(settings: Settings):
    path = settings.data_dir / "district_outline.geojson"
    fc = json.loads(path.read_text(encoding="utf-8"))
    outline = shapely.union_all([shape(f["geometry"]) for f in fc["features"]])
    shapely.prepare(outline)
    minx, miny, maxx, maxy = outline.bounds
    near = (minx - _NEAR_DEG, miny - _NEAR_DEG, maxx + _NEAR_DEG, maxy + _NEAR_DEG)
    return outline, near


def _in_box(box, minx, miny, maxx, maxy) -> bool:
    """Whether the box (minx, miny, maxx, maxy) intersects ``box``."""
    return not (maxx < box[0] or minx > box[2] or maxy < box[1] or miny > box[3])


def _fmt_box(b) -> str:
    return f"lon {b[0]:.4f}..{b[2]:.4f}, lat {b[1]:.4f}..{b[3]:.4f}"


def _towns(settings: Settings) -> tuple[Path, dict[str, str]]:
    path = geo_path(settings, "towns.csv")
    with open(path, encoding="utf-8", newline="") as fh:
        return path, {row["code"]: row.get("name", "") for row in csv.DictReader(fh)}


def _village_codes(settings: Settings) -> set[str]:
    with open(geo_path(settings, "villages.csv"), encoding="utf-8", newline="") as fh:
        return {row["code"] for row in csv.DictReader(fh)}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# ---------------------------------------------------------------------------- grids

def _check_grids(settings: Settings, src: Path, problems: list[str], warnings: list[str]):
    """Validate a grid GeoJSON; returns (output text, grid set, stats) or Nones on fatal problems."""
    label = f"grids {src.name}"
    text = _read_text(src, label, problems)
    if text is None:
        return None, None, None
    try:
        fc = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(f"{label}: not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})")
        return None, None, None
    if not isinstance(fc, dict) or fc.get("type") != "FeatureCollection":
        got = fc.get("type") if isinstance(fc, dict) else type(fc).__name__
        problems.append(f"{label}: not a GeoJSON FeatureCollection (top-level type is {got!r})")
        return None, None, None
    crs = fc.get("crs")
    if crs is not None:
        name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
        if not (isinstance(name, str) and any(name.upper().endswith(c) for c in _WGS84_CRS)):
            problems.append(f"{label}: declares crs {name or crs!r}; coordinates must be "
                            "WGS84 longitude/latitude (convert them first)")
            return None, None, None
    features = fc.get("features")
    if not isinstance(features, list):
        problems.append(f"{label}: 'features' must be a list")
        return None, None, None
    if not features:
        problems.append(f"{label}: the FeatureCollection has no features")
        return None, None, None

    outline, near = _district(settings)
    towns_path, towns = _towns(settings)
    known_villages = _village_codes(settings)
    out_features: list[dict] = []
    grids = _GridSet()
    first_index: dict[str, int] = {}
    village_town: dict[str, tuple[str, int]] = {}
    kinds = Counter()
    computed_points = 0
    label_outside: list[str] = []
    town_name_mismatch: set[tuple[str, str]] = set()
    unknown_villages: set[str] = set()
    area_total = area_inside = 0.0
    any_intersects = False

    for i, feat in enumerate(features):
        where = f"{label} feature #{i}"
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            problems.append(f"{where}: not a GeoJSON Feature")
            continue
        props = feat.get("properties")
        if not isinstance(props, dict):
            problems.append(f"{where}: no 'properties' object")
            props = {}
        code = props.get("code")
        if isinstance(code, str) and code.strip():
            where = f"{where} (code {code.strip()})"
        ok = True
        values: dict[str, str] = {}
        for name in _GRID_PROPS:
            v = props.get(name)
            if name not in props or v is None:
                problems.append(f"{where}: missing property '{name}'")
                ok = False
            elif not isinstance(v, str):
                problems.append(f"{where}: property '{name}' must be a string, got {type(v).__name__} {v!r}")
                ok = False
            elif not v.strip():
                problems.append(f"{where}: property '{name}' is empty")
                ok = False
            else:
                values[name] = v.strip()

        if "code" in values:
            c = values["code"]
            if c in first_index:
                problems.append(f"{where}: duplicate code {c!r} (first used by feature #{first_index[c]})")
                ok = False
            else:
                first_index[c] = i
        if "town_code" in values:
            t = values["town_code"]
            if t not in towns:
                problems.append(f"{where}: property 'town_code': unknown town {t!r} (not in {towns_path})")
                ok = False
            elif "town_name" in values and values["town_name"] != towns[t]:
                town_name_mismatch.add((t, values["town_name"]))
        if "village_code" in values and values.get("town_code") in towns:
            vc, t = values["village_code"], values["town_code"]
            if vc not in known_villages:
                unknown_villages.add(vc)
            if vc in village_town and village_town[vc][0] != t:
                problems.append(f"{where}: village {vc} is in town_code {t!r} here but in "
                                f"{village_town[vc][0]!r} in feature #{village_town[vc][1]}")
                ok = False
            village_town.setdefault(vc, (t, i))

        # geometry
        g = feat.get("geometry")
        geom = None
        if not isinstance(g, dict):
            problems.append(f"{where}: no geometry")
            ok = False
        elif g.get("type") not in ("Polygon", "MultiPolygon"):
            problems.append(f"{where}: geometry type {g.get('type')!r}, expected Polygon or MultiPolygon")
            ok = False
        else:
            try:
                geom = shape(g)
            except Exception as exc:  # malformed coordinates: shapely raises various errors
                problems.append(f"{where}: geometry cannot be read ({exc})")
                ok = False
        if geom is not None:
            coords = shapely.get_coordinates(geom)
            if geom.is_empty or not len(coords):
                problems.append(f"{where}: empty geometry")
                geom, ok = None, False
            elif not (abs(coords[:, 0]) <= 180).all() or not (abs(coords[:, 1]) <= 90).all():
                problems.append(f"{where}: coordinates outside the WGS84 range "
                                f"({_fmt_box(geom.bounds)}); expected longitude, latitude in degrees")
                geom, ok = None, False
            elif not _in_box(near, *geom.bounds):
                problems.append(f"{where}: lies far outside the district ({_fmt_box(geom.bounds)}; "
                                f"district {_fmt_box(outline.bounds)})")
                geom, ok = None, False
            elif not geom.is_valid:
                problems.append(f"{where}: invalid polygon: {shapely.is_valid_reason(geom)}")
                geom, ok = None, False
        if geom is not None:
            kinds[geom.geom_type] += 1
            area = geom.area
            area_total += area
            if outline.intersects(geom):
                any_intersects = True
                area_inside += outline.intersection(geom).area

        # label point
        lon, lat = props.get("lon"), props.get("lat")
        if lon is None or lat is None:
            if geom is not None:
                rp = geom.representative_point()
                lon, lat = round(rp.x, 5), round(rp.y, 5)
                computed_points += 1
        else:
            nlon, nlat = _number(lon), _number(lat)
            for name, raw, v, lim in (("lon", lon, nlon, 180), ("lat", lat, nlat, 90)):
                if v is None:
                    problems.append(f"{where}: property '{name}' is not a number: {raw!r}")
                    ok = False
                elif abs(v) > lim:
                    problems.append(f"{where}: property '{name}' {v} outside the WGS84 range")
                    ok = False
            lon, lat = nlon, nlat
            if ok and geom is not None and not geom.intersects(Point(lon, lat)):
                label_outside.append(values.get("code", f"#{i}"))

        if not (ok and geom is not None):
            if "code" in values:
                grids.rejected.add(values["code"])
        else:
            c = values["code"]
            grids.parents[c] = (values["village_code"], values["town_code"])
            grids.geoms[c] = geom
            new_props = {name: values[name] for name in _GRID_PROPS}
            new_props["lon"], new_props["lat"] = lon, lat
            for k, v in props.items():  # further attributes of the official file are kept
                if k not in new_props:
                    new_props[k] = v
            out_features.append({"type": "Feature", "id": c,
                                 "geometry": {"type": g["type"], "coordinates": g["coordinates"]},
                                 "properties": new_props})

    if kinds and not any_intersects:
        problems.append(f"{label}: none of the grids intersects the district outline "
                        f"({settings.data_dir / 'district_outline.geojson'})")
    if problems:
        return None, grids, None

    n = len(out_features)
    if n != _EXPECTED_GRIDS:
        warnings.append(f"{_plural(n, 'grid')} imported; Luqiao has {_EXPECTED_GRIDS}")
    if area_total and area_inside / area_total < 0.98:
        warnings.append(f"only {area_inside / area_total:.1%} of the grid area lies inside the district "
                        "outline (coordinates in GCJ-02 or another CRS instead of WGS84?)")
    if label_outside:
        warnings.append(f"{_plural(len(label_outside), 'grid')} with lon/lat outside the polygon "
                        f"(e.g. {', '.join(label_outside[:5])}); map labels will sit outside")
    if town_name_mismatch:
        ex = ", ".join(f"{t} {nm!r} vs {towns[t]!r}" for t, nm in sorted(town_name_mismatch)[:5])
        warnings.append(f"town_name differs from {towns_path.name} for {ex}")
    if unknown_villages:
        warnings.append(f"{_plural(len(unknown_villages), 'village_code')} not in villages.csv "
                        f"(e.g. {', '.join(sorted(unknown_villages)[:5])})")
    overlaps = _overlapping_pairs(grids)
    if overlaps:
        ex = ", ".join(f"{a}/{b}" for a, b in overlaps[:5])
        warnings.append(f"{_plural(len(overlaps), 'pair')} of overlapping grids (e.g. {ex}); "
                        "a point in the overlap is assigned to the first grid")

    text_out = ('{"type":"FeatureCollection","features":['
                + ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":"))
                             for f in out_features)
                + "]}\n")
    stats = {"grids": n, "kinds": kinds, "computed_points": computed_points,
             "towns": len({t for _, t in grids.parents.values()}),
             "villages": len({v for v, _ in grids.parents.values()})}
    return text_out, grids, stats


def _overlapping_pairs(grids: _GridSet) -> list[tuple[str, str]]:
    codes = list(grids.geoms)
    geoms = [grids.geoms[c] for c in codes]
    if len(geoms) < 2:
        return []
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="overlaps")
    pairs = []
    for a, b in zip(left.tolist(), right.tolist()):
        # shared edges rounded independently can "overlap" by a sliver: ignore < 1 m²
        if a < b and geoms[a].intersection(geoms[b]).area > 1e-10:
            pairs.append((codes[a], codes[b]))
    return pairs


def _installed_grids(settings: Settings, problems: list[str]) -> tuple[Path, _GridSet]:
    path = geo_path(settings, "grids.geojson")
    grids = _GridSet()
    try:
        fc = json.loads(path.read_text(encoding="utf-8"))
        for f in fc["features"]:
            p = f["properties"]
            grids.parents[p["code"]] = (p["village_code"], p["town_code"])
            grids.geoms[p["code"]] = shape(f["geometry"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"cannot read the installed grids {path}: {exc}")
    return path, grids


# ---------------------------------------------------------------------------- cameras

def _check_cameras(settings: Settings, src: Path, grids: _GridSet | None, grids_from: str,
                   problems: list[str], warnings: list[str]):
    """Validate a camera CSV against ``grids``; returns (output text, stats) or Nones."""
    label = f"cameras {src.name}"
    text = _read_text(src, label, problems)
    if text is None:
        return None, None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        problems.append(f"{label} line 1: unreadable CSV header ({exc})")
        return None, None
    if not header or not any(h.strip() for h in header):
        problems.append(f"{label}: empty file, expected the header {','.join(_CAMERA_COLUMNS)}")
        return None, None
    header = [h.strip() for h in header]
    dupes = sorted(h for h, k in Counter(header).items() if k > 1)
    missing = [c for c in _CAMERA_COLUMNS if c not in header]
    extra = [h for h in header if h not in _CAMERA_COLUMNS]
    if dupes:
        problems.append(f"{label} line 1: duplicate column(s) {', '.join(dupes)}")
    if missing:
        problems.append(f"{label} line 1: missing column(s) {', '.join(missing)} "
                        f"(expected {','.join(_CAMERA_COLUMNS)})")
    if extra:
        problems.append(f"{label} line 1: unexpected column(s) {', '.join(repr(h) for h in extra)} "
                        f"(expected exactly {','.join(_CAMERA_COLUMNS)})")
    if dupes or missing or extra:
        return None, None

    _, near = _district(settings)
    col = {name: header.index(name) for name in _CAMERA_COLUMNS}
    rows: list[list[str]] = []
    first_line: dict[str, int] = {}
    points: list[tuple[str, float, float, str]] = []
    kinds, statuses = Counter(), Counter()
    prev_end = reader.line_num
    while True:
        try:
            raw = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"{label} line {prev_end + 1}: unreadable CSV ({exc})")
            return None, None
        line, prev_end = prev_end + 1, reader.line_num  # a quoted field may span lines
        if not raw or all(not v.strip() for v in raw):
            continue
        if len(raw) != len(header):
            problems.append(f"{label} line {line}: {len(raw)} fields, expected {len(header)}")
            continue
        r = {name: raw[col[name]].strip() for name in _CAMERA_COLUMNS}
        r["kind"], r["status"] = r["kind"].lower(), r["status"].lower()
        where = f"{label} line {line}" + (f" (id {r['id']})" if r["id"] else "")
        ok = True
        for name in ("id", "name", "town_code", "village_code", "grid_code", "lon", "lat",
                     "kind", "status"):
            if not r[name]:
                problems.append(f"{where}: field '{name}' is empty")
                ok = False
        if r["id"]:
            if r["id"] in first_line:
                problems.append(f"{where}: field 'id': duplicate id {r['id']!r} "
                                f"(first on line {first_line[r['id']]})")
                ok = False
            else:
                first_line[r["id"]] = line
        coords = {}
        for name, lim in (("lon", 180), ("lat", 90)):
            if not r[name]:
                continue
            v = _number(r[name])
            if v is None:
                problems.append(f"{where}: field '{name}' is not a number: {r[name]!r}")
                ok = False
            elif abs(v) > lim:
                problems.append(f"{where}: field '{name}' {v} outside the WGS84 range")
                ok = False
            else:
                coords[name] = v
        if len(coords) == 2:
            lon, lat = coords["lon"], coords["lat"]
            if not _in_box(near, lon, lat, lon, lat):
                problems.append(f"{where}: fields 'lon','lat' ({lon}, {lat}) lie far outside the district")
                ok = False
            r["lon"], r["lat"] = repr(round(lon, 6)), repr(round(lat, 6))
        if r["kind"] and r["kind"] not in _KINDS:
            problems.append(f"{where}: field 'kind': {r['kind']!r} is not one of {', '.join(_KINDS)}")
            ok = False
        elif r["kind"] and r["kind"] != "sim" and not r["url"]:
            problems.append(f"{where}: field 'url' is empty; required for kind {r['kind']!r}")
            ok = False
        if r["status"] and r["status"] not in _STATUSES:
            problems.append(f"{where}: field 'status': {r['status']!r} is not one of {', '.join(_STATUSES)}")
            ok = False
        gc = r["grid_code"]
        if gc and grids is not None:
            if gc in grids.rejected and gc not in grids.parents:
                ok = False  # the grid's own problems are reported; no follow-up errors here
            elif gc not in grids.parents:
                problems.append(f"{where}: field 'grid_code': unknown grid {gc!r} (not in {grids_from})")
                ok = False
            else:
                vc, tc = grids.parents[gc]
                if r["village_code"] and r["village_code"] != vc:
                    problems.append(f"{where}: field 'village_code': {r['village_code']!r} but grid "
                                    f"{gc} belongs to village {vc}")
                    ok = False
                if r["town_code"] and r["town_code"] != tc:
                    problems.append(f"{where}: field 'town_code': {r['town_code']!r} but grid "
                                    f"{gc} belongs to town {tc}")
                    ok = False
        if ok:
            rows.append([r[name] for name in _CAMERA_COLUMNS])
            kinds[r["kind"]] += 1
            statuses[r["status"]] += 1
            points.append((r["id"], coords["lon"], coords["lat"], gc))
    if problems:
        return None, None

    if grids is not None and points:
        geoms = [grids.geoms[gc] for *_, gc in points]
        pts = shapely.points([(lon, lat) for _, lon, lat, _ in points])
        dist = shapely.distance(pts, geoms)
        off_grid = [points[k][0] for k in range(len(points)) if dist[k] > _CAMERA_GRID_TOL]
    if not rows:
        warnings.append("the camera registry is empty (no camera rows)")
    if off_grid:
        warnings.append(f"{_plural(len(off_grid), 'camera')} more than ~100 m outside their grid "
                        f"(e.g. {', '.join(off_grid[:5])})")
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_CAMERA_COLUMNS)
    w.writerows(rows)
    return buf.getvalue(), {"cameras": len(rows), "kinds": kinds, "statuses": statuses}


def _stale_cameras(settings: Settings, grids: _GridSet, warnings: list[str]) -> None:
    """Grids imported alone: warn when the cameras in use refer to grids that no longer exist."""
    path = geo_path(settings, "cameras.csv")
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            codes = [row.get("grid_code", "") for row in csv.DictReader(fh)]
    except OSError:
        return
    stale = sum(1 for c in codes if c not in grids.parents)
    if stale:
        warnings.append(f"{stale} of the {len(codes)} cameras in use ({path}) refer to grids not in "
                        "the new grid file: import a matching camera CSV with --cameras")


# ---------------------------------------------------------------------------- writing

def _write_temp(directory: Path, name: str, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def _install(geo_dir: Path, outputs: dict[str, str]) -> None:
    """Write every output to a temp file first, then move them into place."""
    geo_dir.mkdir(parents=True, exist_ok=True)
    temps: dict[str, Path] = {}
    try:
        for name, text in outputs.items():
            temps[name] = _write_temp(geo_dir, name, text)
        for name, tmp in temps.items():
            os.replace(tmp, geo_dir / name)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


# ---------------------------------------------------------------------------- API

def import_geo(settings: Settings, grids: str | None, cameras: str | None) -> str:
    """Validate and install a grid GeoJSON and/or camera CSV into ``instance/geo``.

    Raises GeoImportError (listing every problem) without writing anything when a
    file is not acceptable. Returns a short report of what was installed.
    """
    if not grids and not cameras:
        raise ValueError("import_geo: give a grid GeoJSON (--grids), a camera CSV (--cameras) or both")
    problems: list[str] = []
    warnings: list[str] = []
    geo_dir = settings.instance_dir / "geo"
    outputs: dict[str, str] = {}
    report: list[str] = []

    grid_set: _GridSet | None = None
    if grids:
        src = Path(grids)
        text, grid_set, stats = _check_grids(settings, src, problems, warnings)
        if text is not None:
            outputs["grids.geojson"] = text
            shapes = ", ".join(f"{n} {k}" for k, n in sorted(stats["kinds"].items()))
            line = (f"grids: {stats['grids']} ({shapes}) in {stats['villages']} villages and "
                    f"{stats['towns']} towns, from {src} -> {geo_dir / 'grids.geojson'}")
            if stats["computed_points"]:
                line += f" (lon/lat computed for {stats['computed_points']})"
            report.append(line)
            if not cameras:
                _stale_cameras(settings, grid_set, warnings)
        grids_from = f"the imported grids {src.name}"
    else:
        grids_path, grid_set = _installed_grids(settings, problems)
        grids_from = f"the installed grids {grids_path}"
    if cameras:
        src = Path(cameras)
        text, stats = _check_cameras(settings, src, grid_set, grids_from, problems, warnings)
        if text is not None:
            outputs["cameras.csv"] = text
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(stats["kinds"].items()))
            st = ", ".join(f"{n} {k}" for k, n in sorted(stats["statuses"].items()))
            report.append(f"cameras: {stats['cameras']} ({kinds}; {st}), from {src} "
                          f"-> {geo_dir / 'cameras.csv'}")
    if problems:
        raise GeoImportError(problems)

    _install(geo_dir, outputs)
    lines = ["Installed " + r for r in report]
    if warnings:
        lines.append("Warnings:")
        lines += [f"  - {w}" for w in warnings]
    lines.append("Restart the app to use them. To return to the demo data, delete these files "
                 "(dashboard.geo.importer.reset_geo).")
    return "\n".join(lines)


def reset_geo(settings: Settings) -> str:
    """Remove the imported grids and cameras so the demo files in data/ apply again."""
    geo_dir = settings.instance_dir / "geo"
    removed = []
    for name in ("grids.geojson", "cameras.csv"):
        path = geo_dir / name
        try:
            path.unlink()
            removed.append(str(path))
        except FileNotFoundError:
            pass
    if not removed:
        return f"nothing to remove: no imported grids or cameras in {geo_dir}"
    return ("Removed " + ", ".join(removed)
            + f"; the app uses {geo_path(settings, 'grids.geojson')} and "
              f"{geo_path(settings, 'cameras.csv')} again (restart it).")
