#!/usr/bin/env python
"""Consistency checks for the generated demo geography in this folder.

    .venv/bin/python data/check_geo.py [--png preview.png]

Exits non-zero on the first failed check.  --png draws a quick preview
(pure numpy + zlib, no imaging library needed).
"""
from __future__ import annotations

import argparse
import csv
import json
import struct
import sys
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Point, shape

HERE = Path(__file__).resolve().parent
XINQIAO = "331004103"


def read_csv(name):
    with open(HERE / name, encoding="utf-8", newline="") as f:
        rd = csv.DictReader(f)
        return rd.fieldnames, list(rd)


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)
    print("ok  ", msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--png")
    args = ap.parse_args()

    tcols, towns = read_csv("towns.csv")
    vcols, villages = read_csv("villages.csv")
    ccols, cams = read_csv("cameras.csv")
    check(tcols == ["code", "name", "name_en", "type", "villages", "lon", "lat"], "towns.csv columns")
    check(vcols == ["code", "name", "town_code", "grids", "lon", "lat"], "villages.csv columns")
    check(ccols == ["id", "name", "town_code", "village_code", "grid_code", "lon", "lat", "kind", "url", "status"],
          "cameras.csv columns")
    check(len(towns) == 12, f"12 towns ({len(towns)})")
    check(len(villages) == 228 and len({v['code'] for v in villages}) == 228, "228 unique villages")
    check(sum(int(v["grids"]) for v in villages) == 635, "villages.csv grids sum to 635")
    check(all(int(v["grids"]) >= 1 for v in villages), "every village has >= 1 grid (villages.csv)")
    tcode = {t["code"]: t for t in towns}
    vcode = {v["code"]: v for v in villages}
    check(all(v["town_code"] in tcode for v in villages), "village town codes exist")
    vc = Counter(v["town_code"] for v in villages)
    check(all(int(t["villages"]) == vc[t["code"]] for t in towns), "towns.csv villages counts match villages.csv")

    outline = shape(json.loads((HERE / "district_outline.geojson").read_text(encoding="utf-8"))["features"][0]["geometry"])
    fc = json.loads((HERE / "grids.geojson").read_text(encoding="utf-8"))
    feats = fc["features"]
    check(fc["type"] == "FeatureCollection" and len(feats) == 635, f"635 grid features ({len(feats)})")
    codes = [f["id"] for f in feats]
    check(len(set(codes)) == 635, "unique grid codes")
    keys = ["code", "name", "village_code", "village_name", "town_code", "town_name", "lon", "lat"]
    check(all(list(f["properties"]) == keys for f in feats), "grid properties exactly " + ",".join(keys))
    check(all(f["id"] == f["properties"]["code"] for f in feats), "feature id == code")
    check(all(f["geometry"]["type"] == "Polygon" for f in feats), "all Polygon (no MultiPolygon)")
    check(all(all(len(str(c).split(".")[-1]) <= 5 for ring in f["geometry"]["coordinates"] for xy in ring for c in xy)
              for f in feats), "coordinates have <= 5 decimals")
    geoms = [shape(f["geometry"]) for f in feats]
    bad = [c for c, g in zip(codes, geoms) if not g.is_valid]
    check(not bad, f"all polygons valid {bad[:5]}")
    gcount = Counter()
    for f, g in zip(feats, geoms):
        p = f["properties"]
        v = vcode.get(p["village_code"])
        assert v is not None, p
        assert p["code"].startswith(p["village_code"] + "-") and len(p["code"]) == 15, p["code"]
        assert v["name"] == p["village_name"] and v["town_code"] == p["town_code"], p
        assert tcode[p["town_code"]]["name"] == p["town_name"], p
        assert p["name"].endswith(f"第{int(p['code'][-2:])}网格"), p
        assert g.contains(Point(p["lon"], p["lat"])), p
        gcount[p["village_code"]] += 1
    check(True, "grid village/town/name/label consistent with villages.csv, labels inside")
    check(all(gcount[v["code"]] == int(v["grids"]) for v in villages), "grids per village match villages.csv")

    union = shapely.union_all(geoms)
    ratio = union.area / outline.area
    sym = shapely.symmetric_difference(union, outline).area / outline.area
    check(abs(ratio - 1) < 1e-3, f"union/outline area ratio = {ratio:.6f} (sym. difference {sym:.2e} of outline)")
    total = sum(g.area for g in geoms)
    check(abs(total / union.area - 1) < 1e-6, f"sum of areas / union area = {total / union.area:.9f}")
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    ov = 0.0
    for i, j in zip(left, right):
        if i < j:
            ov += geoms[i].intersection(geoms[j]).area
    check(ov / outline.area < 1e-6, f"pairwise overlap area = {ov:.3e} deg2 ({ov / outline.area:.2e} of outline)")

    # villages.csv / towns.csv label points inside their regions
    vreg = {}
    treg = {}
    for f, g in zip(feats, geoms):
        vreg.setdefault(f["properties"]["village_code"], []).append(g)
        treg.setdefault(f["properties"]["town_code"], []).append(g)
    vreg = {k: shapely.union_all(v) for k, v in vreg.items()}
    treg = {k: shapely.union_all(v) for k, v in treg.items()}
    check(all(vreg[v["code"]].contains(Point(float(v["lon"]), float(v["lat"]))) for v in villages),
          "village points inside village regions")
    check(all(treg[t["code"]].contains(Point(float(t["lon"]), float(t["lat"]))) for t in towns),
          "town points inside town regions")
    multi_v = [k for k, g in vreg.items() if g.geom_type != "Polygon"]
    check(not multi_v, f"every village region is one polygon {multi_v}")
    tfc = json.loads((HERE / "towns.geojson").read_text(encoding="utf-8"))
    check(len(tfc["features"]) == 12 and all(shape(f["geometry"]).is_valid for f in tfc["features"]),
          "towns.geojson: 12 valid features")
    check(all(list(f["properties"]) == ["code", "name", "name_en", "lon", "lat"] for f in tfc["features"]),
          "towns.geojson properties")

    # cameras
    gidx = {c: i for i, c in enumerate(codes)}
    check(len({c["id"] for c in cams}) == len(cams), f"{len(cams)} unique camera ids")
    check(len({c["name"] for c in cams}) == len(cams), "unique camera names")
    outside = []
    for c in cams:
        i = gidx[c["grid_code"]]
        p = feats[i]["properties"]
        if not (p["village_code"] == c["village_code"] and p["town_code"] == c["town_code"]):
            outside.append(c["id"])
        elif not geoms[i].contains(Point(float(c["lon"]), float(c["lat"]))):
            outside.append(c["id"])
    check(not outside, f"every camera inside its grid, codes consistent {outside[:5]}")
    xs = np.array([float(c["lon"]) for c in cams])
    ys = np.array([float(c["lat"]) for c in cams])
    hits = Counter()
    for j, i in zip(*tree.query(shapely.points(xs, ys), predicate="within")):
        hits[int(j)] += 1
    check(all(v == 1 for v in hits.values()) and len(hits) == len(cams), "each camera in exactly one grid")
    tc = Counter(c["town_code"] for c in cams)
    check(tc[XINQIAO] == 1800, f"新桥镇 cameras = {tc[XINQIAO]}")
    check(all(c["kind"] == "sim" and c["url"] == "" and c["status"] in ("online", "offline") for c in cams),
          "kind=sim, url empty, status online/offline")
    off = sum(c["status"] == "offline" for c in cams) / len(cams)
    check(0.01 < off < 0.06, f"offline share {off:.1%}")
    print()
    print(f"{'town':10} {'name':8} villages grids cameras")
    gc = Counter(f["properties"]["town_code"] for f in feats)
    for t in towns:
        print(f"{t['code']:10} {t['name']:8} {vc[t['code']]:8d} {gc[t['code']]:5d} {tc[t['code']]:7d}")
    print(f"{'total':19} {len(villages):8d} {len(feats):5d} {len(cams):7d}")
    for name in ["towns.csv", "villages.csv", "grids.geojson", "towns.geojson", "district_outline.geojson", "cameras.csv"]:
        print(f"  {name:26} {(HERE / name).stat().st_size / 1024:8.1f} KB")

    if args.png:
        render(args.png, outline, feats, geoms, towns, tfc, xs, ys)
        print("preview written to", args.png)


# ------------------------------------------------------------------ preview
def render(path, outline, feats, geoms, towns, tfc, cx, cy, width=1600):
    minx, miny, maxx, maxy = outline.bounds
    pad = 0.005
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    kx = np.cos(np.radians((miny + maxy) / 2))
    height = int(width * (maxy - miny) / ((maxx - minx) * kx))
    px = (maxx - minx) / width
    py = (maxy - miny) / height
    xs = minx + (np.arange(width) + 0.5) * px
    ys = maxy - (np.arange(height) + 0.5) * py
    label = np.full((height, width), -1, dtype=np.int32)
    for i, g in enumerate(geoms):
        gx0, gy0, gx1, gy1 = g.bounds
        c0, c1 = max(0, int((gx0 - minx) / px)), min(width, int((gx1 - minx) / px) + 2)
        r0, r1 = max(0, int((maxy - gy1) / py)), min(height, int((maxy - gy0) / py) + 2)
        X, Y = np.meshgrid(xs[c0:c1], ys[r0:r1])
        m = shapely.contains_xy(g, X, Y)
        label[r0:r1, c0:c1][m] = i
    tindex = {t["code"]: k for k, t in enumerate(towns)}
    vindex = {}
    palette = np.array([
        (141, 211, 199), (255, 255, 179), (190, 186, 218), (251, 128, 114), (128, 177, 211), (253, 180, 98),
        (179, 222, 105), (252, 205, 229), (217, 217, 217), (188, 128, 189), (204, 235, 197), (255, 237, 111)])
    col = np.zeros((len(geoms) + 1, 3))
    col[-1] = (40, 60, 90)  # sea / outside
    town_of = np.zeros(len(geoms) + 1, dtype=int) - 1
    vil_of = np.zeros(len(geoms) + 1, dtype=int) - 1
    for i, f in enumerate(feats):
        p = f["properties"]
        t = tindex[p["town_code"]]
        v = vindex.setdefault(p["village_code"], len(vindex))
        shade = 0.75 + 0.25 * ((v * 7919) % 13) / 12
        col[i] = palette[t] * shade
        town_of[i], vil_of[i] = t, v
    img = col[label].astype(np.uint8)
    lab = label.copy()
    lab[lab < 0] = len(geoms)

    def edges(a):
        e = np.zeros(a.shape, bool)
        e[:, 1:] |= a[:, 1:] != a[:, :-1]
        e[1:, :] |= a[1:, :] != a[:-1, :]
        return e

    img[edges(lab)] = (110, 110, 110)
    img[edges(vil_of[lab])] = (50, 50, 50)
    te = edges(town_of[lab])
    te2 = te.copy()
    te2[1:, :] |= te[:-1, :]
    te2[:, 1:] |= te[:, :-1]
    img[te2] = (0, 0, 0)
    # cameras (one pixel each, red)
    ci = ((cx - minx) / px).astype(int)
    ri = ((maxy - cy) / py).astype(int)
    ok = (ci >= 0) & (ci < width) & (ri >= 0) & (ri < height)
    img[ri[ok], ci[ok]] = (200, 0, 0)
    # town label points (white squares)
    for t in towns:
        c, r = int((float(t["lon"]) - minx) / px), int((maxy - float(t["lat"])) / py)
        img[max(0, r - 4):r + 5, max(0, c - 4):c + 5] = (255, 255, 255)
        img[max(0, r - 2):r + 3, max(0, c - 2):c + 3] = (0, 0, 0)
    write_png(path, img)


def write_png(path, img):
    h, w, _ = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    Path(path).write_bytes(png)


if __name__ == "__main__":
    main()
