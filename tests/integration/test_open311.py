"""Open311 GeoReport v2 (/open311/v2/) on the real app, real Redis and both databases.

A third-party client (the ``georeport`` package from PyPI) reads services and requests over
real HTTP; the rest goes through the Flask test client without a session: Open311 callers
authenticate by API key only.
"""
from __future__ import annotations

import re
import threading
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import orjson
import pytest
import redis
from defusedxml import ElementTree as SafeET
from people import DEPARTMENT, OTHER_TOWN, TOWN
from shapely.geometry import shape

from dashboard.core.domain import PLATFORMS, STATUS_NAMES, Event, categories
from dashboard.core.intake import report_event
from dashboard.core.schemas import ReportIn
from dashboard.core.sla import default_policy

V2 = "/open311/v2"
SHANGHAI = ZoneInfo("Asia/Shanghai")
W3C_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url"}
STRING_FIELDS = REQUEST_FIELDS - {"lat", "long"}
SQL = "'; DROP TABLE incidents; --"


# --------------------------------------------------------------------------- fixtures, helpers

@pytest.fixture
def public_read():
    """OPEN311_PUBLIC_READ for the test's app; ``@pytest.mark.parametrize("public_read", [True])``."""
    return False


@pytest.fixture
def settings(settings, public_read):
    return settings.with_(open311_public_read=public_read)


@pytest.fixture
def keys(accounts, api_key):
    """API keys by username, including a second grid worker of the same town."""
    accounts.add_user("worker2", "reporter", password="another long password", town=TOWN)
    return {name: api_key(name) for name in ("admin", "op", "op_other", "handler", "worker", "worker2", "leader")}


def point_in(rt, town: str) -> tuple[float, float]:
    """(lat, lon) inside a grid of ``town``."""
    for f in rt.geo.grid_features:
        if f["properties"]["town_code"] == town:
            pt = shape(f["geometry"]).representative_point()
            assert rt.geo.locate(pt.y, pt.x).town_code == town
            return pt.y, pt.x
    raise AssertionError(f"no grid in town {town}")


def form(rt, **over) -> dict:
    lat, lon = point_in(rt, TOWN)
    body = {"service_code": "fire_hazard", "lat": str(lat), "long": str(lon),
            "description": "商户违规使用明火，存在安全隐患", "attribute[reporter]": "网格员陈君辉"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def post(anon, data, fmt="json", **kw):
    return anon.post(f"{V2}/requests.{fmt}", data=data, **kw)


def seed(rt, *, days_ago: float = 1, category="fire_hazard", town=TOWN, submitted_by="worker",
         photos=(), description="【测试】楼道堆放杂物", reporter="网格员甲") -> Event:
    """Publish a report made ``days_ago`` days ago (not yet stored: call ``drain()``)."""
    lat, lon = point_in(rt, town)
    report = ReportIn(category=category, description=description, lat=lat, lon=lon, reporter=reporter,
                      reported_at=datetime.now(timezone.utc) - timedelta(days=days_ago), photos=list(photos))
    ev = report_event(report, rt.geo, submitted_by=submitted_by)
    rt.publisher.publish(ev)
    return ev


def advance(rt, report: Event, *steps) -> None:
    """Publish lifecycle events ``(type, data)`` a few minutes apart after the report."""
    at = report.at
    for typ, data in steps:
        at += timedelta(minutes=5)
        rt.publisher.publish(Event(id=uuid.uuid4(), incident_id=report.incident_id, type=typ, at=at,
                                   actor="测试", data=data))


CLOSE_STEPS = [("accepted", {}), ("assigned", {"department": DEPARTMENT}), ("resolved", {}), ("closed", {})]


def xml(resp):
    assert resp.headers["Content-Type"].startswith("text/xml"), resp.headers["Content-Type"]
    return SafeET.fromstring(resp.get_data())


def assert_spec_error(resp, status: int, fmt: str = "json") -> str:
    """The spec's error format with this status; returns the description."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    if fmt == "json":
        assert resp.headers["Content-Type"].startswith("application/json")
        body = resp.get_json()
        assert isinstance(body, list) and len(body) == 1, body
        assert body[0]["code"] == status and isinstance(body[0]["code"], int)
        assert isinstance(body[0]["description"], str) and body[0]["description"]
        return body[0]["description"]
    root = xml(resp)
    assert root.tag == "errors" and [e.tag for e in root] == ["error"]
    assert root.find("error/code").text == str(status)
    assert root.find("error/description").text
    return root.find("error/description").text


def by_key(key: str) -> dict:
    return {"api_key": key}


# --------------------------------------------------------------------------- discovery, services

@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_is_public_and_names_the_spec(anon, fmt):
    res = anon.get(f"{V2}/discovery.{fmt}")
    assert res.status_code == 200
    if fmt == "json":
        body = res.get_json()
        ep = body["endpoints"]
        assert isinstance(ep, list) and len(ep) == 1
        ep = ep[0]
        assert isinstance(body["changeset"], str) and body["contact"] and body["key_service"]
    else:
        root = xml(res)
        assert root.tag == "discovery" and root.find("changeset").text and root.find("key_service").text
        el = root.find("endpoints/endpoint")
        ep = {c.tag: c.text for c in el}
        ep["formats"] = [f.text for f in el.find("formats")]
    assert ep["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert ep["url"].endswith("/open311/v2") and ep["type"] == "production" and ep["changeset"]
    assert sorted(ep["formats"]) == ["application/json", "text/xml"]


def test_services_one_per_category_in_chinese_or_english(anon):
    cats = categories()
    zh = anon.get(f"{V2}/services.json").get_json()
    assert isinstance(zh, list) and [s["service_code"] for s in zh] == list(cats)
    for s in zh:
        c = cats[s["service_code"]]
        assert s["service_name"] == c.name_zh and s["group"] == PLATFORMS[c.platform]["zh"]
        assert s["metadata"] is True and s["type"] == "realtime"
        assert isinstance(s["keywords"], str) and c.code in s["keywords"] and isinstance(s["description"], str)
    for en in (anon.get(f"{V2}/services.json?lang=en").get_json(),
               anon.get(f"{V2}/services.json", headers={"Accept-Language": "en-US,en;q=0.8"}).get_json()):
        assert [s["service_name"] for s in en] == [c.name_en for c in cats.values()]
        assert {s["group"] for s in en} == {p["en"] for p in PLATFORMS.values()}
    root = xml(anon.get(f"{V2}/services.xml"))
    assert root.tag == "services" and len(root) == len(cats) and {e.tag for e in root} == {"service"}
    first = {c.tag: c.text for c in root[0]}
    assert first["service_code"] == zh[0]["service_code"] and first["metadata"] == "true"
    assert first["service_name"] == zh[0]["service_name"] and first["type"] == "realtime"


def test_service_definition_lists_the_attributes(anon):
    body = anon.get(f"{V2}/services/dispute.json").get_json()
    assert body["service_code"] == "dispute"
    attrs = {a["code"]: a for a in body["attributes"]}
    assert set(attrs) == {"urgency", "grid", "reporter"}
    for a in attrs.values():
        assert set(a) >= {"variable", "code", "datatype", "required", "datatype_description", "order",
                          "description", "values"}
        assert isinstance(a["order"], int) and isinstance(a["required"], bool) and isinstance(a["values"], list)
    assert attrs["urgency"]["datatype"] == "singlevaluelist" and attrs["urgency"]["required"] is False
    assert [v["key"] for v in attrs["urgency"]["values"]] == ["red", "yellow", "green"]
    assert all(v["name"] for v in attrs["urgency"]["values"])
    assert attrs["reporter"]["required"] is True and attrs["grid"]["datatype"] == "string"
    root = xml(anon.get(f"{V2}/services/dispute.xml"))
    assert root.tag == "service_definition" and root.find("service_code").text == "dispute"
    urgency = next(a for a in root.find("attributes") if a.find("code").text == "urgency")
    assert [v.find("key").text for v in urgency.find("values")] == ["red", "yellow", "green"]
    assert urgency.find("required").text == "false" and urgency.find("order").text == "1"
    for fmt in ("json", "xml"):
        assert_spec_error(anon.get(f"{V2}/services/ufo_sighting.{fmt}"), 404, fmt)


def test_unknown_formats_paths_and_methods_answer_in_the_spec_format(anon):
    assert_spec_error(anon.get(f"{V2}/services.yaml"), 404)
    assert_spec_error(anon.get(f"{V2}/requests.html"), 404)
    assert_spec_error(anon.get(f"{V2}/nothing.json"), 404)
    assert_spec_error(anon.get("/open311/"), 404)
    assert_spec_error(anon.post(f"{V2}/services.json"), 405)


# --------------------------------------------------------------------------- the georeport client

@pytest.fixture
def live_url(app):
    """The app on a real HTTP server (the georeport client speaks ``requests``)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{V2}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def as_list(x):
    return x if isinstance(x, list) else [x]


@pytest.mark.parametrize("public_read", [True])
@pytest.mark.parametrize("output_format", ["json", "xml"])
def test_georeport_client_reads_services_and_requests(rt, drain, live_url, output_format, monkeypatch):
    from georeport import GeoReport

    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    fresh = seed(rt, days_ago=1, category="dispute", photos=["https://example.org/p/1.jpg"])
    done = seed(rt, days_ago=3, category="fire_hazard")
    old = seed(rt, days_ago=120, category="fire_hazard")
    advance(rt, done, *CLOSE_STEPS)
    drain()
    client = GeoReport(live_url, output_format=output_format)

    services = client.get_service_list()
    assert [s["service_code"] for s in services] == list(categories())
    definition = client.get_service_definition("fire_hazard")
    codes = [a["code"] for a in as_list(definition["attributes"] if output_format == "json"
                                        else definition["attributes"]["attribute"])]
    assert codes == ["urgency", "grid", "reporter"]

    # default window: the most recent 90 days, newest first
    got = as_list(client.get_service_requests())
    assert [r["service_request_id"] for r in got] == [str(fresh.incident_id), str(done.incident_id)]
    closed = as_list(client.get_service_requests(status="closed"))
    assert [r["service_request_id"] for r in closed] == [str(done.incident_id)]
    assert closed[0]["status"] == "closed" and closed[0]["agency_responsible"] == DEPARTMENT
    by_code = as_list(client.get_service_requests(service_code="dispute,flood_risk"))
    assert [r["service_request_id"] for r in by_code] == [str(fresh.incident_id)]
    start = (datetime.now(SHANGHAI) - timedelta(days=130)).isoformat(timespec="seconds")
    end = (datetime.now(SHANGHAI) - timedelta(days=60)).isoformat(timespec="seconds")
    window = as_list(client.get_service_requests(start_date=start, end_date=end))
    assert [r["service_request_id"] for r in window] == [str(old.incident_id)]
    ids = f"{old.incident_id},{fresh.incident_id}"
    assert {r["service_request_id"] for r in as_list(client.get_service_requests(service_request_id=ids))} \
        == {str(old.incident_id), str(fresh.incident_id)}

    one = client.get_service_request(str(fresh.incident_id))
    assert one["service_request_id"] == str(fresh.incident_id) and one["status"] == "open"
    assert one["service_code"] == "dispute" and one["service_name"] == categories()["dispute"].name_zh
    assert "reporter" not in one and not one["media_url"]  # keyless: public fields only
    assert W3C_OFFSET.match(one["requested_datetime"])


# --------------------------------------------------------------------------- fields and types

def test_request_fields_and_types_in_json(rt, drain, anon, keys):
    lat, lon = point_in(rt, TOWN)
    ev = seed(rt, days_ago=2, category="dispute", photos=["https://example.org/p/9.jpg"], reporter="网格员乙")
    advance(rt, ev, ("accepted", {}), ("assigned", {"department": DEPARTMENT}))
    drain()
    res = anon.get(f"{V2}/requests.json", query_string={"service_request_id": str(ev.incident_id),
                                                         **by_key(keys["admin"])})
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    body = res.get_json()
    assert isinstance(body, list) and len(body) == 1  # an array even for one request
    r = body[0]
    assert set(r) >= REQUEST_FIELDS
    for name in STRING_FIELDS:
        assert isinstance(r[name], str), (name, r[name])
    assert isinstance(r["lat"], float) and isinstance(r["long"], float)
    assert (r["lat"], r["long"]) == pytest.approx((lat, lon))
    grid = rt.geo.grids[ev.data["grid"]]
    assert r["status"] == "open" and r["status_notes"] == f"{STATUS_NAMES['assigned'][0]} · {DEPARTMENT}"
    assert r["agency_responsible"] == DEPARTMENT and r["service_code"] == "dispute"
    assert r["address"] == f"{rt.geo.towns[TOWN]['name']} · {grid.name}" and r["address_id"] == grid.code
    assert r["media_url"] == "https://example.org/p/9.jpg" and r["reporter"] == "网格员乙"
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3C_OFFSET.match(r[name]), (name, r[name])
    assert datetime.fromisoformat(r["requested_datetime"]) == ev.at.replace(microsecond=0)
    assert datetime.fromisoformat(r["updated_datetime"]) == (ev.at + timedelta(minutes=10)).replace(microsecond=0)
    due = default_policy().deadlines("dispute", ev.data["urgency"], ev.at).close_by
    assert datetime.fromisoformat(r["expected_datetime"]) == due.replace(microsecond=0)
    en = anon.get(f"{V2}/requests/{ev.incident_id}.json",
                  query_string={"lang": "en", **by_key(keys["admin"])}).get_json()
    assert en[0]["status_notes"] == f"Assigned · {DEPARTMENT}"
    assert en[0]["service_name"] == categories()["dispute"].name_en
    assert en[0]["address"].startswith(rt.geo.towns[TOWN]["name_en"])


def test_request_fields_in_xml(rt, drain, anon, keys):
    # stored photos have relative URLs (dashboard/store/photos.py)
    photo = "/api/v1/incidents/6c1f0d3e-0000-4000-8000-000000000001/photos/" + "ab" * 32 + ".jpg"
    ev = seed(rt, days_ago=2, photos=[photo])
    advance(rt, ev, *CLOSE_STEPS)
    drain()
    for path in (f"{V2}/requests.xml", f"{V2}/requests/{ev.incident_id}.xml"):
        root = xml(anon.get(path, query_string=by_key(keys["admin"])))
        assert root.tag == "service_requests" and [e.tag for e in root] == ["request"]
        req = root.find("request")
        assert {c.tag for c in req} >= REQUEST_FIELDS
        assert req.find("service_request_id").text == str(ev.incident_id)
        assert req.find("status").text == "closed"
        assert req.find("status_notes").text == f"{STATUS_NAMES['closed'][0]} · {DEPARTMENT}"
        assert float(req.find("lat").text) == pytest.approx(ev.data["lat"])
        assert W3C_OFFSET.match(req.find("expected_datetime").text)
        assert req.find("media_url").text == "http://localhost" + photo  # absolute for clients


def test_newest_first_and_at_most_the_limit(rt, drain, anon, keys, monkeypatch):
    import dashboard.web.open311 as open311

    events = [seed(rt, days_ago=d) for d in (5, 1, 3)]
    drain()
    got = anon.get(f"{V2}/requests.json", query_string=by_key(keys["admin"])).get_json()
    assert [r["service_request_id"] for r in got] == [str(events[i].incident_id) for i in (1, 2, 0)]
    monkeypatch.setattr(open311, "MAX_RESULTS", 2)
    got = anon.get(f"{V2}/requests.json", query_string=by_key(keys["admin"])).get_json()
    assert [r["service_request_id"] for r in got] == [str(events[i].incident_id) for i in (1, 2)]


# --------------------------------------------------------------------------- posting and scope

def test_post_creates_a_request_readable_only_within_scope(rt, drain, anon, keys):
    data = form(rt, media_url="https://example.org/p/2.jpg", email="chen@example.org", phone="13800000000",
                device_id="dev-1", account_id="acc-1", **{"attribute[urgency]": "yellow"})
    res = post(anon, {**data, **by_key(keys["worker"])})
    assert res.status_code == 201, res.get_data(as_text=True)
    body = res.get_json()
    assert isinstance(body, list) and len(body) == 1
    iid, token = body[0]["service_request_id"], body[0]["token"]
    assert str(uuid.UUID(iid)) == iid and body[0]["service_notice"]
    assert 7 * 86400 - 60 < rt.redis.ttl(f"open311:token:{token}") <= 7 * 86400
    one = f"{V2}/requests/{iid}.json"
    assert_spec_error(anon.get(one, query_string=by_key(keys["worker"])), 404)  # not stored yet
    assert anon.get(f"{V2}/tokens/{token}.json", query_string=by_key(keys["worker"])).get_json() \
        == [{"service_request_id": iid, "token": token}]  # the token resolves at once
    drain()

    inc = rt.store.get_incident(uuid.UUID(iid))
    assert inc["submitted_by"] == "worker" and inc["source"] == "open311" and inc["town_code"] == TOWN
    assert inc["reporter"] == "网格员陈君辉" and inc["urgency"] == "yellow"
    assert inc["photos"] == ["https://example.org/p/2.jpg"]
    stored = orjson.dumps(inc, default=str).decode()
    assert "chen@example.org" not in stored and "13800000000" not in stored and "acc-1" not in stored

    for who in ("worker", "op", "admin", "leader"):
        got = anon.get(one, query_string=by_key(keys[who]))
        assert got.status_code == 200, who
        assert got.get_json()[0]["service_request_id"] == iid and got.get_json()[0]["reporter"] == "网格员陈君辉"
        listed = anon.get(f"{V2}/requests.json", query_string=by_key(keys[who])).get_json()
        assert iid in [r["service_request_id"] for r in listed], who
    header = anon.get(one, headers={"Authorization": f"Bearer {keys['worker']}"})
    assert header.status_code == 200
    for who in ("worker2", "op_other", "handler"):
        assert_spec_error(anon.get(one, query_string=by_key(keys[who])), 404)
        listed = anon.get(f"{V2}/requests.json", query_string=by_key(keys[who])).get_json()
        assert iid not in [r["service_request_id"] for r in listed], who
        assert_spec_error(anon.get(f"{V2}/tokens/{token}.json", query_string=by_key(keys[who])), 404)
    root = xml(anon.get(f"{V2}/tokens/{token}.xml", query_string=by_key(keys["op"])))
    assert root.find("request/service_request_id").text == iid and root.find("request/token").text == token


def test_post_in_xml_with_a_header_key_and_first_last_name(rt, drain, anon, keys):
    data = form(rt, **{"attribute[reporter]": None, "first_name": "君辉", "last_name": "陈"})
    res = post(anon, data, fmt="xml", headers={"X-API-Key": keys["op"]})
    assert res.status_code == 201, res.get_data(as_text=True)
    root = xml(res)
    assert root.tag == "service_requests" and [e.tag for e in root] == ["request"]
    iid = root.find("request/service_request_id").text
    assert root.find("request/token").text and root.find("request/service_notice").text
    drain()
    inc = rt.store.get_incident(uuid.UUID(iid))
    assert inc["reporter"] == "陈君辉" and inc["submitted_by"] == "op"
    data = form(rt, **{"attribute[reporter]": None, "first_name": "Jane", "last_name": "Doe"})
    iid = post(anon, {**data, **by_key(keys["admin"])}).get_json()[0]["service_request_id"]
    drain()
    assert rt.store.get_incident(uuid.UUID(iid))["reporter"] == "Jane Doe"


def test_a_script_tag_stays_text(rt, drain, anon, keys):
    text = "<script>alert('x')</script> & \"引号\" </description>"
    iid = post(anon, {**form(rt, description=text), **by_key(keys["worker"])}).get_json()[0]["service_request_id"]
    drain()
    q = by_key(keys["worker"])
    assert anon.get(f"{V2}/requests/{iid}.json", query_string=q).get_json()[0]["description"] == text
    res = anon.get(f"{V2}/requests/{iid}.xml", query_string=q)
    raw = res.get_data(as_text=True)
    assert "<script>" not in raw and "&lt;script&gt;" in raw
    assert xml(res).find("request/description").text == text


def test_control_characters_from_the_stream_still_give_well_formed_xml(rt, drain, anon, keys):
    """The API refuses control characters, but other publishers' events may carry them."""
    lat, lon = point_in(rt, TOWN)
    ev = report_event(ReportIn(category="dispute", description="x", lat=lat, lon=lon, reporter="甲"), rt.geo,
                      submitted_by="worker")
    ev.data["description"] = "门牌\x0b模糊\x1b不清"
    rt.publisher.publish(ev)
    drain()
    res = anon.get(f"{V2}/requests/{ev.incident_id}.xml", query_string=by_key(keys["worker"]))
    assert xml(res).find("request/description").text == "门牌模糊不清"


def test_a_redis_failure_answers_503_and_stores_nothing(rt, drain, anon, keys, monkeypatch):
    def down(_event):
        raise redis.exceptions.ConnectionError("Redis is down")

    monkeypatch.setattr(rt.publisher, "publish", down)
    for fmt in ("json", "xml"):
        res = post(anon, {**form(rt), **by_key(keys["worker"])}, fmt=fmt)
        assert "retry" in assert_spec_error(res, 503, fmt)
    monkeypatch.undo()
    drain()
    assert rt.store.count_incidents() == 0 and not rt.redis.keys("open311:token:*")


# --------------------------------------------------------------------------- refused requests

def _bad_posts(rt, keys):
    lat, lon = point_in(rt, TOWN)
    return [
        ("missing api_key", form(rt), 403),
        ("invalid api_key", {**form(rt), "api_key": "gdk_00000000_notakey"}, 403),
        ("role may not post", {**form(rt), "api_key": keys["handler"]}, 403),
        ("unknown service_code", {**form(rt, service_code="ufo_sighting"), "api_key": keys["worker"]}, 400),
        ("missing service_code", {**form(rt, service_code=None), "api_key": keys["worker"]}, 400),
        ("lat not a number", {**form(rt, lat="north"), "api_key": keys["worker"]}, 400),
        ("lat NaN", {**form(rt, lat="nan"), "api_key": keys["worker"]}, 400),
        ("lat out of range", {**form(rt, lat="123.5"), "api_key": keys["worker"]}, 400),
        ("long missing", {**form(rt, long=None), "api_key": keys["worker"]}, 400),
        ("outside the district", {**form(rt, lat="39.9042", long="116.4074"), "api_key": keys["worker"]}, 400),
        ("address only", {**form(rt, lat=None, long=None, address_string="金清镇黄琅村"), "api_key": keys["worker"]}, 400),
        ("no reporter", {**form(rt, **{"attribute[reporter]": None}), "api_key": keys["worker"]}, 400),
        ("unknown urgency", {**form(rt, **{"attribute[urgency]": "purple"}), "api_key": keys["worker"]}, 400),
        ("unknown grid", {**form(rt, **{"attribute[grid]": "999"}), "api_key": keys["worker"]}, 400),
        ("missing description", {**form(rt, description=None), "api_key": keys["worker"]}, 400),
        ("blank description", {**form(rt, description="   "), "api_key": keys["worker"]}, 400),
        ("script media_url", {**form(rt, media_url="javascript:alert(1)"), "api_key": keys["worker"]}, 400),
        ("SQL in service_code", {**form(rt, service_code=SQL), "api_key": keys["worker"]}, 400),
        ("body too large", {**form(rt, description="x" * 70_000), "api_key": keys["worker"]}, 413),
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_refused_posts_answer_in_the_spec_format_and_store_nothing(rt, drain, anon, keys, fmt):
    descriptions = {}
    for case, data, status in _bad_posts(rt, keys):
        descriptions[case] = assert_spec_error(post(anon, data, fmt=fmt), status, fmt)
    res = anon.post(f"{V2}/requests.{fmt}", json={**form(rt), "api_key": keys["worker"]})
    descriptions["JSON body"] = assert_spec_error(res, 400, fmt)
    assert "lat" in descriptions["address only"] and "long" in descriptions["address only"]
    assert "ufo_sighting" in descriptions["unknown service_code"]
    assert "attribute[urgency]" in descriptions["unknown urgency"]
    assert "outside" in descriptions["outside the district"]
    assert "form-encoded" in descriptions["JSON body"]
    drain()
    assert rt.store.count_incidents() == 0 and rt.redis.xlen(rt.settings.stream) == 0


def _bad_reads(keys):
    admin = by_key(keys["admin"])
    now = datetime.now(timezone.utc)
    return [
        ("no key (public read off)", f"{V2}/requests", {}, 403),
        ("no key, one request", f"{V2}/requests/{uuid.uuid4()}", {}, 403),
        ("no key, token", f"{V2}/tokens/1-0", {}, 403),
        ("invalid key", f"{V2}/requests", {"api_key": "gdk_12345678_wrong"}, 403),
        ("bad start_date", f"{V2}/requests", {**admin, "start_date": "yesterday"}, 400),
        ("start_date without a zone", f"{V2}/requests", {**admin, "start_date": "2026-11-01T00:00:00"}, 400),
        ("impossible date", f"{V2}/requests", {**admin, "end_date": "2026-02-30T00:00:00Z"}, 400),
        ("end before start", f"{V2}/requests",
         {**admin, "start_date": "2026-11-10T00:00:00Z", "end_date": "2026-11-01T00:00:00+08:00"}, 400),
        ("more than 90 days", f"{V2}/requests",
         {**admin, "start_date": (now - timedelta(days=91)).isoformat(), "end_date": now.isoformat()}, 400),
        ("unknown status", f"{V2}/requests", {**admin, "status": "open,pending"}, 400),
        ("unknown service_code", f"{V2}/requests", {**admin, "service_code": "fire_hazard,ufo"}, 400),
        ("malformed id in list", f"{V2}/requests", {**admin, "service_request_id": "123"}, 400),
        ("malformed id", f"{V2}/requests/123", admin, 400),
        ("unknown id", f"{V2}/requests/{uuid.uuid4()}", admin, 404),
        ("unknown token", f"{V2}/tokens/1700000000000-0", admin, 404),
        ("malformed token", f"{V2}/tokens/abc", admin, 404),
        ("SQL in service_code", f"{V2}/requests", {**admin, "service_code": SQL}, 400),
        ("SQL in status", f"{V2}/requests", {**admin, "status": SQL}, 400),
        ("SQL in service_request_id", f"{V2}/requests", {**admin, "service_request_id": SQL}, 400),
        ("SQL in start_date", f"{V2}/requests", {**admin, "start_date": SQL}, 400),
        ("SQL as id", f"{V2}/requests/{SQL}", admin, 400),
    ]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_refused_reads_answer_in_the_spec_format(rt, drain, anon, keys, fmt):
    ev = seed(rt, days_ago=1)
    drain()
    for case, path, query, status in _bad_reads(keys):
        res = anon.get(f"{path}.{fmt}", query_string=query)
        try:
            assert_spec_error(res, status, fmt)
        except AssertionError as exc:
            raise AssertionError(f"{case}: {exc}") from None
    # SQL meta-characters where a value is not interpreted: harmless, and the data is intact
    res = anon.get(f"{V2}/requests.{fmt}", query_string={**by_key(keys["admin"]), "jurisdiction_id": SQL})
    assert res.status_code == 200
    assert rt.store.count_incidents() == 1 and rt.store.get_incident(ev.incident_id) is not None


def test_a_range_of_exactly_90_days_and_plain_dates_are_accepted(rt, drain, anon, keys):
    ev = seed(rt, days_ago=1)
    drain()
    today = datetime.now(SHANGHAI).date()
    q = {**by_key(keys["admin"]), "start_date": str(today - timedelta(days=89)), "end_date": str(today + timedelta(days=1))}
    got = anon.get(f"{V2}/requests.json", query_string=q)
    assert got.status_code == 200 and [r["service_request_id"] for r in got.get_json()] == [str(ev.incident_id)]
    # "+08:00" typed into a URL arrives as " 08:00": still understood
    start = (datetime.now(SHANGHAI) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S")
    got = anon.get(f"{V2}/requests.json?start_date={start}+08:00&api_key={keys['admin']}")
    assert got.status_code == 200 and len(got.get_json()) == 1


# --------------------------------------------------------------------------- public read

@pytest.mark.parametrize("public_read", [True])
def test_public_read_on_shows_public_fields_only(rt, drain, anon, keys):
    ev = seed(rt, days_ago=1, photos=["https://example.org/p/3.jpg"], reporter="网格员丙")
    seed(rt, days_ago=1, town=OTHER_TOWN, submitted_by="someone")
    drain()
    for path in (f"{V2}/requests.json", f"{V2}/requests/{ev.incident_id}.json"):
        rows = anon.get(path).get_json()
        assert rows and all(set(r) >= REQUEST_FIELDS and "reporter" not in r and r["media_url"] == "" for r in rows)
        assert "网格员丙" not in orjson.dumps(rows).decode()
    assert len(anon.get(f"{V2}/requests.json").get_json()) == 2  # every town
    root = xml(anon.get(f"{V2}/requests/{ev.incident_id}.xml"))
    assert root.find("request/reporter") is None and root.find("request/description").text
    # a key still gets its own scope and the full fields
    keyed = anon.get(f"{V2}/requests.json", query_string=by_key(keys["worker"])).get_json()
    assert [r["service_request_id"] for r in keyed] == [str(ev.incident_id)] and keyed[0]["reporter"] == "网格员丙"
    assert_spec_error(anon.get(f"{V2}/requests.json", query_string={"api_key": "gdk_bad"}), 403)


def test_public_read_off_refuses_keyless_reads(rt, drain, anon):
    seed(rt, days_ago=1)
    drain()
    assert "api_key" in assert_spec_error(anon.get(f"{V2}/requests.json"), 403)
    assert_spec_error(anon.get(f"{V2}/requests.xml"), 403, "xml")
    assert anon.get(f"{V2}/services.json").status_code == 200  # services stay public


def test_an_operator_posts_only_in_its_own_town(rt, anon, keys, drain):
    """The same town rule as the native API: 新桥镇's operator may not open a case in 金清镇."""
    length = rt.redis.xlen(rt.settings.stream)
    res = post(anon, {**form(rt), "api_key": keys["op_other"]})
    assert res.status_code == 403
    assert "report only inside" in res.get_json()[0]["description"]
    assert rt.redis.xlen(rt.settings.stream) == length
    assert post(anon, {**form(rt), "api_key": keys["op"]}).status_code == 201
