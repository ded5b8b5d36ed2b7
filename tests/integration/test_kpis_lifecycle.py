"""KPIs computed from real lifecycle timestamps: cases driven through the checked actions with
known times, stored by the persister, then measured against hand-computed figures."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dashboard.queries.kpis import compute_kpis
from dashboard.stream.commands import Commands

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)   # 20:00 in Shanghai


def test_kpis_from_lifecycle_events_match_hand_computed(rt, make_events, drain):
    cmds = Commands(rt.redis, rt.store, rt.settings.stream)
    reports = make_events(5, seed=51, follow_ups=False)
    # Five cases of 新桥镇, all garbage/green (SLA 24 h / 120 h) except E (red: 1 h / 24 h),
    # reported at these times before NOW:
    ages = {"A": 100, "B": 50, "C": 30, "D": 2, "E": 3}        # hours
    cases = {}
    for (name, hours), rep in zip(ages.items(), reports):
        rep.at = NOW - timedelta(hours=hours)
        rep.data.update(category="garbage", platform="enforcement", urgency="red" if name == "E" else "green",
                        town="331004103", village="331004103001", grid="331004103001-01")
        rt.publisher.publish(rep)
        cases[name] = rep

    def step(name, action, after_h, version, note="", **data):
        cmds.act(cases[name].incident_id, action, expected_version=version, actor="值班员", note=note,
                 data=data, at=cases[name].at + timedelta(hours=after_h))

    # A: accepted after 2 h, assigned, resolved at the town level, closed after 90 h  -> on time, town
    step("A", "accept", 2, 1); step("A", "assign", 3, 2, department="住建局")
    step("A", "escalate", 4, 3, level="town"); step("A", "resolve", 80, 4, note="已清理完毕"); step("A", "close", 90, 5)
    # B: accepted after 30 h (late), closed after 40 h (on time), resolved at the grid
    step("B", "accept", 30, 1); step("B", "assign", 31, 2, department="住建局")
    step("B", "resolve", 39, 3, note="已清理完毕"); step("B", "close", 40, 4)
    # C: accepted after 1 h, still open (its 5 days are not over: pending for "closed in 5 days")
    step("C", "accept", 1, 1)
    # D: reported 2 h ago, not accepted: pending, not a failure, not overdue
    # E: red, reported 3 h ago, not accepted: overdue by the SLA (accept within 1 h)
    drain()
    k = compute_kpis(rt.store, now=NOW, tz="Asia/Shanghai", town="331004103", period="7d")
    assert k["reports_in_period"] == 5
    # accepted within 1 day: A (2 h), C (1 h) on time; B (30 h) late; E's 24 h... E is red but the
    # KPI is the district's fixed 1-day rule: reported 3 h ago -> pending; D pending. 2 / 3.
    assert k["accepted_within_1d"] == {"numerator": 2, "denominator": 3, "rate": 2 / 3, "pending": 2}
    # closed within 5 days: A (90 h) and B (40 h) on time; C, D, E still inside 5 days: pending.
    assert k["closed_within_5d"] == {"numerator": 2, "denominator": 2, "rate": 1.0, "pending": 3}
    assert k["closure_rate"] == {"numerator": 2, "denominator": 5, "rate": 0.4, "open": 3}  # C, D, E
    assert k["overdue"] == 1                                   # E only (SLA: red, 1 h)
    assert (k["open_red"], k["open_green"]) == (1, 2)
    # mean time to accept: (2 + 30 + 1) / 3 = 11 h; to close: (90 + 40) / 2 = 65 h
    assert abs(k["mean_hours_to_accept"] - 11.0) < 1e-6 and abs(k["mean_hours_to_close"] - 65.0) < 1e-6
    assert k["resolution_level"]["town"]["count"] == 1 and k["resolution_level"]["grid"]["count"] == 1
    # "overdue" is the SLA deadline stored when E was folded: at the instant of its 1 h deadline
    # E is not late yet, one instant later it is
    e_due = NOW - timedelta(hours=3) + timedelta(hours=1)
    assert compute_kpis(rt.store, now=e_due, tz="Asia/Shanghai", town="331004103", period="7d")["overdue"] == 0
    assert compute_kpis(rt.store, now=e_due + timedelta(microseconds=1), tz="Asia/Shanghai",
                        town="331004103", period="7d")["overdue"] == 1
