"""The leaders' view core (dashboard.queries.leaders) on a hand-computed fixture, in a real database.

Runs on SQLite and PostgreSQL (the ``store`` fixture). Times are local (Asia/Shanghai);
"now" is 2026-11-26 10:00 local. The 7-day period starts 2026-11-19 10:00 local.
SLA table (data/sla.csv): default 24 h / 120 h; red 1 h / 24 h; fire_hazard 4 h / 48 h
(a red fire hazard: the stricter, 1 h / 24 h).

J = 金清镇 331004106 (grids J1, J2), X = 新桥镇 331004103 (grid X1).

 id  town grid reported     accepted          closed            status       urgency  category    reporter
 k1  J    J1   11-26 08:00  -                 -                 reported     red      fire_hazard 张三
 k2  J    J1   11-25 09:00  11-25 10:00 (1h)  11-26 09:00 (24h) closed       green    garbage     张三
 k3  J    J1   11-24 09:00  11-25 15:00 (30h) -                 accepted     yellow   garbage     张三
 k4  J    J2   11-20 12:00  11-20 13:00 (1h)  11-24 12:00 (4d)  closed       green    garbage     张三
 k5  J    J2   11-19 12:00  11-19 13:00 (1h)  -                 in_progress  green    garbage     张三
 k6  X    X1   11-22 10:00  11-22 11:00 (1h)  11-23 10:00 (24h) closed       yellow   fire_hazard 李四
 k7  X    X1   11-26 09:30  -                 -                 reported     green    garbage     李四
 k8  J    J2   11-10 08:00  11-10 09:00       -                 accepted     green    garbage     王五   (before the period)
 k9  X    X1   11-12 08:00  11-12 09:00       11-20 08:00       closed       green    garbage     王五   (before the period)

Open now and past an SLA deadline (overdue): k1 (red: accept within 1 h, reported 2 h ago),
k5 (close by 11-24 12:00), k8 (close by 11-15 08:00). Not overdue: k3 (close by 11-29), k7.
"""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from dashboard.config import Settings
from dashboard.core.access import AccessDenied, Principal
from dashboard.core.domain import IncidentState, categories
from dashboard.queries import exports, leaders
from dashboard.queries.kpis import compute_kpis

TZ = "Asia/Shanghai"
J, X = "331004106", "331004103"
J1, J2, X1 = "331004106008-01", "331004106008-02", "331004103004-01"
GRID_TOWN = {J1: J, J2: J, X1: X}


def L(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(TZ)).astimezone(timezone.utc)


NOW = L("2026-11-26 10:00")


def case(name, grid, reported, accepted=None, closed=None, status="reported", urgency="green",
         category="garbage", reporter="张三", description=None) -> IncidentState:
    return IncidentState(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"leaders-test/{name}"), reported_at=L(reported),
        town_code=GRID_TOWN[grid], village_code=grid[:12], grid_code=grid, category=category,
        platform=categories()[category].platform, description=description or f"【测试】{name}",
        lat=28.5, lon=121.5, reporter=reporter, base_urgency=urgency, urgency=urgency, photos=[],
        source="test", status=status, accepted_at=L(accepted) if accepted else None,
        resolved_at=L(closed) if closed else None, closed_at=L(closed) if closed else None,
        resolved_level="grid" if closed else None, version=1)


CASES = [
    case("k1", J1, "2026-11-26 08:00", urgency="red", category="fire_hazard",
         description='=HYPERLINK("http://x","y")'),
    case("k2", J1, "2026-11-25 09:00", "2026-11-25 10:00", "2026-11-26 09:00", "closed",
         description="<script>alert(1)</script>"),
    case("k3", J1, "2026-11-24 09:00", "2026-11-25 15:00", status="accepted", urgency="yellow",
         description="-2+3 开头是减号"),
    case("k4", J2, "2026-11-20 12:00", "2026-11-20 13:00", "2026-11-24 12:00", "closed",
         description="@SUM(A1)"),
    case("k5", J2, "2026-11-19 12:00", "2026-11-19 13:00", status="in_progress",
         description="响铃\x07字符与\x1b控制符"),
    case("k6", X1, "2026-11-22 10:00", "2026-11-22 11:00", "2026-11-23 10:00", "closed", "yellow",
         category="fire_hazard", reporter="李四"),
    case("k7", X1, "2026-11-26 09:30", reporter="李四"),
    case("k8", J2, "2026-11-10 08:00", "2026-11-10 09:00", status="accepted", reporter="王五"),
    case("k9", X1, "2026-11-12 08:00", "2026-11-12 09:00", "2026-11-20 08:00", "closed", reporter="王五"),
]
ID = {f"k{i}": c.id for i, c in enumerate(CASES, 1)}

LEADER = Principal("user", 1, "leader", "leader")
ADMIN = Principal("user", 2, "admin", "admin")
OP_J = Principal("user", 3, "op", "operator", town=J)
OP_X = Principal("user", 4, "op_other", "operator", town=X)


@pytest.fixture
def loaded(store):
    with store.engine.begin() as conn:
        store.upsert_states(conn, CASES)
    return store


@pytest.fixture
def rt(loaded, geo):
    return SimpleNamespace(store=loaded, geo=geo, settings=Settings.from_env({}))


def view(rt, p=LEADER, now=NOW, **query):
    return leaders.view_for(rt, p, leaders.parse_query(query), now=now)


def window(num, den, pending):
    return {"numerator": num, "denominator": den, "rate": num / den if den else None, "pending": pending}


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    """Each test computes its views (the cache is per store object, and stores are reused)."""
    monkeypatch.setattr(leaders, "_caches", __import__("weakref").WeakKeyDictionary())


# --------------------------------------------------------------------------- formula injection

@pytest.mark.parametrize("text,expected", [
    ("=1+1", "'=1+1"), ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+86 576", "'+86 576"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("\n=1", "'\n=1"),
    ("路面坑洼", "路面坑洼"), ("a=1", "a=1"), ("1-2", "1-2"), ("", ""), (None, ""),
    ("'=1", "'=1"), ("<script>alert(1)</script>", "<script>alert(1)</script>"), (-3, "'-3"), (12, "12"),
])
def test_safe_cell(text, expected):
    assert exports.safe_cell(text) == expected


# --------------------------------------------------------------------------- URL filters

def test_query_round_trip_normalises_and_drops_unknown_values():
    f = leaders.parse_query({"town": J, "period": "30d", "category": "garbage,nonsense,fire_hazard",
                             "urgency": "green,red,purple", "status": "closed,open,bogus", "min": "3",
                             "lang": "en"})
    cats = list(categories())
    assert f.categories == tuple(sorted(("garbage", "fire_hazard"), key=cats.index))
    assert f.urgencies == ("red", "green")              # fixed order: red, yellow, green
    assert f.status == ("open", "closed")
    assert f.statuses == ("reported", "accepted", "assigned", "in_progress", "resolved", "closed")
    assert f.min_cases == 3 and f.period == "30d" and f.town == J and f.grid is None
    again = leaders.parse_query(leaders.query_of(f.query_string("en")))
    assert again == f
    assert f.query_string("en") == (f"?town={J}&period=30d&category={','.join(f.categories)}"
                                    "&urgency=red,green&status=open,closed&min=3&lang=en")


@pytest.mark.parametrize("query,expected", [
    ({}, leaders.Filters()),
    ({"period": "forever", "min": "abc", "town": "district"}, leaders.Filters()),
    ({"min": "0"}, leaders.Filters(min_cases=1)),
    ({"min": "7.0"}, leaders.Filters(min_cases=7)),
    ({"min": "1e9"}, leaders.Filters(min_cases=leaders.MAX_MIN_CASES)),
    ({"min": "inf"}, leaders.Filters()),
    ({"status": "accepted", "grid": J1}, leaders.Filters(status=("accepted",), grid=J1)),
])
def test_parse_query_defaults_and_bad_values(query, expected):
    assert leaders.parse_query(query) == expected


def test_defaults_are_left_out_of_the_url_and_changes_apply():
    f = leaders.Filters(town=J, grid=J1)
    assert f.query_string() == f"?town={J}&grid={J1}&period=7d"
    assert f.query_string("zh", town=None, grid=None) == "?period=7d"


def test_with_controls_keeps_the_place_and_checks_values():
    f = leaders.Filters(town=J, grid=J1, min_cases=9)
    g = leaders.with_controls(f, period="today", categories=["garbage", 3, "x"], urgencies=None,
                              status=["open"], min_cases=None)
    assert g == leaders.Filters(town=J, grid=J1, period="today", categories=("garbage",), status=("open",))


# --------------------------------------------------------------------------- scope

@pytest.mark.parametrize("who,query,town,grid", [
    (LEADER, {}, None, None),
    (ADMIN, {"town": X}, X, None),
    (LEADER, {"grid": J1}, J, J1),                       # the grid's town is filled in
    (OP_J, {}, J, None),                                 # the district, for a town's operator: its town
    (OP_J, {"town": J, "grid": J2}, J, J2),
])
def test_scope_allowed(geo, who, query, town, grid):
    f = leaders.scoped(who, leaders.parse_query(query), geo)
    assert (f.town, f.grid) == (town, grid)


@pytest.mark.parametrize("who,query,status", [
    (OP_J, {"town": X}, 403),                            # another town
    (OP_J, {"grid": X1}, 403),                           # a grid of another town
    (OP_J, {"town": J, "grid": X1}, 403),
    (OP_J, {"town": X, "grid": J1}, 403),
    (OP_J, {"town": "999"}, 403),                        # unknown, but outside its town anyway
    (LEADER, {"town": "999"}, 404),
    (LEADER, {"grid": "999-01"}, 404),
    (LEADER, {"town": X, "grid": J1}, 404),              # a grid outside the town asked for
    (Principal("user", 5, "h", "handler", department="综合行政执法局"), {}, 403),
    (Principal("key", 6, "w", "reporter", town=J), {"town": J}, 403),
    (Principal("kiosk", 7, "k", "screen"), {}, 403),     # a district screen kiosk: not this page
])
def test_scope_denied(geo, who, query, status):
    with pytest.raises(AccessDenied) as exc:
        leaders.scoped(who, leaders.parse_query(query), geo)
    assert exc.value.status == status


# --------------------------------------------------------------------------- the figures

def test_district_7d_every_figure(rt):
    v = view(rt, period="7d")
    assert v.filters.level == "district"
    assert v.kpis == {
        "reports_in_period": 7,                           # k1..k7
        "closed": 3,                                      # k2, k4, k6
        "closure_rate": {"numerator": 3, "denominator": 7, "rate": 3 / 7, "open": 4},
        # 1 day: on time k2, k4, k5, k6; late k3 (30 h); pending k1, k7
        "accepted_within_1d": window(4, 5, 2),
        # 5 days: on time k2, k4, k6; late k5 (open after 5 days); pending k1, k3, k7
        "closed_within_5d": window(3, 4, 3),
        "open_total": 5,                                  # k1, k3, k5, k7 and the older k8
        "overdue": 3,                                     # k1, k5, k8
    }
    # the trend: 11-19 .. 11-26, reports by report day, closures by close day (k9's too)
    assert v.trend_unit == "day"
    assert [b["start"].strftime("%m-%d") for b in v.trend] == [f"11-{d}" for d in range(19, 27)]
    assert [b["reports"] for b in v.trend] == [1, 1, 0, 1, 0, 1, 1, 2]
    assert [b["closed"] for b in v.trend] == [0, 1, 0, 0, 1, 1, 0, 1]
    # the towns: every town of the district, by reports
    assert len(v.ranking) == len(rt.geo.towns)
    assert v.ranking[0] == {"code": J, "reports": 5, "closed": 2, "closure_rate": 0.4, "overdue": 3}
    assert v.ranking[1] == {"code": X, "reports": 2, "closed": 1, "closure_rate": 0.5, "overdue": 0}
    assert all(r["reports"] == 0 and r["closure_rate"] is None for r in v.ranking[2:])
    assert [r["code"] for r in v.ranking[2:]] == sorted(set(rt.geo.towns) - {J, X})
    # grid workers with at least 5 cases: only 张三; his main grid is J1 (3 of 5)
    assert v.workers == [{"reporter": "张三", "reports": 5, "closed": 2, "closure_rate": 0.4, "grid": J1}]
    assert v.total == 7 and not v.truncated
    assert [c["id"] for c in v.cases] == [ID[k] for k in ("k7", "k1", "k2", "k3", "k6", "k4", "k5")]


def test_same_figures_as_compute_kpis_without_extra_filters(rt):
    """The definitions are the KPI module's: for the district and for a town, unfiltered, the
    shared figures agree with compute_kpis (with the same SLA table)."""
    for town in (None, J, X):
        for period in ("today", "7d", "30d"):
            k = compute_kpis(rt.store, now=NOW, tz=TZ, town=town, period=period)
            v = view(rt, period=period, **({"town": town} if town else {}))
            for key in ("closure_rate", "accepted_within_1d", "closed_within_5d", "overdue", "open_total"):
                assert v.kpis[key] == k[key], (town, period, key)
            assert v.kpis["reports_in_period"] == k["reports_in_period"]


def test_town_ranks_its_grids_and_grid_has_no_ranking(rt):
    v = view(rt, town=J)
    assert v.ranking[0] == {"code": J1, "reports": 3, "closed": 1, "closure_rate": 1 / 3, "overdue": 1}
    assert v.ranking[1] == {"code": J2, "reports": 2, "closed": 1, "closure_rate": 0.5, "overdue": 2}
    assert {r["code"] for r in v.ranking} == {g.code for g in rt.geo.grids.values() if g.town_code == J}
    # closures in the town: k4 (11-24), k2 (11-26); not 新桥镇's k9, though closed in the period
    assert [(b["start"].day, b["closed"]) for b in v.trend if b["closed"]] == [(24, 1), (26, 1)]
    g = view(rt, grid=J2)
    assert g.filters.town == J and g.ranking is None
    assert g.kpis["reports_in_period"] == 2 and g.kpis["closed"] == 1 and g.kpis["overdue"] == 2
    assert [c["id"] for c in g.cases] == [ID["k4"], ID["k5"]]


@pytest.mark.parametrize("query,ids,overdue", [
    ({"category": "fire_hazard"}, ["k1", "k6"], 1),
    ({"urgency": "red"}, ["k1"], 1),
    ({"status": "open"}, ["k7", "k1", "k3", "k5"], 3),
    ({"status": "closed"}, ["k2", "k6", "k4"], 0),
    ({"status": "accepted"}, ["k3"], 1),                 # k8 is accepted and overdue (any period)
    ({"status": "open", "town": X}, ["k7"], 0),
    ({"period": "today"}, ["k7", "k1"], 3),
    ({"period": "30d", "town": X}, ["k7", "k6", "k9"], 0),
])
def test_filters(rt, query, ids, overdue):
    v = view(rt, **query)
    assert [c["id"] for c in v.cases] == [ID[k] for k in ids]
    assert v.total == v.kpis["reports_in_period"] == len(ids)
    assert v.kpis["overdue"] == overdue


def test_status_closed_trend_counts_closures_of_older_cases(rt):
    v = view(rt, status="closed")
    assert sum(b["closed"] for b in v.trend) == 4          # k2, k4, k6 and k9 (reported 11-12)
    assert sum(b["reports"] for b in v.trend) == 3


def test_today_is_by_hour(rt):
    v = view(rt, period="today")
    assert v.trend_unit == "hour"
    assert [b["start"].hour for b in v.trend] == list(range(0, 11))
    assert v.trend[8]["reports"] == 1 and v.trend[9]["reports"] == 1        # k1 08:00, k7 09:30
    assert v.trend[9]["closed"] == 1 and sum(b["closed"] for b in v.trend) == 1  # k2 at 09:00


def test_min_cases_for_workers(rt):
    v = view(rt, min="2")
    assert [(w["reporter"], w["reports"], w["grid"]) for w in v.workers] == [("张三", 5, J1), ("李四", 2, X1)]
    assert view(rt, min="6").workers == []


def test_operator_sees_only_its_town(rt):
    v = view(rt, OP_J)
    assert v.filters.town == J and v.total == 5
    assert {c["town_code"] for c in v.cases} == {J}
    with pytest.raises(AccessDenied):
        view(rt, OP_J, town=X)


def test_table_limit_and_truncation(rt, geo):
    f = leaders.scoped(LEADER, leaders.Filters(), geo)
    v = leaders.compute_view(rt.store, f, now=NOW, tz=TZ, geo=geo, table_limit=3)
    assert v.total == 7 and len(v.cases) == 3 and v.truncated
    assert [c["id"] for c in v.cases] == [ID["k7"], ID["k1"], ID["k2"]]


def test_empty_selection_has_no_rates(rt):
    v = view(rt, town="331004001")                       # 路南街道: no cases
    assert v.total == 0 and v.cases == [] and v.workers == []
    assert v.kpis["closure_rate"]["rate"] is None and v.kpis["accepted_within_1d"]["rate"] is None
    assert all(b["reports"] == 0 for b in v.trend)


# --------------------------------------------------------------------------- cache

def test_cache_is_keyed_by_scope_and_filters(rt):
    cache = leaders.cache_of(rt.store)
    a = view(rt, LEADER)
    assert view(rt, LEADER) is a and cache.computations == 1       # same scope, same filters
    assert view(rt, ADMIN) is a and cache.computations == 1        # admin and leader: scope "district"
    b = view(rt, OP_J)                                               # another scope: computed anew
    assert b is not a and cache.computations == 2 and b.total == 5
    c = view(rt, LEADER, town=J)                                     # same rows as OP_J, other scope key
    assert c is not b and cache.computations == 3
    view(rt, LEADER, period="30d")
    assert cache.computations == 4
    # an expired entry is recomputed
    cache.ttl = 0
    assert view(rt, LEADER) is not a


# --------------------------------------------------------------------------- export

def export(rt, p, query, lang="zh", **kw):
    """The export's header, rows and facts, read while it is open (rows are one pass)."""
    with exports.open_export(rt, p, leaders.parse_query(query), lang, now=NOW, **kw) as ex:
        return ex, list(ex.rows)


def test_export_rows_for_an_operator_are_its_towns_and_inert(rt):
    ex, rows = export(rt, OP_J, {})
    assert ex.filters.town == J and ex.total == 5 and ex.exported == 5 and not ex.truncated
    assert ex.header == ["编号", "上报时间", "镇街", "网格", "类别", "紧急程度", "状态", "上报人",
                         "受理时间", "结案时间", "事件描述"]
    by_id = {r[0]: r for r in rows}
    assert [r[0] for r in rows] == [str(ID[k]) for k in ("k1", "k2", "k3", "k4", "k5")]
    assert by_id[str(ID["k1"])] == [
        str(ID["k1"]), "2026-11-26 08:00:00", "金清镇", rt.geo.grids[J1].name, categories()["fire_hazard"].name_zh,
        "紧急", "待受理", "张三", "", "", '\'=HYPERLINK("http://x","y")']
    assert by_id[str(ID["k2"])][6:] == ["已反馈结案", "张三", "2026-11-25 10:00:00", "2026-11-26 09:00:00",
                                       "<script>alert(1)</script>"]
    assert by_id[str(ID["k3"])][-1] == "'-2+3 开头是减号"
    assert by_id[str(ID["k4"])][-1] == "'@SUM(A1)"
    assert exports.export_filename(ex, "csv") == f"luqiao-cases-{J}-7d-20261126-1000.csv"


def test_export_in_english_with_filters(rt):
    ex, rows = export(rt, LEADER, {"status": "closed"}, "en")
    assert ex.header[:3] == ["ID", "Reported", "Town"]
    assert [r[0] for r in rows] == [str(ID[k]) for k in ("k2", "k6", "k4")]
    assert {r[2] for r in rows} == {"Jinqing Town", "Xinqiao Town"} and {r[6] for r in rows} == {"Closed"}


def test_export_limit_says_what_was_left_out(rt):
    ex, rows = export(rt, LEADER, {}, limit=2)
    assert ex.total == 7 and ex.exported == len(rows) == 2 and ex.truncated
    assert any("只导出最新的 2 条" in v for _k, v in ex.info)


def test_csv_has_bom_and_reads_back(rt):
    ex, rows = export(rt, LEADER, {})
    with exports.open_export(rt, LEADER, leaders.parse_query({}), "zh", now=NOW) as again:
        body = b"".join(exports.csv_chunks(again))
    assert body.startswith(b"\xef\xbb\xbf")
    read = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert read[0] == ex.header and read[1:] == rows
    assert not [cell for row in read for cell in row if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_csv_streams_in_chunks_of_the_selection(rt):
    """Rows are written as they are read: more rows than a chunk give several chunks."""
    with exports.open_export(rt, LEADER, leaders.parse_query({}), "zh", now=NOW) as ex:
        chunks = list(exports.csv_chunks(ex))
    assert len(chunks) == 2  # the header, then the 7 rows (fewer than CSV_CHUNK_ROWS)
    with exports.open_export(rt, LEADER, leaders.parse_query({}), "zh", now=NOW) as ex:
        small = exports.CSV_CHUNK_ROWS
        try:
            exports.CSV_CHUNK_ROWS = 3
            assert len(list(exports.csv_chunks(ex))) == 1 + 3   # 3 + 3 + 1 rows
        finally:
            exports.CSV_CHUNK_ROWS = small


def test_xlsx_cells_are_strings_never_formulas(rt):
    from openpyxl import load_workbook

    ex, rows = export(rt, LEADER, {})
    buf = io.BytesIO()
    with exports.open_export(rt, LEADER, leaders.parse_query({}), "zh", now=NOW) as again:
        exports.write_xlsx(again, "zh", buf)
    wb = load_workbook(io.BytesIO(buf.getvalue()))
    assert wb.sheetnames == ["事件", "说明"]
    ws = wb["事件"]
    cells = [c for row in ws.iter_rows() for c in row if c.value is not None]
    assert cells and all(c.data_type == "s" for c in cells)
    read = [[c.value or "" for c in row] for row in ws.iter_rows()]
    assert read[0] == ex.header
    # every row as exported, except the control characters XML cannot hold
    assert read[1:] == [[v.replace("\x07", "").replace("\x1b", "") for v in r] for r in rows]
    hyperlink = next(c for c in ws["K"] if "HYPERLINK" in str(c.value))
    assert hyperlink.value.startswith("'=") and hyperlink.data_type == "s"
    info = {r[0].value: r[1].value for r in wb["说明"].iter_rows()}
    assert info["范围"] == "全区" and info["符合条件"] == "7" and "演示" in info["演示数据"]
