"""The access matrix of the pages and Dash callbacks: every role × every page and callback ×
own town and another town, each with its expected allow or deny, decided on the server.

Callbacks are called the way an attacker would: hand-made POSTs to Dash's
``/_dash-update-component`` built from ``/_dash-dependencies``, carrying another town's ids in
the inputs and states. (The JSON API's matrix is tests/integration/test_api_scope.py.)

Towns: T = 金清镇 (the operator ``op``'s), O = 新桥镇 (``op_other``'s). Principals: every role,
plus a kiosk bound to T and a district kiosk.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from people import DEPARTMENT, OTHER_TOWN, TOWN

from dashboard.stream.commands import Commands
from layouts.console import list_query

ROLES_PRINCIPALS = ["admin", "leader", "op", "op_other", "handler", "worker", "kiosk_T", "kiosk_district"]
BOUND = {"op": TOWN, "op_other": OTHER_TOWN, "kiosk_T": TOWN}  # principals bound to one town
SCREEN = {"admin", "leader", "op", "op_other", "kiosk_T", "kiosk_district"}
CONSOLE = {"admin", "leader", "op", "op_other", "handler"}
LEADERS = {"admin", "leader", "op", "op_other"}
ACTORS = {"admin", "op", "op_other"}  # may accept and assign (in their scope)
DEPS: list = []  # the app's callbacks, as /_dash-dependencies lists them (read as admin)


def sees_town(who: str, town: str) -> bool:
    return who not in BOUND or BOUND[who] == town


# --------------------------------------------------------------------------- setup

@pytest.fixture
def world(app, rt, accounts, login, drain):
    """One open case in each town (C_T, C_O), and one case in O assigned to the handler's
    department (C_D); a signed-in client per principal."""
    admin = login("admin")

    def case_in(town):
        grid = next(g for g in rt.geo.grids.values() if g.town_code == town)
        res = admin.post("/api/v1/incidents", json={
            "category": "dispute", "description": f"测试 {town}", "lat": grid.lat, "lon": grid.lon,
            "reporter": "网格员"})
        assert res.status_code == 202, res.get_json()
        return uuid.UUID(res.get_json()["id"]), grid.code

    c_t, g_t = case_in(TOWN)
    c_o, g_o = case_in(OTHER_TOWN)
    c_d, _ = case_in(OTHER_TOWN)
    drain()
    cmd = Commands(rt.redis, rt.store, rt.settings.stream)
    cmd.act(c_d, "accept", expected_version=1, actor="test")
    cmd.act(c_d, "assign", expected_version=2, actor="test", data={"department": DEPARTMENT})
    drain()
    DEPS[:] = admin.get("/_dash-dependencies").get_json()
    clients = {name: login(name) for name in ("admin", "leader", "op", "op_other", "handler", "worker")}
    for name, town in (("kiosk_T", TOWN), ("kiosk_district", None)):
        _kid, token = accounts.create_kiosk(town, name=name)
        c = app.test_client()
        assert c.get(f"/kiosk/{token}").status_code == 302
        c.get("/screen")  # picks up the CSRF cookie
        clients[name] = c
    return {"clients": clients, "case": {TOWN: c_t, OTHER_TOWN: c_o, "D": c_d},
            "grid": {TOWN: g_t, OTHER_TOWN: g_o}, "anon": app.test_client()}


# --------------------------------------------------------------------------- hand-made callback POSTs

def _outputs(output: str):
    if output.startswith(".."):
        parts = output.strip(".").split("...")
        return [_one(p) for p in parts], True
    return _one(output), False


def _one(spec: str):
    ident, prop = spec.rsplit(".", 1)
    return {"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop}


def dash_post(client, output_id: str, values: dict, triggered: str | None = None):
    """POST the callback whose outputs include ``output_id`` with ``values`` for its inputs and
    states ({"id.prop": value}; missing ones are None)."""
    found = [d for d in DEPS if f"{output_id}." in d["output"] and not d.get("clientside_function")]
    # several callbacks may write one output (allow_duplicate): the one these values trigger
    cb = next((d for d in found if f"{d['inputs'][0]['id']}.{d['inputs'][0]['property']}" in values), found[0])

    def spec(items):
        out = []
        for i in items:
            ident = json.loads(i["id"]) if i["id"].startswith("{") else i["id"]
            key = f"{i['id']}.{i['property']}"
            value = values.get(key)
            if isinstance(ident, dict) and isinstance(value, list):  # ALL pattern: a list of items
                out.append(value)
            else:
                out.append({"id": ident, "property": i["property"], "value": value})
        return out

    outputs, _multi = _outputs(cb["output"])
    first = cb["inputs"][0]
    body = {"output": cb["output"], "outputs": outputs, "inputs": spec(cb["inputs"]),
            "state": spec(cb.get("state", [])),
            "changedPropIds": [triggered or f"{first['id']}.{first['property']}"]}
    return client.post("/_dash-update-component", json=body)


def screen_cfg(town):
    return {"scope": town, "lang": "zh", "wall": 2, "period": "today"}


# --------------------------------------------------------------------------- the matrix

PAGES = ["/screen", "/screen/T", "/screen/O", "/console", "/leaders"]


def expected_page(who: str, page: str) -> int:
    town = {"/screen/T": TOWN, "/screen/O": OTHER_TOWN}.get(page)
    if page == "/console":
        return 200 if who in CONSOLE else 403
    if page == "/leaders":
        return 200 if who in LEADERS else 403
    if who not in SCREEN:
        return 403
    if town is None:
        return 302 if who in BOUND else 200  # a town's principal is sent to its own town
    return 200 if sees_town(who, town) else 403


def test_pages(world):
    problems = []
    for who in ROLES_PRINCIPALS:
        c = world["clients"][who]
        for page in PAGES:
            path = page.replace("/T", f"/{TOWN}").replace("/O", f"/{OTHER_TOWN}")
            got = c.get(path).status_code
            if got != expected_page(who, page):
                problems.append(f"{who} GET {page}: {got}, expected {expected_page(who, page)}")
    for page in PAGES:
        res = world["anon"].get(page.replace("/T", f"/{TOWN}").replace("/O", f"/{OTHER_TOWN}"))
        if res.status_code != 302 or "/login" not in res.headers["Location"]:
            problems.append(f"anonymous GET {page}: {res.status_code}")
    assert not problems, "\n".join(problems)


def screen_callbacks(world, town):
    grid = world["grid"][town]
    return {
        "route": ("page-content", {"url.pathname": f"/screen/{town}", "url.search": ""}),
        "live": ("incident-layer", {"live-tick.n_intervals": 1, "screen-config.data": screen_cfg(town)}),
        "kpis": ("kpi-hash", {"kpi-tick.n_intervals": 1, "screen-config.data": screen_cfg(town)}),
        "charts": ("trend-chart", {"slow-tick.n_intervals": 1, "screen-config.data": screen_cfg(town)}),
        "cameras": ("camera-wall-data", {"camera-tick.n_intervals": 1, "screen-config.data": screen_cfg(town)}),
        "grid detail": ("detail-panel", {"grid-layer.clickData": {"properties": {"code": grid}},
                                         "screen-config.data": screen_cfg(None)}),
        "case detail": ("detail-panel", {
            "incident-layer.clickData": {"properties": {"id": str(world["case"][town])}},
            "screen-config.data": screen_cfg(None)}),
    }


@pytest.mark.parametrize("town_key", ["T", "O"])
def test_screen_callbacks(world, town_key):
    town = TOWN if town_key == "T" else OTHER_TOWN
    problems = []
    for who in ROLES_PRINCIPALS + ["anon"]:
        c = world["anon"] if who == "anon" else world["clients"][who]
        for name, (output, values) in screen_callbacks(world, town).items():
            trig = {"grid detail": "grid-layer.clickData", "case detail": "incident-layer.clickData"}.get(name)
            res = dash_post(c, output, values, trig)
            text = res.get_data(as_text=True)
            allowed = who in SCREEN and sees_town(who, town)
            if who == "anon":
                ok = res.status_code == 401
            elif name == "route":  # the router answers a page: the screen, or "not allowed"
                ok = res.status_code == 200 and (('"incident-layer"' in text) == allowed) \
                    and (('"denied"' in text) != allowed)
            elif allowed:
                ok = res.status_code in (200, 204)
            else:
                ok = res.status_code in (403, 404) and str(world["case"][town]) not in text
            if not ok:
                problems.append(f"{who} {name} in {town_key}: {res.status_code} {text[:120]}")
    assert not problems, "\n".join(problems)


def console_calls(world, town):
    case = str(world["case"][town])
    cfg = {"console-config.data": {"lang": "zh"}}
    return {
        "list": ("case-grid", {"case-grid.getRowsRequest": {"startRow": 0, "endRow": 100},
                               "list-query.data": list_query({"town": town},
                                                             datetime.now(timezone.utc) + timedelta(hours=1)),
                               **cfg}),
        "show": ("case-detail", {"case-id.data": case, "console-tick.n_intervals": 1, **cfg}),
        "accept": ("case-result", {
            '{"action":["ALL"],"type":"case-action"}.n_clicks': [
                {"id": {"type": "case-action", "action": "accept"}, "property": "n_clicks", "value": 1}],
            "case-version.data": {"id": case, "version": 1}, "form-case.data": case, **cfg}),
        "bulk assign": ("bulk-result", {"bulk-assign.n_clicks": 1, "case-grid.selectedRows": [{"id": case}],
                                        "bulk-dept.value": DEPARTMENT, **cfg}),
    }


@pytest.mark.parametrize("town_key", ["T", "O"])
def test_console_callbacks(world, rt, drain, town_key):
    town = TOWN if town_key == "T" else OTHER_TOWN
    case = world["case"][town]
    problems = []
    for who in ROLES_PRINCIPALS + ["anon"]:
        c = world["anon"] if who == "anon" else world["clients"][who]
        calls = console_calls(world, town)
        for name, (output, values) in calls.items():
            trig = '{"action":"accept","type":"case-action"}.n_clicks' if name == "accept" else None
            before = rt.redis.xlen(rt.settings.stream)
            res = dash_post(c, output, values, trig)
            text = res.get_data(as_text=True)
            wrote = rt.redis.xlen(rt.settings.stream) - before
            sees = who in CONSOLE and (who in ("admin", "leader") or (who in BOUND and BOUND[who] == town))
            if who == "anon":
                ok = res.status_code == 401 and wrote == 0
            elif who not in CONSOLE:
                ok = res.status_code == 403 and wrote == 0
            elif name == "list":
                rows = res.get_json()["response"]["case-grid"]["getRowsResponse"]["rowData"] \
                    if res.status_code == 200 else None
                ids = {r["id"] for r in rows or []}
                if who == "handler":  # no town filter, but only its department's cases
                    ok = rows is not None and all(r["department"] == DEPARTMENT for r in rows) \
                        and (town != OTHER_TOWN or str(world["case"]["D"]) in ids)
                else:
                    ok = (str(case) in ids) if sees else (res.status_code == 403)
            elif name == "show":
                ok = (res.status_code == 200 and "case-title" in text) if sees else res.status_code == 404
            elif name == "accept":
                may = who in ACTORS and sees
                ok = (res.status_code == 200 and wrote == 1) if may else \
                    (res.status_code in (403, 404) and wrote == 0)
            else:  # bulk assign: a refused case is counted, nothing is written
                may = who in ACTORS and sees
                ok = res.status_code == 200 and ((wrote >= 1) if may else (wrote == 0))
            if not ok:
                problems.append(f"{who} {name} in {town_key}: {res.status_code} wrote {wrote} {text[:160]}")
            if wrote:  # put the case back for the next principal: a fresh case in its place
                drain()
                world["case"][town] = _fresh_case(rt, town, drain)
                case = world["case"][town]
    assert not problems, "\n".join(problems)


def _fresh_case(rt, town, drain):
    from dashboard.core.intake import report_event
    from dashboard.core.schemas import ReportIn

    grid = next(g for g in rt.geo.grids.values() if g.town_code == town)
    ev = report_event(ReportIn(category="dispute", description="测试", lat=grid.lat, lon=grid.lon,
                               reporter="网格员"), rt.geo)
    rt.publisher.publish(ev)
    drain()
    return ev.incident_id


def test_handler_sees_and_works_its_departments_case(world, rt):
    c = world["clients"]["handler"]
    d = str(world["case"]["D"])
    cfg = {"console-config.data": {"lang": "zh"}}
    res = dash_post(c, "case-detail", {"case-id.data": d, "console-tick.n_intervals": 1, **cfg})
    assert res.status_code == 200 and "case-title" in res.get_data(as_text=True)
    buttons = json.dumps(res.get_json()["response"]["case-buttons"]["children"])
    assert '"start"' in buttons and '"accept"' not in buttons and '"close"' not in buttons
    before = rt.redis.xlen(rt.settings.stream)
    res = dash_post(c, "case-result", {
        '{"action":["ALL"],"type":"case-action"}.n_clicks': [
            {"id": {"type": "case-action", "action": "start"}, "property": "n_clicks", "value": 1}],
        "case-version.data": {"id": d, "version": 3}, "form-case.data": d, **cfg},
        '{"action":"start","type":"case-action"}.n_clicks')
    assert res.status_code == 200 and rt.redis.xlen(rt.settings.stream) == before + 1


def test_callbacks_without_the_csrf_token_are_refused(world, rt):
    c = world["clients"]["op"]
    before = rt.redis.xlen(rt.settings.stream)
    cb = [d for d in DEPS if "case-result." in d["output"] and "case-action" in d["inputs"][0]["id"]][0]
    res = c.post("/_dash-update-component", no_csrf=True, json={
        "output": cb["output"], "outputs": _outputs(cb["output"])[0], "changedPropIds": [], "inputs": [],
        "state": []})
    assert res.status_code == 400 and "CSRF" in res.get_json()["error"]
    assert rt.redis.xlen(rt.settings.stream) == before


@pytest.mark.parametrize("town_key", ["T", "O"])
def test_leaders_callback(world, town_key):
    town = TOWN if town_key == "T" else OTHER_TOWN
    short = str(world["case"][town])[:8]  # the leaders' table shows a case's short id
    values = {"ld-url.search": f"?town={town}&period=7d", "ld-period.value": "7d", "ld-category.value": [],
              "ld-urgency.value": [], "ld-status.value": [], "ld-min.value": 5,
              "ld-config.data": {"lang": "zh"}}
    problems = []
    for who in ROLES_PRINCIPALS + ["anon"]:
        c = world["anon"] if who == "anon" else world["clients"][who]
        res = dash_post(c, "ld-content", values, "ld-url.search")
        text = res.get_data(as_text=True)
        if who == "anon":
            ok = res.status_code == 401
        elif who not in LEADERS:
            ok = res.status_code == 403 and short not in text
        elif sees_town(who, town):
            ok = res.status_code == 200 and short in text
        else:  # the page says "not allowed" and shows nothing of that town
            ok = res.status_code == 200 and "ld-denied" in text and short not in text
        if not ok:
            problems.append(f"{who} leaders view of {town_key}: {res.status_code} {text[:160]}")
    assert not problems, "\n".join(problems)
