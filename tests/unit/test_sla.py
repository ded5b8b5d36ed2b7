"""SLA deadlines, lateness, the urgency policy and escalation, under a controlled clock."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from dashboard.core.sla import Rule, SlaPolicy

SH = ZoneInfo("Asia/Shanghai")
POLICY = SlaPolicy.load()
T0 = datetime(2026, 11, 26, 1, tzinfo=timezone.utc)
HEADER = "category,urgency,accept_hours,close_hours"
RAISING_TABLE = (f"{HEADER},warn_urgency,late_urgency\n"
                 "*,*,24,120,yellow,red\n"
                 "*,red,1,24,,\n"
                 "fire_hazard,*,4,48,,\n")


def case(category="garbage", base="green", urgency=None, reported=None, accepted=None,
         status="reported", level="grid"):
    return {"id": uuid.UUID(int=7), "status": status, "category": category, "base_urgency": base,
            "urgency": urgency or base, "reported_at": reported or T0,
            "accepted_at": accepted, "level": level, "version": 1}


def table(tmp_path, text, **kw) -> SlaPolicy:
    p = tmp_path / "sla.csv"
    p.write_text(text, encoding="utf-8")
    return SlaPolicy.load(p, **kw)


@pytest.fixture
def raising(tmp_path):
    return table(tmp_path, RAISING_TABLE)


# --------------------------------------------------------------------------- the table

def test_exact_row_else_the_stricter_of_category_and_urgency():
    assert POLICY.rule("garbage", "green").accept == timedelta(hours=24)     # default
    assert POLICY.rule("garbage", "red").accept == timedelta(hours=1)        # *,red
    assert POLICY.rule("fire_hazard", "yellow").close == timedelta(hours=48)  # fire_hazard,*
    red_fire = POLICY.rule("fire_hazard", "red")                             # both apply: stricter
    assert (red_fire.accept, red_fire.close) == (timedelta(hours=1), timedelta(hours=24))
    exact = SlaPolicy({("*", "*"): POLICY.rules[("*", "*")],
                       ("dispute", "red"): POLICY.rules[("*", "*")], ("*", "red"): POLICY.rules[("*", "red")]})
    assert exact.rule("dispute", "red").accept == timedelta(hours=24)       # an exact row wins


def test_the_shipped_table_changes_no_urgency():
    assert all(r.warn_urgency is None and r.late_urgency is None for r in POLICY.rules.values())
    late = case(urgency="green")
    assert POLICY.lateness(late, T0 + timedelta(hours=25)) == "overdue"
    assert POLICY.clock_urgency(late, T0 + timedelta(hours=25)) == "green"
    assert POLICY.clock_urgency(late, T0 + timedelta(hours=20)) == "green"


def test_a_table_without_the_urgency_columns_still_loads(tmp_path):
    old = table(tmp_path, f"{HEADER}\n*,*,24,120\n*,red,1,24\n")
    assert old.rule("garbage", "green") == Rule(timedelta(hours=24), timedelta(hours=120))
    assert old.clock_urgency(case(), T0 + timedelta(days=9)) == "green"
    assert [e.type for e in old.due_events(case(), T0 + timedelta(days=9))] == ["escalated"]


def test_urgency_columns_are_read_and_merged_by_the_stricter_row(tmp_path):
    p = table(tmp_path, f"{HEADER},late_urgency,warn_urgency\n"
                        "*,*,24,120,,\n"
                        "garbage,*,12,120,yellow,\n"
                        "*,yellow,24,100,red,\n"
                        "dispute,*,12,120,,\n")
    assert p.rule("garbage", "green") == Rule(timedelta(hours=12), timedelta(hours=120), None, "yellow")
    both = p.rule("garbage", "yellow")  # shorter windows and the higher urgency of the two rows
    assert both == Rule(timedelta(hours=12), timedelta(hours=100), None, "red")
    # An exact or category row that leaves a column empty means: no change, not "inherit".
    assert p.rule("dispute", "green").late_urgency is None
    assert p.rule("pothole_unknown", "green") == p.rules[("*", "*")]


@pytest.mark.parametrize("text,msg", [
    (f"{HEADER}\ngarbage,*,5,3\n", "need 0 < accept_hours <= close_hours"),
    (f"{HEADER}\ngarbage,*,5,30\n", "default row"),
    (f"{HEADER}\n*,*,x,3\n", "line 2, column accept_hours: hours must be numbers"),
    (f"{HEADER}\n*,*,1,3\n*,pink,1,2\n", "line 3, column urgency: unknown urgency 'pink'"),
    (f"{HEADER}\n*,*,1,3\ngarbge,*,1,2\n", "line 3, column category: unknown category 'garbge'"),
    (f"{HEADER},warn_urgency\n*,*,1,3,\n*,red,1,2,orange\n", "line 3, column warn_urgency: unknown urgency 'orange'"),
    (f"{HEADER},late_urgency\n*,*,1,3,Red\n", "line 2, column late_urgency: unknown urgency 'Red'"),
    (f"{HEADER},late_urgncy\n*,*,1,3,red\n", "line 1: unknown column(s) late_urgncy"),
    ("category,urgency,accept_hours\n*,*,1\n", "line 1: missing column(s) close_hours"),
    (f"{HEADER}\n*,*,1,3\n*,*,2,3\n", "line 3, column urgency: a second row for *,* (first on line 2)"),
    (f"{HEADER}\n*,*,1,3,red\n", "line 2: more fields than columns"),
])
def test_bad_sla_table_is_refused_naming_line_and_column(tmp_path, text, msg):
    with pytest.raises(ValueError) as exc:
        table(tmp_path, text)
    assert msg in str(exc.value)


# --------------------------------------------------------------------------- lateness

def test_deadlines_run_across_local_midnight_without_rounding(raising):
    # Reported 23:30 in Shanghai (15:30 UTC): accept by 23:30 the next evening, not "end of day".
    reported = datetime(2026, 11, 26, 23, 30, tzinfo=SH)
    d = POLICY.deadlines("garbage", "green", reported)
    assert d.accept_by.astimezone(SH) == datetime(2026, 11, 27, 23, 30, tzinfo=SH)
    assert d.close_by.astimezone(SH) == datetime(2026, 12, 1, 23, 30, tzinfo=SH)
    c = case(reported=reported.astimezone(timezone.utc))
    assert POLICY.lateness(c, d.accept_by - timedelta(hours=6, seconds=1)) is None
    assert POLICY.lateness(c, d.accept_by - timedelta(hours=6)) == "due_soon"   # last quarter
    assert POLICY.lateness(c, d.accept_by) == "due_soon"                        # at the deadline: in time
    assert POLICY.lateness(c, d.accept_by + timedelta(seconds=1)) == "overdue"
    # A table that raises urgency follows the same lateness.
    assert raising.clock_urgency(c, d.accept_by - timedelta(hours=6, seconds=1)) == "green"
    assert raising.clock_urgency(c, d.accept_by - timedelta(hours=6)) == "yellow"
    assert raising.clock_urgency(c, d.accept_by) == "yellow"
    assert raising.clock_urgency(c, d.accept_by + timedelta(seconds=1)) == "red"


def test_lateness_follows_the_deadline_the_case_waits_for():
    accepted = case(accepted=T0 + timedelta(hours=2), status="assigned")
    assert POLICY.pending(accepted)[0] == "close"
    assert POLICY.lateness(accepted, T0 + timedelta(hours=30)) is None          # accept deadline: irrelevant now
    assert POLICY.lateness(accepted, T0 + timedelta(hours=90)) == "due_soon"    # last quarter of 120 h
    assert POLICY.lateness(accepted, T0 + timedelta(hours=120, seconds=1)) == "overdue"
    resolved = case(accepted=T0, status="resolved")                            # waits for feedback: still open
    assert POLICY.lateness(resolved, T0 + timedelta(days=6)) == "overdue"
    assert POLICY.lateness(case(status="closed"), T0 + timedelta(days=60)) is None
    # Deadlines come from the urgency it was reported with, not a raised one.
    raised = case(base="green", urgency="red")
    assert POLICY.lateness(raised, T0 + timedelta(hours=2)) is None
    assert POLICY.lateness(case(base="red"), T0 + timedelta(hours=2)) == "overdue"
    # An unknown category takes the default row.
    assert POLICY.lateness(case(category="no_such"), T0 + timedelta(hours=25)) == "overdue"


def test_lateness_computes_each_rule_once():
    p = SlaPolicy(dict(POLICY.rules))
    now = T0 + timedelta(hours=3)
    for i in range(1000):
        p.lateness(case(category=("garbage", "fire_hazard")[i % 2], base=("green", "red")[i % 2]), now)
    assert set(p._cache) == {("garbage", "green"), ("fire_hazard", "red")}


def test_urgency_never_goes_down_and_closed_cases_have_no_clock(raising):
    c = case(base="green", urgency="red")
    assert raising.clock_urgency(c, T0 + timedelta(hours=20)) == "red"
    assert raising.due_events(case(status="closed"), datetime(2030, 1, 1, tzinfo=timezone.utc)) == []


def test_a_case_seen_late_for_the_first_time_gets_the_late_urgency(tmp_path):
    warn_only = table(tmp_path, f"{HEADER},warn_urgency,late_urgency\n*,*,24,120,yellow,\n")
    assert warn_only.clock_urgency(case(), T0 + timedelta(hours=30)) == "yellow"  # it passed the warning too
    late_only = table(tmp_path, f"{HEADER},warn_urgency,late_urgency\n*,*,24,120,,red\n")
    assert late_only.clock_urgency(case(), T0 + timedelta(hours=20)) == "green"
    assert late_only.clock_urgency(case(), T0 + timedelta(hours=30)) == "red"


# --------------------------------------------------------------------------- the clock's events

def test_overdue_escalates_one_level_with_a_stable_event_id(raising):
    c = case(level="village")
    late = T0 + timedelta(hours=25)
    assert [e.type for e in POLICY.due_events(c, late)] == ["escalated"]          # the shipped table
    assert POLICY.due_events(c, T0 + timedelta(hours=20)) == []                  # due soon: nothing to do
    evs = raising.due_events(c, late)
    assert [e.type for e in evs] == ["urgency_changed", "escalated"]
    assert evs[0].data == {"urgency": "red"} and evs[1].data == {"level": "town"}
    assert {e.actor for e in evs} == {"SLA"} and {e.at for e in evs} == {late}
    assert [e.id for e in raising.due_events(c, late + timedelta(hours=1))] == [e.id for e in evs]
    assert POLICY.due_events(case(level="district"), late) == []
    no_auto = SlaPolicy(raising.rules, auto_escalate=False)
    assert [e.type for e in no_auto.due_events(c, late)] == ["urgency_changed"]
    # The close deadline is another step, with another id.
    accepted = case(level="town", accepted=T0 + timedelta(hours=1), status="accepted")
    close_ev = POLICY.due_events(accepted, T0 + timedelta(days=6))
    assert [e.data for e in close_ev] == [{"level": "district"}] and close_ev[0].id != evs[1].id
