"""The leaders' view through the real app on real Redis and both databases: the CSV and Excel
exports against hand-computed rows, filters, the scope of the session (never the URL's), the
page's callback and layout, and text that stays text.

Cases go through the real pipeline (stream → persister → database) and the checked actions,
at times relative to now (the exports compute "now" themselves):

 case  town    grid  reported  category     urgency  steps                                  reporter
 a1    金清镇  J1    3 h ago   garbage      green    -                      (reported)      网格员甲
 a2    金清镇  J1    5 h ago   garbage      green    accept +1 h, assign, resolve, close +4 h  网格员甲
 a3    金清镇  J2    2 d ago   fire_hazard  red      accept +30 min         (accepted)      网格员乙
 b1    新桥镇  X1    1 d ago   garbage      green    -                      (reported)      网格员丙
 b2    新桥镇  X1    10 d ago  garbage      green    -   (outside the default 7 days)       网格员丙
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from people import OTHER_TOWN, TOWN

from dashboard.core.domain import categories
from dashboard.core.intake import report_event
from dashboard.core.schemas import ReportIn
from dashboard.stream.commands import Commands

J1, J2, X1 = "331004106008-01", "331004106008-02", "331004103004-01"
HYPERLINK = '=HYPERLINK("http://x","y")'
SCRIPT = "<script>alert(1)</script>"
SPEC = {  # name: (grid, hours ago, category, urgency, description, reporter)
    "a1": (J1, 3, "garbage", "green", HYPERLINK, "网格员甲"),
    "a2": (J1, 5, "garbage", "green", SCRIPT, "网格员甲"),
    "a3": (J2, 48, "fire_hazard", "red", "@SUM(A1) 楼道堆放杂物", "网格员乙"),
    "b1": (X1, 24, "garbage", "green", "新桥镇的事件", "网格员丙"),
    "b2": (X1, 240, "garbage", "green", "新桥镇十天前", "网格员丙"),
}
HEADER = ["编号", "上报时间", "镇街", "网格", "类别", "紧急程度", "状态", "上报人", "受理时间", "结案时间", "事件描述"]


@pytest.fixture
def cases(rt, drain):
    """The five cases above; returns {name: {"id", "at", "accepted", "closed"}}."""
    now = datetime.now(timezone.utc)
    out = {}
    for name, (grid, hours, cat, urgency, text, reporter) in SPEC.items():
        g = rt.geo.grids[grid]
        ev = report_event(ReportIn(category=cat, description=text, lat=g.lat, lon=g.lon, reporter=reporter,
                                   grid=grid, urgency=urgency, reported_at=now - timedelta(hours=hours)),
                          rt.geo, now=now)
        rt.publisher.publish(ev)
        out[name] = {"id": str(ev.incident_id), "at": ev.at, "accepted": None, "closed": None}
    drain()
    cmd = Commands(rt.redis, rt.store, rt.settings.stream)

    def step(name, action, after_h, version, note="", **data):
        at = out[name]["at"] + timedelta(hours=after_h)
        cmd.act(out[name]["id"], action, expected_version=version, actor="值班员", note=note, data=data, at=at)
        return at

    out["a2"]["accepted"] = step("a2", "accept", 1, 1)
    step("a2", "assign", 1.5, 2, department="综合行政执法局")
    step("a2", "resolve", 2, 3, note="垃圾已清运")
    out["a2"]["closed"] = step("a2", "close", 4, 4)
    out["a3"]["accepted"] = step("a3", "accept", 0.5, 1)
    drain()
    return out


def local(dt):
    return "" if dt is None else dt.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")


def expected_row(rt, cases, name):
    """The export row of a case, written out from the table above."""
    grid, _h, cat, urgency, text, reporter = SPEC[name]
    c = cases[name]
    status = {"a2": "已反馈结案", "a3": "已受理"}.get(name, "待受理")
    safe = {HYPERLINK: "'" + HYPERLINK, "@SUM(A1) 楼道堆放杂物": "'@SUM(A1) 楼道堆放杂物"}.get(text, text)
    return [c["id"], local(c["at"]), "金清镇" if grid != X1 else "新桥镇", rt.geo.grids[grid].name,
            categories()[cat].name_zh, {"green": "一般", "red": "紧急"}[urgency], status, reporter,
            local(c["accepted"]), local(c["closed"]), safe]


def csv_rows(res):
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    body = res.get_data()
    assert body.startswith(b"\xef\xbb\xbf")                  # BOM: Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    return rows[0], rows[1:]


def ids(rows):
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- exports

def test_csv_export_matches_hand_computed_rows(rt, login, cases):
    res = login("leader").get("/leaders/export.csv")
    assert res.headers["Content-Type"].startswith("text/csv")
    disposition = res.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="luqiao-cases-district-7d-') and disposition.endswith('.csv"')
    assert res.headers["Cache-Control"] == "no-store" and res.headers["X-Total-Count"] == "4"
    assert res.headers["X-Exported-Count"] == "4" and res.is_streamed   # written as the rows are read
    header, rows = csv_rows(res)
    assert header == HEADER
    assert rows == [expected_row(rt, cases, n) for n in ("a1", "a2", "b1", "a3")]   # newest first; not b2
    # text stays text: the formula is defused, the script is just characters
    assert rows[0][-1] == "'" + HYPERLINK and rows[1][-1] == SCRIPT


@pytest.mark.parametrize("query,names", [
    (f"town={TOWN}", ["a1", "a2", "a3"]),
    (f"grid={J1}", ["a1", "a2"]),
    (f"town={TOWN}&grid={J2}", ["a3"]),
    ("category=fire_hazard", ["a3"]),
    ("urgency=red", ["a3"]),
    ("status=closed", ["a2"]),
    (f"status=open&town={TOWN}", ["a1", "a3"]),
    ("status=reported", ["a1", "b1"]),
    ("period=30d", ["a1", "a2", "b1", "a3", "b2"]),
    ("period=today&category=garbage&status=accepted", []),
])
def test_export_filters(login, cases, query, names):
    _header, rows = csv_rows(login("admin").get(f"/leaders/export.csv?{query}"))
    assert ids(rows) == [cases[n]["id"] for n in names]


def test_xlsx_export_same_rows_all_strings_no_formula(rt, login, cases):
    from openpyxl import load_workbook

    c = login("leader")
    res = c.get(f"/leaders/export.xlsx?town={TOWN}&lang=en")
    assert res.status_code == 200
    assert res.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert res.headers["Content-Disposition"].startswith(f'attachment; filename="luqiao-cases-{TOWN}-7d-')
    wb = load_workbook(io.BytesIO(res.get_data()))
    ws = wb["Cases"]
    cells = [cell for row in ws.iter_rows() for cell in row if cell.value is not None]
    assert all(cell.data_type == "s" for cell in cells)               # not one formula
    rows = [[cell.value or "" for cell in row] for row in ws.iter_rows()]
    assert rows[0][:3] == ["ID", "Reported", "Town"]
    assert [r[0] for r in rows[1:]] == [cases[n]["id"] for n in ("a1", "a2", "a3")]
    assert rows[1][-1] == "'" + HYPERLINK and rows[2][-1] == SCRIPT and rows[3][-1].startswith("'@SUM")
    assert {r[2] for r in rows[1:]} == {"Jinqing Town"}
    # the same rows as the CSV of the same selection (in English)
    _h, csv_body = csv_rows(c.get(f"/leaders/export.csv?town={TOWN}&lang=en"))
    assert rows[1:] == csv_body
    about = {r[0].value: r[1].value for r in wb["About"].iter_rows()}
    assert about["Scope"] == "Jinqing Town" and about["Rows matching"] == "3"


def test_unknown_format_and_unknown_places(login, cases):
    c = login("leader")
    assert c.get("/leaders/export.pdf").status_code == 404
    assert c.get("/leaders/export.csv?town=999999").status_code == 404
    assert c.get("/leaders/export.csv?grid=nope").status_code == 404
    assert c.get(f"/leaders/export.csv?town={OTHER_TOWN}&grid={J1}").status_code == 404


# --------------------------------------------------------------------------- scope

def test_operator_exports_only_its_own_town(login, cases):
    op = login("op")                                              # 金清镇
    for query in (f"town={OTHER_TOWN}", f"grid={X1}", f"town={TOWN}&grid={X1}", f"town={OTHER_TOWN}&grid={J1}"):
        res = op.get(f"/leaders/export.csv?{query}")
        assert res.status_code == 403, query
        assert res.get_json()["error"] and "新桥镇" not in res.get_data(as_text=True)
    own = [cases[n]["id"] for n in ("a1", "a2", "a3")]
    assert ids(csv_rows(op.get(f"/leaders/export.csv?town={TOWN}"))[1]) == own
    assert ids(csv_rows(op.get("/leaders/export.csv"))[1]) == own            # "the district": its town
    assert ids(csv_rows(op.get("/leaders/export.csv?town=district&period=30d"))[1]) == own
    other = login("op_other")
    assert ids(csv_rows(other.get("/leaders/export.csv?period=30d"))[1]) == [cases[n]["id"] for n in ("b1", "b2")]
    assert other.get(f"/leaders/export.xlsx?town={TOWN}").status_code == 403


@pytest.mark.parametrize("who", ["handler", "worker"])
def test_roles_without_the_page_cannot_export(login, cases, who):
    assert login(who).get("/leaders/export.csv").status_code == 403


def test_anonymous_export_goes_to_sign_in(app, cases):
    res = app.test_client().get(f"/leaders/export.csv?town={TOWN}")
    assert res.status_code == 302 and res.headers["Location"].startswith("/login?next=")


def test_a_reporter_api_key_cannot_export(app, accounts, cases):
    _kid, key = accounts.create_key("worker", name="phone")
    assert app.test_client().get("/leaders/export.csv", headers={"X-API-Key": key}).status_code == 403


# --------------------------------------------------------------------------- the page

def sync_post(client, *, search="", trigger="ld-url.search", period="7d", cats=None, min_cases=5, shown=""):
    """A hand-made call of the page's callback (as Dash's renderer, or an attacker, sends it)."""
    deps = client.get("/_dash-dependencies").get_json()
    cb = next(d for d in deps if "ld-content.children" in d["output"])
    values = {"ld-period.value": period, "ld-category.value": cats or [], "ld-urgency.value": [],
              "ld-status.value": [], "ld-min.value": min_cases, "ld-url.search": search, "ld-tick.n_intervals": None,
              "ld-config.data": {"lang": "zh"}, "ld-shown.data": shown}

    def spec(items):
        return [{"id": i["id"], "property": i["property"], "value": values[f"{i['id']}.{i['property']}"]}
                for i in items]

    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
               for part in cb["output"].strip(".").split("...")]
    return client.post("/_dash-update-component", json={
        "output": cb["output"], "outputs": outputs, "inputs": spec(cb["inputs"]), "state": spec(cb["state"]),
        "changedPropIds": [trigger]})


def content_text(res) -> str:
    assert res.status_code == 200, res.get_data(as_text=True)[:300]
    return json.dumps(res.get_json()["response"], ensure_ascii=False)


def test_callback_takes_the_scope_from_the_session(login, cases):
    op = login("op")
    text = content_text(sync_post(op, search=f"?town={OTHER_TOWN}"))
    assert "ld-denied" in text and "无权访问" in text and "您的账号只能查看金清镇的数据" in text
    assert "新桥镇的事件" not in text and cases["b1"]["id"] not in text
    text = content_text(sync_post(op, search=f"?grid={X1}"))
    assert "ld-denied" in text and cases["b1"]["id"] not in text
    text = content_text(sync_post(op, search=""))                   # the district: its own town
    assert cases["a1"]["id"] in text and cases["b1"]["id"] not in text and "新桥镇的事件" not in text
    text = content_text(sync_post(login("leader"), search=f"?town={OTHER_TOWN}"))
    assert cases["b1"]["id"] in text and cases["a1"]["id"] not in text


@pytest.mark.parametrize("who,status", [("handler", 403), ("worker", 403)])
def test_callback_refuses_roles_without_the_page(login, cases, who, status):
    res = sync_post(login(who), search="")
    assert res.status_code == status and cases["a1"]["id"] not in res.get_data(as_text=True)


def test_callback_refuses_anonymous(app, cases):
    c = app.test_client()
    res = c.post("/_dash-update-component", json={"output": "ld-content.children", "outputs": {},
                                                  "inputs": [], "state": [], "changedPropIds": []})
    assert res.status_code == 401


def test_changing_a_filter_updates_the_url_and_the_content(login, cases):
    res = sync_post(login("leader"), search=f"?town={TOWN}&period=7d", trigger="ld-period.value", period="30d",
                    cats=["garbage"], shown=f"?town={TOWN}&period=7d")
    out = res.get_json()["response"]
    assert out["ld-url"]["search"] == f"?town={TOWN}&period=30d&category=garbage"      # the town stays
    assert out["ld-shown"]["data"] == out["ld-url"]["search"]
    text = json.dumps(out["ld-content"], ensure_ascii=False)
    assert cases["a1"]["id"] in text and cases["a3"]["id"] not in text                 # a3 is a fire hazard
    assert "/leaders/export.csv?town=331004106&period=30d&category=garbage" in text
    assert "ld-period" not in out                                                       # controls left alone


def test_url_change_sets_the_controls_and_a_shown_url_is_not_redone(login, cases):
    c = login("leader")
    out = sync_post(c, search="?period=30d&status=closed&min=2").get_json()["response"]
    assert (out["ld-period"]["value"], out["ld-status"]["value"], out["ld-min"]["value"]) == ("30d", ["closed"], 2)
    assert "ld-url" not in out
    assert sync_post(c, search="?period=30d&status=closed&min=2", shown="?period=30d&status=closed&min=2"
                     ).status_code == 204                                                # nothing to do


def test_layout_for_the_router(app, rt, login, cases):
    """The page as the router renders it: the district's towns for a leader; a clear
    "not allowed" and nothing of 新桥镇 for 金清镇's operator asking for it."""
    from dashboard.core.access import Principal
    from dashboard.queries import leaders
    from layouts import leaders as page

    services = app.extensions["griddash.services"]
    leader = Principal("user", 1, "leader", "leader")
    op = Principal("user", 2, "op", "operator", town=TOWN)

    def render(p, query, lang="zh"):
        with app.test_request_context("/leaders"):  # the router runs in a request (sign-out form's token)
            f = leaders.parse_query(query)
            shown = leaders.page_view(services.runtime, p, f)
            tree = page.layout(principal=p, lang=lang, f=f, shown=shown, geo=services.runtime.geo).to_plotly_json()
        return json.dumps(tree, default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o),
                          ensure_ascii=False)

    text = render(leader, {})
    assert "金清镇" in text and "新桥镇" in text and cases["b1"]["id"] in text and "ld-denied" not in text
    text = render(op, {"town": OTHER_TOWN})
    assert "ld-denied" in text and "无权访问" in text and '"data-status": "403"' in text
    assert "ld-denied" in render(leader, {"town": "999999"}) and "没有这个镇街或网格" in render(leader, {"grid": "x"})
    assert cases["b1"]["id"] not in text and "新桥镇的事件" not in text and "ld-export-csv" not in text
    text = render(op, {}, "en")
    assert "Jinqing Town" in text and cases["a1"]["id"] in text and cases["b1"]["id"] not in text
    assert login("leader").get("/leaders").status_code == 200
    assert login("handler").get("/leaders").status_code == 403
