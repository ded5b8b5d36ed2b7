"""The lifecycle fold and the transition table, without any server."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from dashboard.core.domain import OPEN_STATUSES, TRANSITIONS, Event, allowed_events, categories, fold, reported_event_id

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=timezone.utc)
IID = uuid.UUID("11111111-2222-4333-8444-555555555555")
REPORT = {"category": "fire_hazard", "platform": "public_order", "description": "明火", "lat": 28.52,
          "lon": 121.41, "reporter": "网格员", "urgency": "red", "town": "331004103",
          "village": "331004103001", "grid": "331004103001-01", "photos": [], "source": "api"}


def ev(kind, minutes, pos, **data):
    return Event(id=uuid.uuid4(), incident_id=IID, type=kind, at=T0 + timedelta(minutes=minutes),
                 data=data or (REPORT if kind == "reported" else {}), stream_pos=pos)


def test_categories_cover_the_four_platforms_with_valid_urgency():
    cats = categories()
    assert {c.platform for c in cats.values()} == {"public_order", "market", "enforcement", "services"}
    assert cats["fire_hazard"].urgency == "red" and cats["fire_hazard"].name_zh == "消防安全隐患"


def test_full_loop_sets_kpi_timestamps_and_level():
    events = [ev("reported", 0, 1), ev("accepted", 30, 2), ev("assigned", 60, 3, department="消防救援大队"),
              ev("escalated", 90, 4), ev("resolved", 300, 5), ev("closed", 360, 6)]
    st = fold(events)
    assert st.status == "closed" and not st.is_open
    assert st.accepted_at == T0 + timedelta(minutes=30)
    assert st.closed_at == T0 + timedelta(minutes=360)
    assert st.department == "消防救援大队"
    assert st.level == "village" and st.resolved_level == "village"
    assert st.version == 6 and st.rejected == []


def test_order_comes_from_the_stream_not_from_arrival():
    events = [ev("reported", 0, 1), ev("accepted", 30, 2), ev("assigned", 60, 3)]
    assert fold(list(reversed(events))).status == "assigned"


def test_no_report_no_incident():
    assert fold([ev("accepted", 30, 2)]) is None


def test_illegal_events_are_kept_out_of_the_state():
    closed_early = ev("closed", 10, 2)
    st = fold([ev("reported", 0, 1), closed_early, ev("accepted", 20, 3)])
    assert st.status == "accepted"
    assert st.rejected == [str(closed_early.id)]
    assert st.version == 2


def test_reopen_clears_close_and_urgency_can_change():
    st = fold([ev("reported", 0, 1), ev("accepted", 1, 2), ev("assigned", 2, 3), ev("resolved", 3, 4),
               ev("closed", 4, 5), ev("reopened", 5, 6), ev("urgency_changed", 6, 7, urgency="yellow")])
    assert st.status == "accepted" and st.closed_at is None and st.resolved_at is None
    assert st.urgency == "yellow" and st.base_urgency == "red"


@pytest.mark.parametrize("status", [None, *OPEN_STATUSES, "closed"])
def test_allowed_events_match_the_table(status):
    allowed = allowed_events(status)
    for kind, (sources, _) in TRANSITIONS.items():
        assert (kind in allowed) == (status in sources)
    if status is None:
        assert allowed == ["reported"]


def test_reported_event_id_is_stable():
    assert reported_event_id(IID) == reported_event_id(IID)
    assert reported_event_id(IID) != reported_event_id(uuid.uuid4())


def test_every_platform_has_a_department():
    from dashboard.core.domain import PLATFORMS, departments
    deps = departments()
    assert {"公安分局", "消防救援大队", "市场监管分局", "综合行政执法局", "住建局"} <= {d.name_zh for d in deps.values()}
    for platform in PLATFORMS:
        assert any(platform in d.platforms for d in deps.values()), platform


# --------------------------------------------------------------------------- levels in event time

def test_level_replays_escalations_by_event_time_not_stream_order():
    # Stream: "to town" (at 10 min) before a plain escalation (at 5 min). In event time the plain
    # one comes first (grid -> village), then "to town": town. In stream order it would be district.
    st = fold([ev("reported", 0, 1), ev("escalated", 10, 2, level="town"), ev("escalated", 5, 3)])
    assert st.level == "town" and st.resolved_level is None


def test_an_escalation_stored_after_the_resolution_with_a_later_time_keeps_the_resolved_level():
    # The resolution (at 60 min) reaches the stream after an SLA escalation stamped later (at
    # 90 min): the case was resolved at the grid, and is at the village now.
    st = fold([ev("reported", 0, 1), ev("accepted", 10, 2), ev("assigned", 20, 3, department="住建局"),
               ev("escalated", 90, 4, level="village"), ev("resolved", 60, 5), ev("closed", 100, 6)])
    assert st.status == "closed" and st.level == "village" and st.resolved_level == "grid"


def test_an_escalation_appended_after_the_resolution_with_an_earlier_time_counts():
    st = fold([ev("reported", 0, 1), ev("accepted", 10, 2), ev("assigned", 20, 3, department="住建局"),
               ev("resolved", 60, 4), ev("escalated", 50, 5, level="town")])
    assert st.status == "resolved" and st.level == "town" and st.resolved_level == "town"
    at_the_same_time = fold([ev("reported", 0, 1), ev("accepted", 10, 2), ev("assigned", 20, 3),
                             ev("resolved", 60, 4), ev("escalated", 60, 5)])
    assert at_the_same_time.resolved_level == "village"  # "at or before" the resolution


def test_rejected_escalations_do_not_count_and_a_reopened_case_is_judged_at_its_last_resolution():
    closed = [ev("reported", 0, 1), ev("accepted", 10, 2), ev("assigned", 20, 3), ev("resolved", 60, 4),
              ev("closed", 70, 5)]
    late = ev("escalated", 30, 6)  # after closing in the stream: not allowed, whatever its time
    st = fold(closed + [late])
    assert st.rejected == [str(late.id)] and st.level == "grid" and st.resolved_level == "grid"
    st = fold(closed + [ev("reopened", 80, 6), ev("escalated", 90, 7), ev("assigned", 95, 8),
                        ev("resolved", 100, 9)])
    assert st.level == "village" and st.resolved_level == "village"
    assert fold(closed + [ev("reopened", 80, 6)]).resolved_level is None


def test_a_route_naming_a_level_counts_like_an_escalation_in_event_time():
    base = [ev("reported", 0, 1), ev("accepted", 10, 2), ev("assigned", 20, 3, department="司法调解中心")]
    st = fold(base + [ev("routed", 30, 4, level="town"), ev("resolved", 60, 5)])
    assert (st.status, st.department, st.level, st.resolved_level) == ("resolved", "司法调解中心", "town", "town")
    # stamped after the resolution but stored before it: the case was resolved at the grid
    st = fold(base + [ev("routed", 90, 4, level="district", department="公安分局"), ev("resolved", 60, 5)])
    assert (st.department, st.level, st.resolved_level) == ("公安分局", "district", "grid")
    # a route to a level not above the current one leaves it; one without a level changes none
    st = fold(base + [ev("escalated", 25, 4, level="town"), ev("routed", 30, 5, level="village"),
                      ev("routed", 35, 6, department="公安分局"), ev("escalated", 40, 7)])
    assert (st.level, st.department) == ("district", "公安分局")
    st = fold(base + [ev("routed", 30, 4, department="公安分局"), ev("routed", 35, 5, department="住建局")])
    assert st.level == "grid" and st.rejected == []


def test_another_department_means_another_handler():
    base = [ev("reported", 0, 1), ev("accepted", 10, 2),
            ev("assigned", 20, 3, department="司法调解中心", handler="王调解")]
    assert fold(base + [ev("routed", 30, 4, level="town")]).handler == "王调解"        # same department
    st = fold(base + [ev("routed", 30, 4, department="公安分局")])
    assert (st.department, st.handler) == ("公安分局", None)
    st = fold(base + [ev("routed", 30, 4, department="公安分局", handler="李警官")])
    assert (st.department, st.handler) == ("公安分局", "李警官")
