"""The native API on a real app (Flask test client), real Redis and both databases."""
from __future__ import annotations

import time
import uuid

import orjson
import pytest

from dashboard.runtime import Runtime

XINQIAO = (28.5231, 121.4147)  # a point in 新桥镇


def good_report(**over):
    body = {"category": "fire_hazard", "description": "商户违规使用明火，存在安全隐患",
            "lat": XINQIAO[0], "lon": XINQIAO[1], "reporter": "网格员陈君辉"}
    body.update(over)
    return body


def keyed_client(server, username="apikey-admin", role="admin"):
    """A test client of ``server`` that sends a new API key of a new ``role`` account."""
    accounts = server.extensions["griddash.accounts"]
    accounts.add_user(username, role)
    client = server.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {accounts.create_key(username)[1]}"
    return client


def post(client, body, **kw):
    data = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
    kw.setdefault("content_type", "application/json")
    return client.post("/api/v1/incidents", data=data, **kw)


def test_categories_lists_the_four_platforms(client):
    res = client.get("/api/v1/categories")
    assert res.status_code == 200
    body = res.get_json()
    assert {p["name"] for p in body["platforms"]} == {"综治工作", "市场监管", "综合执法", "便民服务"}
    fire = next(c for c in body["categories"] if c["code"] == "fire_hazard")
    assert fire["default_urgency"] == "red" and fire["platform_name"] == "综治工作"


def test_post_is_accepted_located_stored_and_readable(client, rt, drain):
    res = post(client, good_report(urgency="yellow", photos=["https://example.org/p/1.jpg"]))
    assert res.status_code == 202, res.get_json()
    body = res.get_json()
    iid = body["id"]
    assert body["town"] == "331004103" and body["grid"].startswith("331004103")
    assert res.headers["Location"] == f"/api/v1/incidents/{iid}"
    assert client.get(f"/api/v1/incidents/{iid}").status_code == 404  # not stored yet
    drain()
    got = client.get(f"/api/v1/incidents/{iid}")
    assert got.status_code == 200
    inc = got.get_json()
    assert inc["status"] == "reported" and inc["urgency"] == "yellow"
    assert inc["grid_code"] == body["grid"] and inc["photos"] == ["https://example.org/p/1.jpg"]
    assert [e["type"] for e in inc["events"]] == ["reported"]


def test_post_with_id_is_idempotent(client, rt, drain):
    iid = str(uuid.uuid4())
    for _ in range(3):
        assert post(client, good_report(id=iid)).status_code == 202
    drain()
    assert rt.store.count_incidents() == 1 and rt.store.count_events() == 1


def test_given_grid_and_reported_at_are_kept(client, rt, drain):
    body = good_report()
    at = rt.geo.locate(body["lat"], body["lon"])  # another grid of the point's town: GPS jitter is allowed
    grid = next(g.code for g in rt.geo.grids.values() if g.town_code == at.town_code and g.code != at.code)
    res = post(client, good_report(grid=grid, reported_at="2026-11-26T09:30:00+08:00"))
    assert res.status_code == 202
    drain()
    inc = client.get(f"/api/v1/incidents/{res.get_json()['id']}").get_json()
    assert inc["grid_code"] == grid
    assert inc["reported_at"] == "2026-11-26T01:30:00+00:00"


def test_a_grid_of_another_town_than_the_point_is_refused(client, rt):
    body = good_report()
    town = rt.geo.locate(body["lat"], body["lon"]).town_code
    grid = next(g.code for g in rt.geo.grids.values() if g.town_code != town)
    length = rt.redis.xlen(rt.settings.stream)
    res = post(client, good_report(grid=grid))
    assert res.status_code == 422 and res.get_json()["fields"][0]["field"] == "grid"
    assert rt.redis.xlen(rt.settings.stream) == length


BAD = [
    # (case, body or raw bytes, extra kwargs, status, field named in the answer)
    ("missing category", {k: v for k, v in good_report().items() if k != "category"}, {}, 422, "category"),
    ("missing lat", {k: v for k, v in good_report().items() if k != "lat"}, {}, 422, "lat"),
    ("lat as string", good_report(lat="28.5"), {}, 422, "lat"),
    ("lon as bool", good_report(lon=True), {}, 422, "lon"),
    ("description as number", good_report(description=42), {}, 422, "description"),
    ("empty description", good_report(description="   "), {}, 422, "description"),
    ("unknown category", good_report(category="ufo_sighting"), {}, 422, "category"),
    ("outside the district", good_report(lat=39.9042, lon=116.4074), {}, 422, "lat"),
    ("impossible latitude", good_report(lat=123.0), {}, 422, "lat"),
    ("NaN coordinate", b'{"category":"fire_hazard","description":"x","lat":NaN,"lon":121.41,"reporter":"a"}',
     {}, 400, None),
    ("bad id", good_report(id="not-a-uuid"), {}, 422, "id"),
    ("naive reported_at", good_report(reported_at="2026-11-26T09:30:00"), {}, 422, "reported_at"),
    ("future reported_at", good_report(reported_at="2099-01-01T00:00:00+08:00"), {}, 422, "reported_at"),
    ("unknown urgency", good_report(urgency="purple"), {}, 422, "urgency"),
    ("unknown grid", good_report(grid="999"), {}, 422, "grid"),
    ("unknown field", good_report(colour="red"), {}, 422, "colour"),
    ("control characters", good_report(description="明火\x00隐患"), {}, 422, "description"),
    ("not JSON", b"category=fire_hazard&lat=28", {}, 400, None),
    ("JSON array", b"[1, 2]", {}, 400, None),
    ("wrong content type", orjson.dumps(good_report()), {"content_type": "text/plain"}, 415, None),
    ("body too large", good_report(description="长" * 40_000), {}, 413, None),
]


@pytest.mark.parametrize("case,body,kw,status,field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_and_nothing_is_written(client, rt, case, body, kw, status, field, drain):
    before = rt.redis.xlen(rt.settings.stream)
    res = post(client, body, **kw)
    assert res.status_code == status, res.get_data(as_text=True)
    answer = res.get_json()
    assert answer["error"]
    if field:
        assert field in answer["error"]
        assert any(f["field"] == field for f in answer["fields"])
    assert rt.redis.xlen(rt.settings.stream) == before
    drain()
    assert rt.store.count_events() == 0


def test_get_incident_bad_and_unknown_ids(client):
    assert client.get("/api/v1/incidents/xyz").status_code == 400
    assert client.get(f"/api/v1/incidents/{uuid.uuid4()}").status_code == 404


def test_healthz_reports_pipeline_state(client, rt, r, drain):
    for _ in range(3):
        post(client, good_report())
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["redis"] and body["database"]
    assert body["stream_length"] == 3 and body["lag"] == 3 and body["incidents"] == 0
    drain()
    r.xadd(rt.settings.dead_letter_stream, {"error": "x"})
    body = client.get("/healthz").get_json()
    assert body["lag"] == 0 and body["pending"] == 0 and body["incidents"] == 3
    assert body["dead_letters"] == 1


def test_healthz_is_503_when_redis_is_down(settings, tmp_path):
    from app import create_app
    from dashboard.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "r", persist=False).start()
    runtime = Runtime.start(settings.with_(redis_url=server.url), background=False)
    try:
        client = keyed_client(create_app(runtime.settings, runtime=runtime).server)
        assert client.get("/healthz").status_code == 200
        server.kill()
        res = client.get("/healthz")
        assert res.status_code == 503
        assert res.get_json()["redis"] is False and res.get_json()["database"] is True
        # A report cannot be accepted while the stream is down: 503, not a silent loss.
        assert post(client, good_report()).status_code == 503
    finally:
        runtime.close()
        server.stop()


def test_amap_preset_serves_grids_shifted_to_gcj02(settings):
    from app import create_app
    from dashboard.geo.basemap import wgs84_to_gcj02

    rt = Runtime.start(settings.with_(tile_preset="amap"), background=False)
    try:
        client = keyed_client(create_app(rt.settings, runtime=rt).server)
        shifted = client.get("/api/v1/geo/grids.geojson").get_json()
        plain = rt.geo.grid_features
        assert len(shifted["features"]) == len(plain) == 635
        lon, lat = plain[0]["geometry"]["coordinates"][0][0]
        assert shifted["features"][0]["geometry"]["coordinates"][0][0] == \
            [round(v, 6) for v in wgs84_to_gcj02(lon, lat)]
    finally:
        rt.close()


def test_live_markers_are_served_once_compressed_with_etag(client, rt, drain):
    import gzip as _gzip

    post(client, good_report())
    other = post(client, good_report(lat=28.5949, lon=121.3224)).get_json()  # 桐屿街道
    drain()
    res = client.get("/api/v1/live/markers.geojson?v=1", headers={"Accept-Encoding": "gzip"})
    assert res.status_code == 200 and res.headers["Content-Encoding"] == "gzip"
    fc = orjson.loads(_gzip.decompress(res.get_data()))
    assert len(fc["features"]) == 2
    etag = res.headers["ETag"]
    again = client.get("/api/v1/live/markers.geojson?v=1", headers={"If-None-Match": etag})
    assert again.status_code == 304
    town = client.get(f"/api/v1/live/markers.geojson?town={other['town']}").get_json()
    assert [f["properties"]["id"] for f in town["features"]] == [other["id"]]
    assert client.get("/api/v1/live/markers.geojson?town=999").status_code == 404
    # the wall's clustered layer leaves out the red cases waiting for acceptance (drawn pinned)
    assert good_report()["category"] == "fire_hazard"  # a red case
    green = post(client, good_report(category="garbage", urgency="green")).get_json()
    drain()
    time.sleep(0.6)  # a scope's snapshot is rebuilt at most every REFRESH_MS / 2
    clustered = client.get("/api/v1/live/markers.geojson?v=2&layer=clustered").get_json()
    assert [f["properties"]["id"] for f in clustered["features"]] == [green["id"]]
    assert len(client.get("/api/v1/live/markers.geojson?v=2").get_json()["features"]) == 3


def test_geojson_and_assets_are_compressed_for_gzip_clients(client):
    res = client.get("/api/v1/geo/grids.geojson", headers={"Accept-Encoding": "gzip"})
    assert res.status_code == 200 and res.headers.get("Content-Encoding") == "gzip"
    assert len(res.get_data()) < 100_000          # 290 kB of GeoJSON
    css = client.get("/assets/griddash.css", headers={"Accept-Encoding": "gzip"})
    assert css.headers.get("Content-Encoding") == "gzip"
