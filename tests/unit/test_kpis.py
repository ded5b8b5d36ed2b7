"""KPI figures (dashboard.queries.kpis) on a hand-computed fixture, in a real database.

Runs on SQLite and PostgreSQL (the ``store`` fixture). All times below are local
(Asia/Shanghai, +08:00); "now" is Thursday 2026-11-26 10:00 local (02:00 UTC). Boundaries:

* today        since 2026-11-26 00:00 local (= 11-25 16:00 UTC)
* this month   since 2026-11-01 00:00 local;  this year since 2026-01-01 00:00 local
* 7d           since 2026-11-19 10:00 local (rolling);  30d since 2026-10-27 10:00 local
* trend        30 local days 2026-10-28 .. 2026-11-26
* deadlines    accept by reported + 24 h, close by reported + 5 d (at the deadline = on time;
               late / overdue only when now is strictly after it)

The cases (A = 331004001 路南街道, B = 331004103 新桥镇, C = 331004002 路桥街道 has none;
B's villages: B1 甲村, B2 乙村, B3 丙村 has none; A's cases are all in one village):

 id  town reported         accepted           closed            status       urgency  level
 c1  A    11-26 08:00      -                  -                 reported     red      -
 c2  A    11-24 09:00      11-25 15:00 (30h)  -                 accepted     yellow   -
 c3  B2   11-19 12:00      11-19 13:00 (1h)   11-25 14:00 (146h)closed       red      village
 c4  A    11-25 23:30      11-26 00:10 (40m)  -                 accepted     green    -
 c5  B1   11-26 00:30      11-26 00:45 (15m)  11-26 09:00 (8.5h)closed       yellow   grid
 c6  A    11-20 09:00      11-21 09:00 (24h)  11-25 09:00 (5d)  closed       green    town
 c7  A    11-20 08:00      -                  -                 reported     red (was green)
 c8  B2   11-25 10:00 (exactly 24 h before now) -  -            reported     yellow   -
 c9  A    11-19 09:00      11-19 10:00 (1h)   11-20 09:00 (24h) closed       red      district
 c10 B1   11-01 00:30      11-01 02:00 (1.5h) 11-04 00:30 (72h) closed       green    grid
 c11 B2   10-31 23:30      11-02 00:30 (25h)  11-04 20:00 (92.5h) closed     green    town
 c12 A    2026-01-01 00:30 01-01 01:00 (30m)  - (resolved 01-03) resolved    green    (grid)
 c13 B1   2025-12-31 23:00 2026-01-01 08:00   -                 in_progress  yellow   -
 c14 B2   10-20 10:00      10-20 11:00 (1h)   10-28 09:00 (191h) closed      red      village
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboard.core import metrics
from dashboard.core.domain import IncidentState
from dashboard.core.metrics import deadlines, is_overdue
from dashboard.core.sla import Rule, SlaPolicy
from dashboard.queries import kpis
from dashboard.queries.kpis import compute_kpis

TZ = "Asia/Shanghai"
A, B, C = "331004001", "331004103", "331004002"
NAMES = {A: "路南街道", B: "新桥镇", C: "路桥街道"}
B1, B2, B3 = B + "201", B + "202", B + "203"
VILLAGES = {B1: "甲村", B2: "乙村", B3: "丙村"}


def L(text: str) -> datetime:
    """A local (Asia/Shanghai) time 'YYYY-MM-DD HH:MM' as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(TZ)).astimezone(timezone.utc)


NOW = L("2026-11-26 10:00")


def case(name, town, reported, accepted=None, closed=None, status="reported", urgency="green",
         level=None, base_urgency=None, resolved=None, village=None) -> IncidentState:
    r = L(reported)
    village = village or town + "201"
    return IncidentState(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"kpi-test/{name}"), reported_at=r, town_code=town,
        village_code=village, grid_code=village + "-01", category="fire_hazard",
        platform="public_order", description=f"【测试】{name}", lat=28.52, lon=121.41,
        reporter="网格员", base_urgency=base_urgency or urgency, urgency=urgency, photos=[],
        source="test", status=status,
        accepted_at=L(accepted) if accepted else None,
        resolved_at=L(resolved) if resolved else (L(closed) if closed else None),
        closed_at=L(closed) if closed else None,
        resolved_level=level, level=level or "grid", version=1,
    )


CASES = [
    case("c1", A, "2026-11-26 08:00", urgency="red"),
    case("c2", A, "2026-11-24 09:00", "2026-11-25 15:00", status="accepted", urgency="yellow"),
    case("c3", B, "2026-11-19 12:00", "2026-11-19 13:00", "2026-11-25 14:00", "closed", "red", "village",
         village=B2),
    case("c4", A, "2026-11-25 23:30", "2026-11-26 00:10", status="accepted", urgency="green"),
    case("c5", B, "2026-11-26 00:30", "2026-11-26 00:45", "2026-11-26 09:00", "closed", "yellow", "grid",
         village=B1),
    case("c6", A, "2026-11-20 09:00", "2026-11-21 09:00", "2026-11-25 09:00", "closed", "green", "town"),
    case("c7", A, "2026-11-20 08:00", urgency="red", base_urgency="green"),
    case("c8", B, "2026-11-25 10:00", urgency="yellow", village=B2),
    case("c9", A, "2026-11-19 09:00", "2026-11-19 10:00", "2026-11-20 09:00", "closed", "red", "district"),
    case("c10", B, "2026-11-01 00:30", "2026-11-01 02:00", "2026-11-04 00:30", "closed", "green", "grid",
         village=B1),
    case("c11", B, "2026-10-31 23:30", "2026-11-02 00:30", "2026-11-04 20:00", "closed", "green", "town",
         village=B2),
    case("c12", A, "2026-01-01 00:30", "2026-01-01 01:00", status="resolved", urgency="green",
         level="grid", resolved="2026-01-03 10:00"),
    case("c13", B, "2025-12-31 23:00", "2026-01-01 08:00", status="in_progress", urgency="yellow",
         village=B1),
    case("c14", B, "2026-10-20 10:00", "2026-10-20 11:00", "2026-10-28 09:00", "closed", "red", "village",
         village=B2),
]


# The deadlines of the SLA table for overdue: 24 h and 5 days for every case (the figures'
# targets), so that "overdue" below is computed with the same two deadlines as the rates.
FLAT_SLA = SlaPolicy({("*", "*"): Rule(timedelta(days=1), timedelta(days=5))})


def load(store, cases):
    store.sla = FLAT_SLA
    with store.engine.begin() as conn:
        store.upsert_states(conn, cases)


@pytest.fixture
def loaded(store):
    load(store, CASES)
    return store


def kp(store, **kw):
    kw.setdefault("town_names", NAMES)
    return compute_kpis(store, now=NOW, tz=TZ, **kw)


def window(num, den, pending):
    return {"numerator": num, "denominator": den, "rate": (num / den if den else None),
            "pending": pending}


# --------------------------------------------------------------------------- the deadline rule

def test_deadlines_and_overdue_boundaries():
    r = L("2026-11-20 09:00")
    assert deadlines(r) == (L("2026-11-21 09:00"), L("2026-11-25 09:00"))
    # not accepted: at exactly 24 h not overdue yet, a microsecond later overdue
    assert not is_overdue(r, None, None, L("2026-11-21 09:00"))
    assert is_overdue(r, None, None, L("2026-11-21 09:00") + timedelta(microseconds=1))
    # accepted: overdue only after 5 days without closing
    a = L("2026-11-20 10:00")
    assert not is_overdue(r, a, None, L("2026-11-25 09:00"))
    assert is_overdue(r, a, None, L("2026-11-25 09:01"))


# --------------------------------------------------------------------------- district, 7 days

def test_district_7d_every_figure(loaded):
    k = kp(loaded, period="7d")
    assert k["scope"] == "district" and k["period"] == "7d" and k["timezone"] == TZ
    assert k["period_start"] == "2026-11-19T10:00:00+08:00"
    assert k["period_end"] == "2026-11-26T10:00:00+08:00"
    assert k["data_as_of"] == "2026-11-26T10:00:00+08:00"

    # today since 00:00 local: c1 (08:00), c5 (00:30); not c4 (23:30 yesterday) -> 2
    assert k["reports_today"] == 2
    # month since 11-01 00:00 local: c1..c8 (8) + c9 + c10 (11-01 00:30) = 10; not c11 (10-31 23:30)
    assert k["reports_month"] == 10
    # year since 01-01 00:00 local: all 14 but c13 (2025-12-31 23:00) = 13; c12 (01-01 00:30) in
    assert k["reports_year"] == 13
    # 7d since 11-19 10:00: c1..c8 = 8; not c9 (11-19 09:00, one hour before the window)
    assert k["reports_in_period"] == 8

    # accepted within 1 day: on time c3 (1h), c4 (40m), c5 (15m), c6 (exactly 24h) = 4;
    # late c2 (30h), c7 (not accepted, 6d2h) = 2;  pending c1 (2h old), c8 (exactly 24h old) = 2
    # -> 4 / (4 + 2) = 2/3
    assert k["accepted_within_1d"] == window(4, 6, 2)
    # closed within 5 days: on time c5 (8.5h), c6 (exactly 5d) = 2; late c3 (146h), c7 (open 6d2h)
    # = 2; pending c1, c2 (2d1h), c4, c8 = 4 -> 2 / 4
    assert k["closed_within_5d"] == window(2, 4, 4)
    # closure rate: closed now c3, c5, c6 = 3 of 8; still open c1, c2, c4, c7, c8 = 5
    assert k["closure_rate"] == {"numerator": 3, "denominator": 8, "rate": 3 / 8, "open": 5}

    # open now, all periods, by current urgency: c1 red, c7 red (was green); c2, c8, c13 yellow;
    # c4, c12 (resolved, not closed) green. Closed c3 (red) does not count.
    assert (k["open_red"], k["open_yellow"], k["open_green"], k["open_total"]) == (2, 3, 2, 7)
    # overdue now: c7 (not accepted after 6d2h), c12 (not closed after ~11 months), c13;
    # not c8 (exactly 24 h, not yet late), not c2 (accepted, close due 11-29)  -> 3
    assert k["overdue"] == 3

    # mean hours to accept: c2 30, c3 1, c4 40/60, c5 0.25, c6 24 -> 55.91667 / 5 = 11.18333
    assert k["mean_hours_to_accept"] == pytest.approx((30 + 1 + 40 / 60 + 0.25 + 24) / 5)
    # mean hours to close: c3 146, c5 8.5, c6 120 -> 274.5 / 3 = 91.5
    assert k["mean_hours_to_close"] == pytest.approx(91.5)

    # resolution level of the 3 closed cases of the period: c5 grid, c3 village, c6 town
    third = 1 / 3
    assert k["resolution_level"] == {
        "total": 3, "unknown": 0,
        "grid": {"count": 1, "share": third}, "village": {"count": 1, "share": third},
        "town": {"count": 1, "share": third}, "district": {"count": 0, "share": 0.0}}

    # ranking: B c3, c5, c8 -> 2 closed of 3; overdue now c13 = 1
    #          A c1, c2, c4, c6, c7 -> 1 closed (c6) of 5 = 0.2; overdue now c7, c12 = 2
    #          C nothing -> rate None, last
    assert k["town_ranking"] == [
        {"code": B, "name": "新桥镇", "reports": 3, "closed": 2, "closure_rate": 2 / 3, "overdue": 1},
        {"code": A, "name": "路南街道", "reports": 5, "closed": 1, "closure_rate": 0.2, "overdue": 2},
        {"code": C, "name": "路桥街道", "reports": 0, "closed": 0, "closure_rate": None, "overdue": 0},
    ]
    # the general ranking holds the same rows for the district, ranked by town
    assert k["ranking"] == {"by": "town", "period": "7d", "rows": k["town_ranking"]}


def test_trend_30d_by_local_day(loaded):
    trend = kp(loaded, period="7d")["trend_30d"]
    assert len(trend) == 30
    assert trend[0]["date"] == "2026-10-28" and trend[-1]["date"] == "2026-11-26"
    by_day = {d["date"]: d for d in trend}
    # reports by local report day (c12, c13, c14 are older than the trend)
    reports = {"2026-10-31": 1,   # c11 23:30 local (15:30 UTC)
               "2026-11-01": 1,   # c10 00:30 local (10-31 16:30 UTC)
               "2026-11-19": 2,   # c3, c9
               "2026-11-20": 2,   # c6, c7
               "2026-11-24": 1,   # c2
               "2026-11-25": 2,   # c4 23:30, c8
               "2026-11-26": 2}   # c1, c5 00:30
    assert {d: v["reports"] for d, v in by_day.items() if v["reports"]} == reports
    # closures by local close day: c14 on the first day (reported 10-20, before the trend),
    # c10 at 00:30 local 11-04 (11-03 UTC) and c11, c9, c3 and c6, c5
    closed = {"2026-10-28": 1, "2026-11-04": 2, "2026-11-20": 1, "2026-11-25": 2, "2026-11-26": 1}
    assert {d: v["closed"] for d, v in by_day.items() if v["closed"]} == closed
    acc = {d: v["accepted_within_1d"] for d, v in by_day.items()}
    assert acc["2026-10-31"] == window(0, 1, 0)   # c11 25 h
    assert acc["2026-11-01"] == window(1, 1, 0)   # c10
    assert acc["2026-11-19"] == window(2, 2, 0)   # c3, c9
    assert acc["2026-11-20"] == window(1, 2, 0)   # c6 on time, c7 late
    assert acc["2026-11-24"] == window(0, 1, 0)   # c2 30 h
    assert acc["2026-11-25"] == window(1, 1, 1)   # c4 on time, c8 pending
    assert acc["2026-11-26"] == window(1, 1, 1)   # c5 on time, c1 pending
    assert acc["2026-11-10"] == window(0, 0, 0)   # no reports: rate None, not 100 %
    assert sum(d["reports"] for d in trend) == 11 and sum(d["closed"] for d in trend) == 7


# --------------------------------------------------------------------------- other periods

def test_today_starts_at_local_midnight(loaded):
    k = kp(loaded, period="today")
    assert k["period_start"] == "2026-11-26T00:00:00+08:00"
    # c1 (08:00) and c5 (00:30 local = 16:30 UTC the day before); not c4 (23:30 local)
    assert k["reports_in_period"] == k["reports_today"] == 2
    assert k["accepted_within_1d"] == window(1, 1, 1)   # c5 on time, c1 pending
    assert k["closed_within_5d"] == window(1, 1, 1)     # c5 on time, c1 pending
    assert k["closure_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5, "open": 1}   # c1 open
    assert k["mean_hours_to_accept"] == pytest.approx(0.25)
    assert k["mean_hours_to_close"] == pytest.approx(8.5)
    assert k["resolution_level"]["total"] == 1 and k["resolution_level"]["grid"] == {"count": 1, "share": 1.0}
    # "now" figures do not depend on the period
    assert (k["open_red"], k["open_yellow"], k["open_green"], k["overdue"]) == (2, 3, 2, 3)
    assert [(r["code"], r["reports"], r["closed"], r["closure_rate"], r["overdue"])
            for r in k["town_ranking"]] == [(B, 1, 1, 1.0, 1), (A, 1, 0, 0.0, 2), (C, 0, 0, None, 0)]


def test_30d(loaded):
    k = kp(loaded, period="30d")
    assert k["period_start"] == "2026-10-27T10:00:00+08:00"
    assert k["reports_in_period"] == 11   # c1..c11 (c11 10-31, c10 11-01); not c14 (10-20)
    # on time: c3 c4 c5 c6 c9 c10 = 6; late: c2 (30h) c7 c11 (25h) = 3; pending c1 c8
    assert k["accepted_within_1d"] == window(6, 9, 2)
    # on time: c5 c6 c9 c10 c11 = 5; late: c3 c7 = 2; pending c1 c2 c4 c8
    assert k["closed_within_5d"] == window(5, 7, 4)
    assert k["closure_rate"] == {"numerator": 6, "denominator": 11, "rate": 6 / 11, "open": 5}
    # accept: c2 30 c3 1 c4 2/3 c5 .25 c6 24 c9 1 c10 1.5 c11 25 -> 83.41667 / 8
    assert k["mean_hours_to_accept"] == pytest.approx((30 + 1 + 2 / 3 + 0.25 + 24 + 1 + 1.5 + 25) / 8)
    # close: c3 146 c5 8.5 c6 120 c9 24 c10 72 c11 92.5 -> 463 / 6
    assert k["mean_hours_to_close"] == pytest.approx(463 / 6)
    lv = k["resolution_level"]
    # grid c5 c10, village c3, town c6 c11, district c9
    assert lv["total"] == 6
    assert {x: lv[x]["count"] for x in ("grid", "village", "town", "district")} == \
        {"grid": 2, "village": 1, "town": 2, "district": 1}
    assert lv["district"]["share"] == pytest.approx(1 / 6)


def test_year_starts_on_local_new_year(loaded):
    k = kp(loaded, period="year")
    assert k["period_start"] == "2026-01-01T00:00:00+08:00"
    assert k["reports_in_period"] == k["reports_year"] == 13   # all but c13
    # + c12 on time (30m), c14 on time (1h) over 30d's 6/9 and the pending c1 c8
    assert k["accepted_within_1d"] == window(8, 11, 2)
    # + c12 late (resolved but never closed), c14 late (191 h) over 30d's 5/7
    assert k["closed_within_5d"] == window(5, 9, 4)
    # closed: c3 c5 c6 c9 c10 c11 c14 = 7 of 13; c12 is resolved, not closed: open with
    # c1 c2 c4 c7 c8 = 6
    assert k["closure_rate"] == {"numerator": 7, "denominator": 13, "rate": 7 / 13, "open": 6}
    lv = k["resolution_level"]   # + c14 village; c12's level does not count (not closed)
    assert {x: lv[x]["count"] for x in ("grid", "village", "town", "district")} == \
        {"grid": 2, "village": 2, "town": 2, "district": 1}


# --------------------------------------------------------------------------- town scope

def test_town_scope(loaded):
    k = kp(loaded, town=B, period="7d")
    assert k["scope"] == B and k["town_ranking"] is None
    assert (k["reports_today"], k["reports_month"], k["reports_year"]) == (1, 4, 6)
    # c5 | c3 c5 c8 c10 | + c11 c14 (c13 is 2025)
    assert k["reports_in_period"] == 3                        # c3 c5 c8
    assert k["accepted_within_1d"] == window(2, 2, 1)         # c3 c5 on time, c8 pending
    assert k["closed_within_5d"] == window(1, 2, 1)           # c5 on time, c3 late, c8 pending
    assert k["closure_rate"]["rate"] == pytest.approx(2 / 3) and k["closure_rate"]["open"] == 1  # c8
    assert (k["open_red"], k["open_yellow"], k["open_green"], k["overdue"]) == (0, 2, 0, 1)  # c8, c13
    by_day = {d["date"]: d for d in k["trend_30d"]}
    assert {d: v["reports"] for d, v in by_day.items() if v["reports"]} == \
        {"2026-10-31": 1, "2026-11-01": 1, "2026-11-19": 1, "2026-11-25": 1, "2026-11-26": 1}
    assert {d: v["closed"] for d, v in by_day.items() if v["closed"]} == \
        {"2026-10-28": 1, "2026-11-04": 2, "2026-11-25": 1, "2026-11-26": 1}


def row(code, name, reports, closed, overdue):
    return {"code": code, "name": name, "reports": reports, "closed": closed,
            "closure_rate": closed / reports if reports else None, "overdue": overdue}


def test_a_town_ranks_its_villages(loaded):
    k = kp(loaded, town=B, period="7d", village_names=VILLAGES)
    # 7d: B1 c5 closed -> 1 of 1; overdue now c13 (open since 2025)
    #     B2 c3 closed, c8 open (exactly 24 h: not overdue yet) -> 1 of 2
    #     B3 nothing: listed, last
    assert k["ranking"] == {"by": "village", "period": "7d", "rows": [
        row(B1, "甲村", 1, 1, 1), row(B2, "乙村", 2, 1, 0), row(B3, "丙村", 0, 0, 0)]}
    assert k["town_ranking"] is None   # kept for the district only, as before
    # the rows follow the period: 30d adds c10 (B1, closed) and c11 (B2, closed); overdue is now
    k30 = kp(loaded, town=B, period="30d", village_names=VILLAGES)
    assert k30["ranking"]["period"] == "30d" and k30["ranking"]["rows"] == [
        row(B1, "甲村", 2, 2, 1), row(B2, "乙村", 3, 2, 0), row(B3, "丙村", 0, 0, 0)]
    # today: only c5 (B1); B2 and B3 have no reports of the period and come last, by code
    today = kp(loaded, town=B, period="today", village_names=VILLAGES)["ranking"]["rows"]
    assert [(r["code"], r["reports"], r["closure_rate"]) for r in today] == \
        [(B1, 1, 1.0), (B2, 0, None), (B3, 0, None)]


def test_village_ranking_without_names_lists_villages_with_cases(loaded):
    rows = kp(loaded, town=B, period="7d")["ranking"]["rows"]
    assert rows == [row(B1, B1, 1, 1, 1), row(B2, B2, 2, 1, 0)]
    # a village with cases but not among the names (e.g. the geography changed): under its code
    rows = kp(loaded, town=B, period="7d", village_names={B1: "甲村"})["ranking"]["rows"]
    assert [(r["code"], r["name"]) for r in rows] == [(B1, "甲村"), (B2, B2)]
    # the other figures do not depend on the names or the ranking's unit
    with_names = kp(loaded, town=B, period="7d", village_names=VILLAGES)
    without = kp(loaded, town=B, period="7d")
    del with_names["ranking"], without["ranking"]
    assert with_names == without


def test_village_names_are_not_used_for_the_district(loaded):
    k = kp(loaded, period="7d", village_names=VILLAGES)
    assert k["ranking"]["by"] == "town" and [r["code"] for r in k["ranking"]["rows"]] == [B, A, C]


# --------------------------------------------------------------------------- edge cases

def test_empty_database_gives_zeros_and_no_rates(store):
    k = kp(store, period="30d")
    assert (k["reports_today"], k["reports_month"], k["reports_year"], k["reports_in_period"]) == (0, 0, 0, 0)
    assert k["accepted_within_1d"] == window(0, 0, 0) and k["accepted_within_1d"]["rate"] is None
    assert k["closed_within_5d"]["rate"] is None and k["closure_rate"]["rate"] is None
    assert k["mean_hours_to_accept"] is None and k["mean_hours_to_close"] is None
    assert k["resolution_level"]["total"] == 0 and k["resolution_level"]["grid"]["share"] is None
    assert (k["open_total"], k["overdue"]) == (0, 0)
    assert [r["closure_rate"] for r in k["town_ranking"]] == [None, None, None]
    assert len(k["trend_30d"]) == 30 and all(d["reports"] == 0 for d in k["trend_30d"])


def test_only_not_yet_due_cases_give_no_rate(store):
    load(store, [CASES[0]])   # c1: reported 2 h ago, not accepted
    k = kp(store, period="today")
    assert k["accepted_within_1d"] == window(0, 0, 1)   # pending, not a failure, no 0 %
    assert k["overdue"] == 0 and k["open_red"] == 1


def test_a_replaced_deadline_rule_applies_everywhere(store, monkeypatch):
    # the rule is applied when a case is folded (a changed rule reaches stored cases with
    # "db rebuild"): replace it, then store the cases
    monkeypatch.setattr(metrics, "deadlines",
                        lambda r: (r + timedelta(hours=48), r + timedelta(days=7)))
    load(store, CASES)
    k = kp(store, period="7d")
    # 48 h: c2 (30 h) now on time; c8 (24 h old) pending; c7 (6d2h, not accepted) still late
    assert k["accepted_within_1d"] == window(5, 6, 2)
    # 7 days: c3 (146 h) on time; c7 (6d2h open) pending now
    assert k["closed_within_5d"] == window(3, 3, 5)
    assert k["overdue"] == 3   # c7 (not accepted after 48 h), c12, c13


def test_bad_arguments(store):
    with pytest.raises(ValueError, match="period"):
        kp(store, period="week")
    with pytest.raises(ValueError, match="aware"):
        compute_kpis(store, now=datetime(2026, 11, 26, 10), tz=TZ)
    with pytest.raises(kpis.UnknownTown):
        kp(store, town="999")
