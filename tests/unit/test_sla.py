"""SLA deadlines, the rising urgency and escalation, under a controlled clock."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboard.sla import SlaPolicy

SH = ZoneInfo("Asia/Shanghai")
POLICY = SlaPolicy.load()


def case(category="garbage", base="green", urgency=None, reported=None, accepted=None,
         status="reported", level="grid"):
    return {"id": uuid.UUID(int=7), "status": status, "category": category, "base_urgency": base,
            "urgency": urgency or base, "reported_at": reported or datetime(2026, 11, 26, 1, tzinfo=timezone.utc),
            "accepted_at": accepted, "level": level, "version": 1}


def test_exact_row_else_the_stricter_of_category_and_urgency():
    assert POLICY.rule("garbage", "green").accept == timedelta(hours=24)     # default
    assert POLICY.rule("garbage", "red").accept == timedelta(hours=1)        # *,red
    assert POLICY.rule("fire_hazard", "yellow").close == timedelta(hours=48)  # fire_hazard,*
    red_fire = POLICY.rule("fire_hazard", "red")                             # both apply: stricter
    assert (red_fire.accept, red_fire.close) == (timedelta(hours=1), timedelta(hours=24))
    exact = SlaPolicy({("*", "*"): POLICY.rules[("*", "*")],
                       ("dispute", "red"): POLICY.rules[("*", "*")], ("*", "red"): POLICY.rules[("*", "red")]})
    assert exact.rule("dispute", "red").accept == timedelta(hours=24)       # an exact row wins


def test_deadlines_run_across_local_midnight_without_rounding():
    # Reported 23:30 in Shanghai (15:30 UTC): accept by 23:30 the next evening, not "end of day".
    reported = datetime(2026, 11, 26, 23, 30, tzinfo=SH)
    d = POLICY.deadlines("garbage", "green", reported)
    assert d.accept_by.astimezone(SH) == datetime(2026, 11, 27, 23, 30, tzinfo=SH)
    assert d.close_by.astimezone(SH) == datetime(2026, 12, 1, 23, 30, tzinfo=SH)
    c = case(reported=reported.astimezone(timezone.utc))
    assert POLICY.clock_urgency(c, d.accept_by - timedelta(hours=6, seconds=1)) == "green"
    assert POLICY.clock_urgency(c, d.accept_by - timedelta(hours=6)) == "yellow"   # last quarter
    assert POLICY.clock_urgency(c, d.accept_by) == "yellow"                      # at the deadline: on time
    assert POLICY.clock_urgency(c, d.accept_by + timedelta(seconds=1)) == "red"


def test_urgency_never_goes_down_and_closed_cases_have_no_clock():
    c = case(base="green", urgency="red")
    assert POLICY.clock_urgency(c, c["reported_at"]) == "red"
    assert POLICY.due_events(case(status="closed"), datetime(2030, 1, 1, tzinfo=timezone.utc)) == []


def test_after_acceptance_the_close_deadline_counts():
    t0 = datetime(2026, 11, 26, 1, tzinfo=timezone.utc)
    c = case(reported=t0, accepted=t0 + timedelta(hours=2), status="assigned")
    assert POLICY.pending(c)[0] == "close"
    assert POLICY.clock_urgency(c, t0 + timedelta(hours=30)) == "green"           # accept deadline gone by: irrelevant
    assert POLICY.clock_urgency(c, t0 + timedelta(hours=90)) == "yellow"          # last quarter of 120 h
    assert POLICY.clock_urgency(c, t0 + timedelta(hours=120, seconds=1)) == "red"


def test_overdue_escalates_one_level_with_a_stable_event_id():
    t0 = datetime(2026, 11, 26, 1, tzinfo=timezone.utc)
    c = case(reported=t0, level="village")
    late = t0 + timedelta(hours=25)
    evs = POLICY.due_events(c, late)
    assert [e.type for e in evs] == ["urgency_changed", "escalated"]
    assert evs[0].data == {"urgency": "red"} and evs[1].data == {"level": "town"}
    assert [e.id for e in POLICY.due_events(c, late + timedelta(hours=1))] == [e.id for e in evs]
    assert POLICY.due_events(case(reported=t0, level="district", urgency="red"), late) == []
    no_auto = SlaPolicy(POLICY.rules, auto_escalate=False)
    assert [e.type for e in no_auto.due_events(c, late)] == ["urgency_changed"]


@pytest.mark.parametrize("text,msg", [("category,urgency,accept_hours,close_hours\ngarbage,*,5,3\n", "accept_hours"),
                                      ("category,urgency,accept_hours,close_hours\ngarbage,*,5,30\n", "default row"),
                                      ("category,urgency,accept_hours,close_hours\n*,*,x,3\n", "numbers"),
                                      ("category,urgency,accept_hours,close_hours\n*,*,1,3\n*,pink,1,2\n", "pink")])
def test_bad_sla_table_is_refused(tmp_path, text, msg):
    p = tmp_path / "sla.csv"
    p.write_text(text)
    with pytest.raises(ValueError) as exc:
        SlaPolicy.load(p)
    assert msg in str(exc.value)
