#!/usr/bin/env python
"""Generate the schematic demo geography of Luqiao District (路桥区).

Inputs (all inside this folder):
    source/towns.csv, source/villages.csv, source/district_outline.geojson

Outputs (written next to this script):
    towns.csv, villages.csv, grids.geojson, towns.geojson,
    district_outline.geojson, cameras.csv

Everything except the source files is SCHEMATIC DEMO DATA: the town, village
and grid polygons are computed (power diagram / Voronoi tessellations of the
district outline) and the camera registry is random.  They are not official
boundaries.  The output is deterministic (fixed seed); run

    .venv/bin/python data/build_geo.py

from the repository root to regenerate it.
"""
from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Point, Polygon, box
from shapely.ops import polylabel

HERE = Path(__file__).resolve().parent
SRC = HERE / "source"

SEED = 20240635
TOTAL_GRIDS = 635
XINQIAO = "331004103"
XINQIAO_CAMERAS = 1800
OTHER_CAMERAS_MIN, OTHER_CAMERAS_MAX = 120, 450
OFFLINE_RATE = 0.03
GRID = 1e-5  # output precision in degrees (5 decimals)
SITE_MARGIN_KM = 0.3  # a town point keeps at least this distance inside its region

# 滨海新区 has no representative point in the source data: a schematic point
# on the east coast of the mainland, inside the district outline.
BINHAI_NEW_AREA_POINT = (121.595, 28.550)

NAME_EN = {
    "331004001": "Lunan Subdistrict",
    "331004002": "Luqiao Subdistrict",
    "331004003": "Lubei Subdistrict",
    "331004004": "Luoyang Subdistrict",
    "331004005": "Tongyu Subdistrict",
    "331004006": "Fengjiang Subdistrict",
    "331004103": "Xinqiao Town",
    "331004104": "Hengjie Town",
    "331004106": "Jinqing Town",
    "331004107": "Pengjie Town",
    "331004400": "Binhai Industrial City",
    "331004401": "Binhai New Area",
}

# Schematic relative land areas used to size the town regions: the power
# diagram weights are tuned towards these shares as far as the constraint
# "every town point stays inside its own region" allows (滨海新区, the east
# tip plus the islet, stays larger than its target).  They are NOT official
# figures: rural villages count fully, urban communities half, the two
# special units get a fixed share.
SPECIAL_AREA = {"331004400": 8.0, "331004401": 14.0}

# Grid-count weights (times a random factor, 0.6-1.6 for communities, 0.45-1.55
# for villages): communities are denser.
W_COMMUNITY = 5.0
W_VILLAGE = 2.1

CAMERA_SUFFIXES = [
    ("路口球机", 6), ("村口枪机", 4), ("河道监控", 3), ("市场出入口", 2),
    ("学校周边", 2), ("工业区道路", 3), ("消防通道", 2), ("出租房楼道", 3),
    ("停车场出入口", 2), ("公交站台", 2), ("桥梁监控", 2), ("小区门岗", 2),
    ("沿街商铺", 2), ("公园广场", 1), ("企业门口", 2),
]

# ---------------------------------------------------------------- projection
# All tessellation work is done in a local equirectangular projection in km
# (an affine map, so polygons map exactly); results are mapped back to WGS84.
LON0, LAT0 = 121.45, 28.55
KX = 111.320 * math.cos(math.radians(LAT0))
KY = 110.574


def to_km(geom):
    return shapely.transform(geom, lambda c: np.column_stack(((c[:, 0] - LON0) * KX, (c[:, 1] - LAT0) * KY)))


def to_deg(geom):
    return shapely.transform(geom, lambda c: np.column_stack((c[:, 0] / KX + LON0, c[:, 1] / KY + LAT0)))


def km_xy(lon, lat):
    return ((lon - LON0) * KX, (lat - LAT0) * KY)


# ------------------------------------------------------------------- helpers
def polys(geom):
    """The polygon parts of any geometry, largest first."""
    if geom is None or geom.is_empty:
        return []
    if isinstance(geom, Polygon):
        out = [geom]
    elif hasattr(geom, "geoms"):
        out = [p for g in geom.geoms for p in polys(g)]
    else:
        out = []
    return sorted((p for p in out if p.area > 0), key=lambda p: -p.area)


def largest_remainder(weights, total, minimum=0):
    """Integers >= minimum, proportional to weights, summing exactly to total
    (Hamilton / largest-remainder method; the floor is applied first and the
    leftover seats go to the largest remainders)."""
    w = np.asarray(weights, dtype=float)
    n = len(w)
    assert minimum * n <= total, (total, n, minimum)
    quota = w / w.sum() * total
    alloc = np.maximum(np.floor(quota).astype(int), minimum)
    rem = quota - np.floor(quota)
    while alloc.sum() < total:
        i = min((i for i in range(n)), key=lambda i: (-(quota[i] - alloc[i]), i))
        alloc[i] += 1
    while alloc.sum() > total:
        i = min((i for i in range(n) if alloc[i] > minimum), key=lambda i: (quota[i] - alloc[i] + 1, rem[i], i))
        alloc[i] -= 1
    return alloc


def random_points(rng, poly, n):
    """n uniform random points inside a polygon (rejection sampling)."""
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    out = []
    while len(out) < n:
        xs = rng.uniform(minx, maxx, 64)
        ys = rng.uniform(miny, maxy, 64)
        inside = shapely.contains_xy(poly, xs, ys)
        out.extend(zip(xs[inside], ys[inside]))
    return [tuple(p) for p in out[:n]]


def voronoi_cells(points, region):
    """Voronoi cells of points (list of (x,y)), clipped to region, in input order."""
    if len(points) == 1:
        return [region]
    mp = shapely.MultiPoint(points)
    env = box(*region.buffer(50).bounds)
    vor = shapely.voronoi_polygons(mp, extend_to=env, ordered=True)
    cells = list(vor.geoms)
    assert len(cells) == len(points)
    return [c.intersection(region) for c in cells]


def lloyd(rng, region, n, iters):
    """n seeds spread evenly inside a polygon by Lloyd relaxation."""
    pts = random_points(rng, region, n)
    for _ in range(iters):
        cells = voronoi_cells(pts, region)
        new = []
        for p, cell in zip(pts, cells):
            parts = polys(cell)
            if not parts:
                new.append(p)
                continue
            c = parts[0].centroid
            if not region.contains(c):
                c = parts[0].point_on_surface()
            new.append((c.x, c.y))
        # guard against coincident seeds
        if len({(round(x, 9), round(y, 9)) for x, y in new}) == len(new):
            pts = new
    return pts


def shared_length(a, b, eps=1e-6):
    return a.boundary.intersection(b.buffer(eps)).length


def fix_fragments(cells, seeds=None):
    """Make every cell a single polygon.

    cells: list of (Multi)Polygons tiling a connected area.  The part of each
    cell containing its seed (or its largest part) is kept; every detached
    fragment is merged into the cell it shares the longest border with.
    """
    main, frags = [], []
    for i, cell in enumerate(cells):
        parts = polys(cell)
        keep = 0
        if seeds is not None:
            sp = Point(seeds[i])
            for k, p in enumerate(parts):
                if p.buffer(1e-9).contains(sp):
                    keep = k
                    break
        main.append(parts[keep])
        frags.extend(p for k, p in enumerate(parts) if k != keep)
    while frags:
        progress = False
        rest = []
        for f in sorted(frags, key=lambda g: -g.area):
            best, best_len = None, 0.0
            for i, m in enumerate(main):
                if m.distance(f) > 1e-6:
                    continue
                ln = shared_length(f, m)
                if ln > best_len:
                    best, best_len = i, ln
            if best is None:
                rest.append(f)
                continue
            merged = polys(shapely.union(main[best], f))
            if len(merged) == 1:
                main[best] = merged[0]
            else:  # numeric contact only: keep the main polygon
                main[best] = merged[0]
            progress = True
        frags = rest
        if not progress:
            # isolated crumbs (numerical noise) are dropped
            break
    return main


# ---------------------------------------------------------- power diagram
def power_cells(sites, weights, region):
    """Power diagram (additively weighted in squared distance) clipped to region."""
    sites = np.asarray(sites, dtype=float)
    big = 1e4
    frame = box(-big, -big, big, big)
    cells = []
    for i, pi in enumerate(sites):
        cell = frame
        for j, pj in enumerate(sites):
            if i == j:
                continue
            n = 2.0 * (pj - pi)
            c = pj @ pj - pi @ pi + weights[i] - weights[j]
            nn = n @ n
            x0 = n * c / nn
            nh = n / math.sqrt(nn)
            d = np.array([-nh[1], nh[0]])
            half = Polygon([x0 + big * d, x0 - big * d, x0 - big * d - big * nh, x0 + big * d - big * nh])
            cell = cell.intersection(half)
        cells.append(cell.intersection(region))
    return cells


def town_regions(sites, targets, mainland, iters=80):
    """Tune power weights so the clipped cells approach the target areas.

    targets are absolute areas (km2).  Each site must keep a margin inside its
    own cell (so the source point stays a usable label point); a step that
    would break this is undone and the step size halved.
    """
    n = len(sites)
    pts = [Point(s) for s in sites]
    margin = [min(SITE_MARGIN_KM, 0.8 * mainland.exterior.distance(p)) for p in pts]
    targets = np.asarray(targets, dtype=float)
    scale2 = mainland.area / n
    w = np.zeros(n)
    best = w.copy()
    step = 0.5
    for _ in range(iters):
        cells = power_cells(sites, w, mainland)
        ok = all(c.contains(p) and c.boundary.distance(p) >= m - 1e-9
                 for c, p, m in zip(cells, pts, margin))
        if not ok:
            if np.array_equal(w, best):
                break
            step /= 2
            cells = power_cells(sites, best, mainland)
            w = best.copy()
        else:
            best = w.copy()
        areas = np.array([c.area for c in cells])
        r = np.sqrt(targets / np.maximum(areas, 1e-6))
        if np.max(np.abs(r - 1)) < 0.005:
            break
        w = w + step * (r - 1.0) * scale2
        w -= w.mean()
    return power_cells(sites, best, mainland)


# ------------------------------------------------------------------- names
def short_name(name):
    if name.endswith("社区居委会"):
        return name[: -len("居委会")]
    if name.endswith("居委会"):
        return name[: -len("居委会")] + "社区"
    if name.endswith("村委会"):
        return name[: -len("委会")]
    return name


def is_community(name):
    return ("社区" in name) or name.endswith("居委会") or name.endswith("生活区")


def rep_point(poly, decimals=5, prefer=None):
    """A point strictly inside poly that stays inside after rounding."""
    cands = []
    if prefer is not None:
        cands.append(prefer)
    c = poly.centroid
    cands.append((c.x, c.y))
    try:
        p = polylabel(poly, tolerance=GRID)
        cands.append((p.x, p.y))
    except Exception:
        pass
    p = poly.point_on_surface()
    cands.append((p.x, p.y))
    shapely.prepare(poly)
    for x, y in cands:
        rx, ry = round(x, decimals), round(y, decimals)
        if poly.contains(Point(rx, ry)) and poly.boundary.distance(Point(rx, ry)) > 2 * 10 ** -decimals:
            return rx, ry
    for x, y in cands:
        rx, ry = round(x, decimals), round(y, decimals)
        if poly.contains(Point(rx, ry)):
            return rx, ry
    raise RuntimeError("no representative point")


def round_coords(geom, nd=5):
    def rnd(coords):
        return [[round(x, nd), round(y, nd)] for x, y in coords]

    def rpoly(p):
        return [rnd(p.exterior.coords)] + [rnd(r.coords) for r in p.interiors]

    if isinstance(geom, Polygon):
        return {"type": "Polygon", "coordinates": rpoly(geom)}
    return {"type": "MultiPolygon", "coordinates": [rpoly(p) for p in geom.geoms]}


# ---------------------------------------------------------------- main
def main():
    rng = np.random.default_rng(SEED)

    # ---- read sources
    with open(SRC / "towns.csv", encoding="utf-8") as f:
        towns = list(csv.DictReader(f))
    with open(SRC / "villages.csv", encoding="utf-8") as f:
        villages = list(csv.DictReader(f))
    outline_fc = json.loads((SRC / "district_outline.geojson").read_text(encoding="utf-8"))
    outline = shapely.geometry.shape(outline_fc["features"][0]["geometry"])
    parts = polys(outline)
    mainland_deg, islets_deg = parts[0], parts[1:]

    for t in towns:
        if t["lon_wgs84"]:
            t["pt"] = (float(t["lon_wgs84"]), float(t["lat_wgs84"]))
        else:
            t["pt"] = BINHAI_NEW_AREA_POINT
            t["pt_schematic"] = True
        t["vills"] = [v for v in villages if v["town_code"] == t["code"]]
        assert len(t["vills"]) == int(t["villages_and_communities_2023"]), t["code"]
    assert sum(len(t["vills"]) for t in towns) == len(villages) == 228
    for t in towns:
        assert outline.contains(Point(t["pt"])), t["code"]

    # ---- grid counts per village (independent of geometry)
    w = []
    for v in villages:
        v["community"] = is_community(v["name"])
        if v["community"]:
            w.append(W_COMMUNITY * rng.uniform(0.6, 1.6))
        else:
            w.append(W_VILLAGE * rng.uniform(0.45, 1.55))
    counts = largest_remainder(w, TOTAL_GRIDS, minimum=1)
    for v, n in zip(villages, counts):
        v["grids"] = int(n)
    assert sum(v["grids"] for v in villages) == TOTAL_GRIDS

    # ---- town regions (km)
    mainland = to_km(mainland_deg)
    islets = [to_km(p) for p in islets_deg]
    sites = [km_xy(*t["pt"]) for t in towns]
    targets = []
    for t in towns:
        if t["code"] in SPECIAL_AREA:
            targets.append(SPECIAL_AREA[t["code"]])
        else:
            targets.append(int(t["villages_2023"]) + 0.5 * int(t["communities_2023"]))
    # islets go to the town with the nearest point; their area counts
    # towards that town's target
    islet_owner = []
    for isl in islets:
        c = isl.centroid
        islet_owner.append(min(range(len(sites)), key=lambda k: math.hypot(sites[k][0] - c.x, sites[k][1] - c.y)))
    targets = np.asarray(targets, dtype=float)
    targets = targets / targets.sum() * (mainland.area + sum(i.area for i in islets))
    for isl, k in zip(islets, islet_owner):
        targets[k] = max(targets[k] - isl.area, 0.25 * targets[k])
    targets = targets / targets.sum() * mainland.area
    cells = town_regions(sites, targets, mainland)
    cells = fix_fragments(cells, seeds=sites)
    town_parts = [[c] for c in cells]
    for isl, k in zip(islets, islet_owner):
        town_parts[k].append(isl)

    # ---- village regions and grid cells (km)
    grid_polys = []  # (village, seq, polygon_km)
    for t, tparts in zip(towns, town_parts):
        vills = t["vills"]
        nv = len(vills)
        areas = [p.area for p in tparts]
        per_part = largest_remainder(areas, nv, minimum=1)
        vcells = []
        for part, k in zip(tparts, per_part):
            seeds = lloyd(rng, part, int(k), iters=10)
            cs = voronoi_cells(seeds, part)
            vcells.extend(fix_fragments(cs, seeds=seeds))
        # communities take the cells nearest the town point, villages the rest
        # (both in order of code, walking outwards)
        sx, sy = km_xy(*t["pt"])
        by_dist = sorted(range(nv), key=lambda i: math.hypot(vcells[i].centroid.x - sx, vcells[i].centroid.y - sy))
        comm = [v for v in vills if v["community"]]
        rural = [v for v in vills if not v["community"]]
        for v, ci in zip(comm + rural, by_dist):
            v["region_km"] = vcells[ci]
        for v in vills:
            region = v["region_km"]
            k = v["grids"]
            seeds = lloyd(rng, region, k, iters=8)
            gcs = fix_fragments(voronoi_cells(seeds, region), seeds=seeds)
            # number grids in a stable spatial order (north-west first)
            order = sorted(range(k), key=lambda i: (-round(gcs[i].centroid.y, 1), gcs[i].centroid.x))
            for seq, i in enumerate(order, 1):
                grid_polys.append((v, seq, gcs[i]))
    assert len(grid_polys) == TOTAL_GRIDS

    # ---- snap to a clean 1e-5 degree coverage: node all borders once,
    # polygonize, and give every face to the grid it overlaps most.
    raw = [to_deg(g) for _, _, g in grid_polys]
    lines = shapely.union_all([r.boundary for r in raw] + [outline.boundary], grid_size=GRID)
    faces = list(shapely.polygonize(polys_lines(lines)).geoms)
    tree = shapely.STRtree(raw)
    owner_faces = [[] for _ in raw]
    for f in faces:
        if f.area == 0:
            continue
        cand = tree.query(f)
        best, best_a = None, 0.0
        for i in cand:
            a = raw[i].intersection(f).area
            if a > best_a:
                best, best_a = int(i), a
        if best is None or best_a < 0.5 * f.area:
            # a gap/outside crumb: give it to the grid sharing the longest border
            if not outline.buffer(GRID).contains(f):
                continue
            cand = tree.query(f.buffer(GRID))
            best = max(cand, key=lambda i: shared_length(f, raw[i], GRID / 10)) if len(cand) else None
            if best is None:
                continue
        owner_faces[int(best)].append(f)
    snapped = [shapely.coverage_union_all(fs) if len(fs) > 1 else fs[0] for fs in owner_faces]
    snapped = fix_coverage(snapped)

    # ---- assemble outputs in degrees
    features = []
    for (v, seq, _), poly in zip(grid_polys, snapped):
        t = next(t for t in towns if t["code"] == v["town_code"])
        code = f"{v['code']}-{seq:02d}"
        lon, lat = rep_point(poly)
        features.append({
            "type": "Feature",
            "id": code,
            "geometry": round_coords(poly),
            "properties": {
                "code": code,
                "name": f"{short_name(v['name'])}第{seq}网格",
                "village_code": v["code"],
                "village_name": v["name"],
                "town_code": t["code"],
                "town_name": t["name"],
                "lon": lon,
                "lat": lat,
            },
            "_poly": poly,
        })
    features.sort(key=lambda f: f["id"])

    # village and town polygons = unions of their grids (exactly consistent)
    vpoly, tpoly = {}, {}
    for f in features:
        vpoly.setdefault(f["properties"]["village_code"], []).append(f["_poly"])
        tpoly.setdefault(f["properties"]["town_code"], []).append(f["_poly"])
    vpoly = {k: shapely.coverage_union_all(v) for k, v in vpoly.items()}
    tpoly = {k: shapely.coverage_union_all(v) for k, v in tpoly.items()}

    # ---- towns.csv / towns.geojson
    town_rows, town_feats = [], []
    for t in towns:
        reg = tpoly[t["code"]]
        if not t.get("pt_schematic") and reg.contains(Point(t["pt"])) and reg.boundary.distance(Point(t["pt"])) > 2e-5:
            lon, lat = t["pt"]
        else:
            lon, lat = rep_point(polys(reg)[0], prefer=t["pt"])
        t["label"] = (lon, lat)
        town_rows.append([t["code"], t["name"], NAME_EN[t["code"]], t["type"], len(t["vills"]), lon, lat])
        town_feats.append({
            "type": "Feature",
            "id": t["code"],
            "geometry": round_coords(reg),
            "properties": {"code": t["code"], "name": t["name"], "name_en": NAME_EN[t["code"]], "lon": lon, "lat": lat},
        })
    write_csv(HERE / "towns.csv", ["code", "name", "name_en", "type", "villages", "lon", "lat"], town_rows)
    write_geojson(HERE / "towns.geojson", town_feats)

    # ---- villages.csv
    vrows = []
    for v in villages:
        reg = vpoly[v["code"]]
        lon, lat = rep_point(polys(reg)[0])
        vrows.append([v["code"], v["name"], v["town_code"], v["grids"], lon, lat])
    write_csv(HERE / "villages.csv", ["code", "name", "town_code", "grids", "lon", "lat"], vrows)

    # ---- grids.geojson
    out_feats = [{k: f[k] for k in ("type", "id", "geometry", "properties")} for f in features]
    write_geojson(HERE / "grids.geojson", out_feats)

    # ---- district outline (verbatim copy of the source)
    shutil.copyfile(SRC / "district_outline.geojson", HERE / "district_outline.geojson")

    # ---- cameras.csv
    grids_by_town = {}
    for f in features:
        grids_by_town.setdefault(f["properties"]["town_code"], []).append(f)
    others = [t["code"] for t in towns if t["code"] != XINQIAO]
    gmin = min(len(grids_by_town[c]) for c in others)
    gmax = max(len(grids_by_town[c]) for c in others)
    cam_total = {}
    for t in towns:
        g = len(grids_by_town[t["code"]])
        if t["code"] == XINQIAO:
            cam_total[t["code"]] = XINQIAO_CAMERAS
        else:
            x = OTHER_CAMERAS_MIN + (OTHER_CAMERAS_MAX - OTHER_CAMERAS_MIN) * (g - gmin) / (gmax - gmin)
            cam_total[t["code"]] = int(round(x / 10.0) * 10)
    suffixes = [s for s, _ in CAMERA_SUFFIXES]
    sweights = np.array([w for _, w in CAMERA_SUFFIXES], dtype=float)
    sweights /= sweights.sum()
    cam_rows = []
    for t in towns:
        gl = grids_by_town[t["code"]]
        wts = [math.sqrt(f["_poly"].area) * rng.lognormal(0.0, 0.35) for f in gl]
        per_grid = largest_remainder(wts, cam_total[t["code"]], minimum=1)
        seq = 0
        for f, n in zip(gl, per_grid):
            poly = f["_poly"]
            shapely.prepare(poly)
            used = {}
            for _ in range(int(n)):
                seq += 1
                while True:
                    (x, y), = random_points(rng, poly, 1)
                    x, y = round(x, 6), round(y, 6)
                    pt = Point(x, y)
                    if poly.contains(pt) and poly.boundary.distance(pt) > 2e-5:
                        break
                s = suffixes[rng.choice(len(suffixes), p=sweights)]
                used[s] = used.get(s, 0) + 1
                sname = s if used[s] == 1 else f"{s}{used[s]}号"
                cam_rows.append([
                    f"CAM-{t['code']}-{seq:04d}",
                    f"{t['name']}{f['properties']['name']} {sname}",
                    t["code"], f["properties"]["village_code"], f["id"],
                    x, y, "sim", "", "online",
                ])
        # exactly round(3 %) of each town's cameras are offline
        town_cams = cam_rows[len(cam_rows) - seq:]
        for i in sorted(rng.choice(seq, int(round(OFFLINE_RATE * seq)), replace=False)):
            town_cams[int(i)][-1] = "offline"
    write_csv(HERE / "cameras.csv",
              ["id", "name", "town_code", "village_code", "grid_code", "lon", "lat", "kind", "url", "status"],
              cam_rows)

    # ---- summary
    print(f"{'code':10} {'name':8} villages grids cameras")
    for t in towns:
        print(f"{t['code']:10} {t['name']:8} {len(t['vills']):8d} {len(grids_by_town[t['code']]):5d} {cam_total[t['code']]:7d}")
    print(f"{'total':19} {len(villages):8d} {len(features):5d} {len(cam_rows):7d}")


def polys_lines(lines):
    """Line parts of a (multi)linestring collection as a list."""
    if hasattr(lines, "geoms"):
        return [g for g in lines.geoms if g.geom_type in ("LineString", "LinearRing")]
    return [lines]


def fix_coverage(cover):
    """Ensure every coverage element is a single polygon: detached crumbs of a
    MultiPolygon go to the neighbour sharing the longest border."""
    cover = list(cover)
    tree = shapely.STRtree(cover)
    for i, g in enumerate(cover):
        parts = polys(g)
        if len(parts) <= 1:
            cover[i] = parts[0]
            continue
        cover[i] = parts[0]
        for crumb in parts[1:]:
            cand = [int(j) for j in tree.query(crumb.buffer(GRID)) if int(j) != i]
            best = max(cand, key=lambda j: shared_length(crumb, cover[j], GRID / 10), default=None)
            if best is None or shared_length(crumb, cover[best], GRID / 10) == 0:
                continue  # isolated crumb: dropped
            merged = polys(shapely.coverage_union_all([cover[best], crumb]))
            cover[best] = merged[0] if len(merged) == 1 else cover[best]
    for g in cover:
        assert isinstance(g, Polygon) and g.is_valid
    return cover


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(header)
        wr.writerows(rows)


def write_geojson(path, features):
    fc = {"type": "FeatureCollection", "features": features}
    text = json.dumps(fc, ensure_ascii=False, separators=(",", ":"))
    # one feature per line keeps diffs readable
    text = text.replace(',{"type":"Feature"', ',\n{"type":"Feature"')
    path.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
