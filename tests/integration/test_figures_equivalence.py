"""The SQL aggregates give exactly the figures of the case-by-case definitions.

A few hundred cases with the boundaries that matter (reported at local midnight, handled exactly
at a deadline or one second after it, closed and reopened, reopened and closed again,
escalations stored after the resolution, urgency raised) go through the real write path
(``Store.store_events``: the fold and the stored deadline outcomes), on SQLite and PostgreSQL.
The test then counts the same figures in plain Python, one case at a time, from the folded
states and the formulas of ``dashboard.core.metrics`` (docs/kpis.md), and compares every
figure of ``compute_kpis`` (each scope and period) and of the leaders' view.
"""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboard.core import metrics
from dashboard.core.domain import LEVELS, OPEN_STATUSES, URGENCIES, Event, fold
from dashboard.core.sla import default_policy
from dashboard.queries import leaders
from dashboard.queries.kpis import compute_kpis

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc)     # 10:00 in Shanghai
TOWNS = {"331004001": ["331004001201", "331004001202"], "331004103": ["331004103201", "331004103202"],
         "331004002": ["331004002201"]}
CATEGORIES = ("fire_hazard", "environment", "road_damage", "dispute")
NS = uuid.UUID("5b0f3c62-62a9-4c57-9d77-8b8a3c0d9e01")


def midnight(days_ago: int) -> datetime:
    d = NOW.astimezone(ZONE).date() - timedelta(days=days_ago)
    return metrics.local_midnight(d, ZONE)


def make_cases(seed: int = 7) -> list[list[Event]]:
    rnd = random.Random(seed)
    logs = []
    for n in range(360):
        cid = uuid.uuid5(NS, f"case-{n}")
        town = rnd.choice(list(TOWNS))
        village = rnd.choice(TOWNS[town])
        kind = n % 12
        if n == 12:        # exactly at the start of the rolling 7 days (inside the window)
            r = NOW - timedelta(days=7)
        elif n in (24, 25):  # accept deadline exactly now (pending, not late), and a second ago
            r = NOW - timedelta(days=1, seconds=n - 24)
        elif n in (36, 37):  # close deadline exactly now, and a second ago
            r = NOW - timedelta(days=5, seconds=n - 36)
        elif kind == 0:    # at a local midnight, exactly (today's first)
            r = midnight(0 if n == 0 else rnd.randrange(0, 40))
        elif kind == 1:    # one second before a local midnight
            r = midnight(rnd.randrange(0, 40)) - timedelta(seconds=1)
        elif kind == 2:    # older than the year or the trend
            r = NOW - timedelta(days=rnd.randrange(40, 400), minutes=rnd.randrange(1440))
        else:
            r = NOW - timedelta(minutes=rnd.randrange(1, 36 * 24 * 60))
        urgency = rnd.choice(URGENCIES)
        seq = iter(range(1, 100))
        ev = []

        def add(kind_, at, **data):
            i = next(seq)
            ev.append(Event(id=uuid.uuid5(cid, str(i)), incident_id=cid, type=kind_, at=at, actor="测试",
                            data=data, stream_pos=i))

        add("reported", r, town=town, village=village, grid=f"{village}-0{rnd.randrange(1, 3)}",
            category=rnd.choice(CATEGORIES), platform="public_order", description=f"【测试】{n}",
            lat=28.5, lon=121.4, reporter=f"网格员{rnd.randrange(6)}", urgency=urgency, source="test")
        exact = rnd.random()
        if exact < 0.15:
            a = r + timedelta(days=1)                       # exactly at the accept deadline
        elif exact < 0.25:
            a = r + timedelta(days=1, seconds=1)            # one second late
        else:
            a = r + timedelta(minutes=rnd.randrange(1, 40 * 60))
        if a > NOW or rnd.random() < 0.12 or n in (24, 25):
            logs.append(ev)
            continue
        add("accepted", a)
        if rnd.random() < 0.2:
            add("urgency_changed", a + timedelta(minutes=5), urgency="red")
        t = a + timedelta(minutes=rnd.randrange(1, 600))
        if t > NOW:
            logs.append(ev)
            continue
        add("assigned", t, department="住建局")
        exact = rnd.random()
        if exact < 0.15:
            c = r + timedelta(days=5)                       # closed exactly at the close deadline
        elif exact < 0.25:
            c = r + timedelta(days=5, seconds=1)
        else:
            c = t + timedelta(minutes=rnd.randrange(1, 7 * 24 * 60))
        resolved = c - timedelta(minutes=rnd.randrange(0, 60))
        if resolved <= t or c > NOW or rnd.random() < 0.1 or n in (36, 37):
            logs.append(ev)
            continue
        if rnd.random() < 0.3:
            add("escalated", t + timedelta(minutes=1), level="village")
        add("resolved", resolved)
        add("closed", c)
        if rnd.random() < 0.12:   # an escalation stored after the close, with an earlier time
            add("escalated", resolved - timedelta(seconds=1), level="town")
        if rnd.random() < 0.15:   # reopened: open again; some are resolved and closed again
            back = c + timedelta(hours=rnd.randrange(1, 30))
            if back < NOW:
                add("reopened", back)
                again = back + timedelta(hours=rnd.randrange(1, 60))
                if again < NOW and rnd.random() < 0.6:
                    add("assigned", again - timedelta(minutes=20), department="住建局")
                    add("resolved", again - timedelta(minutes=10))
                    add("closed", again)
        logs.append(ev)
    return logs


LOGS = make_cases()


@pytest.fixture
def loaded(store):
    store.store_events([e for log in LOGS for e in log])
    return store


# --------------------------------------------------------------------------- the reference

def reference(states, *, start, end, unit, sla) -> dict:
    """Every figure, counted one case at a time with the formulas of ``metrics``."""
    accept, close = [0, 0, 0], [0, 0, 0]
    reports = closed = 0
    h_acc, h_close = [], []
    levels = dict.fromkeys(LEVELS, 0)
    by_unit: dict[str, list[int]] = {}
    open_by = dict.fromkeys(URGENCIES, 0)
    n_open = overdue = 0
    for s in states:
        if start <= s.reported_at <= end:
            accept_by, close_by = metrics.deadlines(s.reported_at)
            reports += 1
            accept[metrics.outcome(s.accepted_at, accept_by, NOW)] += 1
            close[metrics.outcome(s.closed_at, close_by, NOW)] += 1
            u = by_unit.setdefault(unit(s), [0, 0, 0])
            u[0] += 1
            if s.accepted_at:
                h_acc.append((s.accepted_at - s.reported_at).total_seconds() / 3600)
            if s.closed_at:
                h_close.append((s.closed_at - s.reported_at).total_seconds() / 3600)
            if s.status == "closed":
                closed += 1
                u[1] += 1
                levels[s.resolved_level] += 1
        if s.status in OPEN_STATUSES:
            n_open += 1
            open_by[s.urgency] += 1
            d = sla.deadlines(s.category, s.base_urgency, s.reported_at)
            if metrics.overdue(d.accept_by, d.close_by, s.accepted_at, None, NOW):
                overdue += 1
                by_unit.setdefault(unit(s), [0, 0, 0])[2] += 1
    return {"reports": reports, "closed": closed, "accept": metrics.window(accept),
            "close": metrics.window(close), "open": n_open, "open_by": open_by, "overdue": overdue,
            "h_acc": metrics.mean_hours(sum(h_acc) * 3600, len(h_acc)),
            "h_close": metrics.mean_hours(sum(h_close) * 3600, len(h_close)),
            "levels": levels, "by_unit": by_unit}


def states_of(town=None, keep=lambda s: True):
    states = [fold(log) for log in LOGS]
    return [s for s in states if (town is None or s.town_code == town) and keep(s)]


def test_the_fixture_holds_the_boundary_cases():
    pairs = [(log, fold(log)) for log in LOGS]
    types = [{e.type for e in log} for log, _ in pairs]
    assert any("reopened" in t and s.status != "closed" for t, (_, s) in zip(types, pairs))   # open again
    assert any("reopened" in t and s.status == "closed" for t, (_, s) in zip(types, pairs))   # closed again
    assert any(e.type == "escalated" and e.stream_pos > max(c.stream_pos for c in log if c.type == "closed")
               for log, s in pairs if s.closed_at or any(c.type == "closed" for c in log) for e in log)
    states = [s for _, s in pairs]
    assert any(s.accepted_at == s.reported_at + timedelta(days=1) for s in states)
    assert any(s.closed_at == s.reported_at + timedelta(days=5) for s in states)
    assert any(s.reported_at == midnight(0) for s in states)
    assert any(s.reported_at == NOW - timedelta(days=7) for s in states)


@pytest.mark.parametrize("period", metrics.PERIODS)
@pytest.mark.parametrize("town", [None, "331004103"])
def test_kpis_equal_the_case_by_case_figures(loaded, town, period):
    k = compute_kpis(loaded, now=NOW, tz=TZ, town=town, period=period)
    start, end = metrics.period_bounds(period, NOW, ZONE)
    unit = (lambda s: s.town_code) if town is None else (lambda s: s.village_code)
    ref = reference(states_of(town), start=start, end=end, unit=unit, sla=default_policy())
    assert k["reports_in_period"] == ref["reports"]
    assert k["accepted_within_1d"] == ref["accept"]
    assert k["closed_within_5d"] == ref["close"]
    assert k["closure_rate"] == {"numerator": ref["closed"], "denominator": ref["reports"],
                                 "rate": metrics.ratio(ref["closed"], ref["reports"]),
                                 "open": ref["reports"] - ref["closed"]}
    assert (k["open_red"], k["open_yellow"], k["open_green"]) == tuple(ref["open_by"][u] for u in URGENCIES)
    assert k["open_total"] == ref["open"] and k["overdue"] == ref["overdue"]
    assert k["mean_hours_to_accept"] == pytest.approx(ref["h_acc"])
    assert k["mean_hours_to_close"] == pytest.approx(ref["h_close"])
    assert {lv: k["resolution_level"][lv]["count"] for lv in LEVELS} == ref["levels"]
    got = {r["code"]: [r["reports"], r["closed"], r["overdue"]] for r in k["ranking"]["rows"]}
    assert got == ref["by_unit"]
    # the trend: each local day's reports, its acceptance, and the closures of that day
    for day in k["trend_30d"]:
        d0 = metrics.local_midnight(datetime.fromisoformat(day["date"]).date(), ZONE)
        d1 = min(d0 + timedelta(days=1) - timedelta(microseconds=1), NOW)
        r = reference(states_of(town), start=d0, end=d1, unit=unit, sla=default_policy())
        assert (day["date"], day["reports"], day["accepted_within_1d"]) == (day["date"], r["reports"], r["accept"])
        closed_that_day = sum(1 for s in states_of(town) if s.closed_at and d0 <= s.closed_at <= d1)
        assert day["closed"] == closed_that_day
    assert sum(d["reports"] for d in k["trend_30d"]) > 50   # the fixture fills the trend


@pytest.mark.parametrize("period", ["today", "7d", "year"])
def test_leaders_view_equals_the_case_by_case_figures(loaded, geo, period):
    f = leaders.Filters(town="331004103", period=period, urgencies=("red", "yellow"), min_cases=1)
    v = leaders.compute_view(loaded, f, now=NOW, tz=TZ, geo=geo, table_limit=0)
    start, end = metrics.period_bounds(period, NOW, ZONE)
    states = states_of("331004103", keep=lambda s: s.urgency in ("red", "yellow"))
    ref = reference(states, start=start, end=end, unit=lambda s: s.grid_code, sla=default_policy())
    assert v.kpis["reports_in_period"] == ref["reports"] == v.total
    assert v.kpis["accepted_within_1d"] == ref["accept"]
    assert v.kpis["closed_within_5d"] == ref["close"]
    assert (v.kpis["open_total"], v.kpis["overdue"]) == (ref["open"], ref["overdue"])
    got = {r["code"]: [r["reports"], r["closed"], r["overdue"]] for r in v.ranking if r["reports"] or r["overdue"]}
    assert got == {c: u for c, u in ref["by_unit"].items() if u[0] or u[2]}
    assert sum(b["reports"] for b in v.trend) == ref["reports"]
    assert sum(b["closed"] for b in v.trend) == sum(1 for s in states if s.closed_at and start <= s.closed_at <= end)
    workers = {}
    for s in states:
        if start <= s.reported_at <= end:
            w = workers.setdefault(s.reporter, [0, 0])
            w[0] += 1
            w[1] += s.status == "closed"
    assert {w["reporter"]: [w["reports"], w["closed"]] for w in v.workers} == workers
