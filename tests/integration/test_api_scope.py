"""The JSON API's access matrix: every route × every principal × own town and another town.

Each table below is written out by hand from README's roles (not computed with
``dashboard.core.access``), so that a change in the rules shows up as a failing row. Every test
collects all mismatches and fails once, listing them as ``who METHOD path: got, expected``.

Towns: T = 金清镇 (``op``'s), O = 新桥镇 (``op_other``'s). Cases: T and O reported by the
administrator, D in O assigned to the handler's department, W in T reported by the grid worker
(``worker``, a reporter). Principals: every role (API keys), a kiosk of T and a district
kiosk (session cookies from their links), and an anonymous client.
"""
from __future__ import annotations

import io
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from people import DEPARTMENT, OTHER_TOWN, TOWN
from PIL import Image

from dashboard.geo.cameras import OFFLINE_SLOT_S
from dashboard.stream.commands import Commands
from dashboard.web import cameras as camera_api

USERS = ["admin", "leader", "op", "op_other", "handler", "worker"]
KIOSKS = {"kiosk_T": TOWN, "kiosk_district": None}
PRINCIPALS = USERS + list(KIOSKS)
EVERYONE = PRINCIPALS + ["anon"]

CASES_SEEN = {  # which cases each principal may read
    "admin": {"T", "O", "D", "W"}, "leader": {"T", "O", "D", "W"}, "kiosk_district": {"T", "O", "D", "W"},
    "op": {"T", "W"}, "kiosk_T": {"T", "W"}, "op_other": {"O", "D"},
    "handler": {"D"}, "worker": {"W"},
}
ALL_ACTIONS = {"accept", "supervise", "start"}  # the actions this matrix tries
ACTIONS = {"admin": ALL_ACTIONS, "op": ALL_ACTIONS, "op_other": ALL_ACTIONS,
           "leader": {"supervise"}, "handler": {"start"}}
REPORTS_IN = {"admin": {"T", "O"}, "op": {"T"}, "op_other": {"O"}, "worker": {"T", "O"}}
BOUND = {"op": "T", "op_other": "O", "kiosk_T": "T"}            # principals bound to one town
NO_TOWN_VIEWS = {"handler", "worker"}                             # no markers, KPIs, cameras

TOWNS = {"T": TOWN, "O": OTHER_TOWN}


# --------------------------------------------------------------------------- the world

def _photo() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def _keyed(app, key: str):
    c = app.test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return c


def _report(town: str, rt, **extra) -> dict:
    grid = next(g for g in rt.geo.grids.values() if g.town_code == town)
    return {"category": "dispute", "description": f"测试 {town}", "lat": grid.lat, "lon": grid.lon,
            "reporter": "网格员", **extra}


def _online_camera(app, town: str):
    with app.app_context():
        reg = camera_api.registry()
    now = datetime.now(timezone.utc)
    return next(c for c in reg.by_town(town) if c.kind == "sim" and reg.is_online(c, now)
                and reg.is_online(c, now + timedelta(seconds=OFFLINE_SLOT_S)))


@pytest.fixture
def world(app, rt, accounts, api_key, drain):
    clients = {name: _keyed(app, api_key(name)) for name in USERS}
    for name, town in KIOSKS.items():
        _kid, token = accounts.create_kiosk(town, name=name)
        c = app.test_client()
        assert c.get(f"/kiosk/{token}").status_code == 302
        c.get("/api/v1/categories")  # picks up the CSRF cookie, as the screen's first page load does
        clients[name] = c
    clients["anon"] = app.test_client()
    admin = clients["admin"]
    cases = {}
    for name, town in (("T", TOWN), ("O", OTHER_TOWN), ("D", OTHER_TOWN)):
        res = admin.post("/api/v1/incidents", data={
            "report": json.dumps(_report(town, rt)),
            "photos": [(io.BytesIO(_photo()), "p.jpg", "image/jpeg")]}, content_type="multipart/form-data")
        assert res.status_code == 202, res.get_json()
        cases[name] = res.get_json()
    res = clients["worker"].post("/api/v1/incidents", json=_report(TOWN, rt))
    assert res.status_code == 202, res.get_json()
    cases["W"] = res.get_json()
    drain()
    cmd = Commands(rt.redis, rt.store, rt.settings.stream)
    d = uuid.UUID(cases["D"]["id"])
    cmd.act(d, "accept", expected_version=1, actor="test")
    cmd.act(d, "assign", expected_version=2, actor="test", data={"department": DEPARTMENT})
    drain()
    cameras = {k: _online_camera(app, town) for k, town in TOWNS.items()}
    return {"clients": clients, "cases": cases, "cameras": cameras}


def check(world, requests, expected, rt=None) -> None:
    """Run every (who, label, call) and compare with ``expected(who, label)``; with ``rt``,
    also that no refused request wrote to the stream."""
    problems = []
    for who in EVERYONE:
        for label, call in requests:
            before = rt.redis.xlen(rt.settings.stream) if rt is not None else None
            res = call(world["clients"][who])
            want = expected(who, label)
            if res.status_code != want:
                problems.append(f"{who} {label}: got {res.status_code}, expected {want} "
                                f"({res.get_data(as_text=True)[:120]})")
            elif rt is not None and want != 202 and rt.redis.xlen(rt.settings.stream) != before:
                problems.append(f"{who} {label}: refused with {want} but wrote to the stream")
    assert not problems, "access matrix mismatches:\n" + "\n".join(problems)


# --------------------------------------------------------------------------- cases

def test_get_incident(world):
    def expected(who, case):
        return 401 if who == "anon" else 200 if case in CASES_SEEN[who] else 404
    requests = [(c, lambda cl, c=c: cl.get(f"/api/v1/incidents/{world['cases'][c]['id']}")) for c in "TODW"]
    check(world, requests, expected)


def test_out_of_scope_case_answers_exactly_like_an_unknown_one(world):
    op = world["clients"]["op"]
    other = op.get(f"/api/v1/incidents/{world['cases']['O']['id']}")
    unknown = op.get(f"/api/v1/incidents/{uuid.uuid4()}")
    assert (other.status_code, other.get_json()) == (unknown.status_code, unknown.get_json())


def test_get_photo(world):
    def expected(who, case):
        return 401 if who == "anon" else 200 if case in CASES_SEEN[who] else 404
    requests = [(c, lambda cl, c=c: cl.get(world["cases"][c]["photos"][0])) for c in "TOD"]
    check(world, requests, expected)


def test_post_action(world, rt):
    """expected_version 99 is stale: a principal that may act gets 409 (nothing written),
    the others 403 (role) or 404 (case outside its scope)."""
    def expected(who, label):
        action, case = label.split(" on ")
        if who == "anon":
            return 401
        if who not in ACTIONS:
            return 403
        if case not in CASES_SEEN[who]:
            return 404
        return 409 if action in ACTIONS[who] else 403

    def call(action, case):
        body = {"action": action, "expected_version": 99, "note": "测试"}
        return lambda cl: cl.post(f"/api/v1/incidents/{world['cases'][case]['id']}/actions", json=body)
    requests = [(f"{a} on {c}", call(a, c)) for a in sorted(ALL_ACTIONS) for c in "TODW"]
    check(world, requests, expected, rt)


def test_post_report(world, rt):
    def expected(who, town):
        if who == "anon":
            return 401
        return 202 if town in REPORTS_IN.get(who, ()) else 403
    requests = [(t, lambda cl, t=t: cl.post("/api/v1/incidents", json=_report(TOWNS[t], rt))) for t in TOWNS]
    check(world, requests, expected, rt)


# --------------------------------------------------------------------------- town views

def _town_view_status(who: str, asked: str) -> int:
    """asked: "T", "O" or "district"."""
    if who == "anon":
        return 401
    if who in NO_TOWN_VIEWS:
        return 403
    if who in BOUND and asked not in ("district", BOUND[who]):
        return 403
    return 200


def _town_requests(path: str):
    def call(asked):
        q = "" if asked == "district" else f"?town={TOWNS[asked]}"
        return lambda cl: cl.get(path + q)
    return [(asked, call(asked)) for asked in ("T", "O", "district")]


@pytest.mark.parametrize("path", ["/api/v1/live/markers.geojson", "/api/v1/kpis", "/api/v1/cameras"])
def test_town_views(world, path):
    check(world, _town_requests(path), _town_view_status)


def test_a_bound_principal_asking_for_the_district_gets_its_town(world):
    ids = {k: c["id"] for k, c in world["cases"].items()}
    for who, town in BOUND.items():
        c = world["clients"][who]
        markers = {f["properties"]["id"] for f in c.get("/api/v1/live/markers.geojson").get_json()["features"]}
        seen = {ids[k] for k in CASES_SEEN[who]}
        assert markers and markers <= seen, f"{who} sees markers {markers - seen} outside its town"
        assert c.get("/api/v1/kpis").get_json()["scope"] == TOWNS[town], who
        assert c.get("/api/v1/kpis?town=district").get_json()["scope"] == TOWNS[town], who
        cams = c.get("/api/v1/cameras?page=0&size=50").get_json()
        assert cams and {x["town_code"] for x in cams} == {TOWNS[town]}, who
        near = c.get("/api/v1/cameras?near=28.52,121.41&k=5").get_json()  # a point in O
        assert {x["town_code"] for x in near} == {TOWNS[town]}, who
    all_markers = world["clients"]["leader"].get("/api/v1/live/markers.geojson").get_json()["features"]
    assert {f["properties"]["id"] for f in all_markers} >= set(ids.values())


def test_camera_routes(world):
    def expected(who, label):
        route, town = label.split(" of ")
        if who == "anon":
            return 401
        if who in NO_TOWN_VIEWS:
            return 403
        if who in BOUND and BOUND[who] != town:
            return 404  # another town's camera: like an unknown one
        return 400 if route == "mjpeg" else 200  # seconds=0: refused after the scope check

    def call(route, town):
        cam = world["cameras"][town].id
        path = {"detail": f"/api/v1/cameras/{cam}", "snapshot": f"/cameras/{cam}/snapshot.jpg?w=320",
                "mjpeg": f"/cameras/{cam}/mjpeg?seconds=0"}[route]
        return lambda cl: cl.get(path)
    requests = [(f"{r} of {t}", call(r, t)) for r in ("detail", "snapshot", "mjpeg") for t in TOWNS]
    check(world, requests, expected)


# --------------------------------------------------------------------------- reference data

def test_reference_and_public_routes(world):
    signed_in = ["/api/v1/geo/grids.geojson", "/api/v1/geo/towns.geojson"]
    public = ["/api/v1/categories", "/api/v1/openapi.json", "/healthz"]

    def expected(who, path):
        return 401 if who == "anon" and path in signed_in else 200
    check(world, [(p, lambda cl, p=p: cl.get(p)) for p in signed_in + public], expected)


def test_healthz_tells_anonymous_clients_only_the_pipeline_state(world):
    body = world["clients"]["anon"].get("/healthz").get_json()
    assert set(body) <= {"status", "redis", "database", "stream_length", "lag", "pending", "consumers",
                         "lag_capped", "dead_letters"}
    assert body["status"] == "ok"
    assert "incidents" in world["clients"]["admin"].get("/healthz").get_json()


# --------------------------------------------------------------------------- who did it

def test_actor_and_submitter_are_the_principal_not_the_body(world, rt, drain, accounts):
    c = world["clients"]["op"]
    case = world["cases"]["T"]["id"]
    res = c.post(f"/api/v1/incidents/{case}/actions",
                 json={"action": "accept", "expected_version": 1, "actor": "区长本人"})
    assert res.status_code == 202, res.get_json()
    assert res.get_json()["actor"] == "op"
    res = c.post("/api/v1/incidents", json=_report(TOWN, rt))
    assert res.status_code == 202
    drain()
    events = c.get(f"/api/v1/incidents/{case}").get_json()["events"]
    assert [(e["type"], e["actor"]) for e in events][-1] == ("accepted", "op")
    assert rt.store.get_incident(uuid.UUID(res.get_json()["id"]))["submitted_by"] == "op"


def test_a_session_principal_has_the_same_scope_as_a_key(world, login):
    c = login("op")
    for case, want in (("T", 200), ("O", 404)):
        assert c.get(f"/api/v1/incidents/{world['cases'][case]['id']}").status_code == want, case
    assert c.get(f"/api/v1/kpis?town={OTHER_TOWN}").status_code == 403
