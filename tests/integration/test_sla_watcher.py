"""The SLA watcher on real Redis and both databases, with a controlled clock."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from dashboard.core.domain import Event, fold
from dashboard.core.sla import SlaPolicy
from dashboard.stream.commands import Commands
from dashboard.stream.heads import head_key
from dashboard.workers.sla_watcher import SlaWatcher

RAISING_TABLE = ("category,urgency,accept_hours,close_hours,warn_urgency,late_urgency\n"
                 "*,*,24,120,yellow,red\n"
                 "*,red,1,24,,\n")


def green_garbage(report):
    """A routine case: 24 h to accept, 5 days to close."""
    report.data.update(urgency="green", category="garbage", platform="enforcement")
    return report


def cmds(rt):
    return Commands(rt.redis, rt.store, rt.settings.stream)


def event_types(rt, iid):
    return [e["type"] for e in rt.store.get_incident(iid)["events"]]


def test_the_shipped_table_escalates_once_per_missed_deadline_and_leaves_urgency_alone(rt, make_events, drain):
    report = green_garbage(make_events(1, seed=41, follow_ups=False)[0])
    t0 = report.at
    rt.publisher.publish(report)
    drain()
    now = {"t": t0 + timedelta(hours=19)}
    watcher = SlaWatcher(rt, clock=lambda: now["t"])
    assert watcher.run_once() == 0                     # due soon: nothing to do
    now["t"] = t0 + timedelta(hours=25)                # past the acceptance deadline
    assert watcher.run_once() == 1                     # escalated to the village
    assert watcher.run_once() == 0                     # nothing twice, even before it is stored
    assert watcher.deferred == 1
    drain()
    assert watcher.run_once() == 0 and watcher.deferred == 0  # stored, judged, nothing owed
    inc = rt.store.get_incident(report.incident_id)
    assert (inc["urgency"], inc["level"]) == ("green", "village")
    assert watcher.policy.lateness(inc, now["t"]) == "overdue"
    # An operator accepts; the close deadline then counts and escalates once more when missed.
    cmds(rt).act(report.incident_id, "accept", expected_version=inc["version"], actor="值班员")
    drain()
    now["t"] = t0 + timedelta(days=5, minutes=1)
    assert watcher.run_once() == 1
    drain()
    inc = rt.store.get_incident(report.incident_id)
    assert (inc["urgency"], inc["level"], inc["status"]) == ("green", "town", "accepted")
    assert [e["type"] for e in inc["events"]] == ["reported", "escalated", "accepted", "escalated"]
    assert [e["actor"] for e in inc["events"]] == [report.actor, "SLA", "值班员", "SLA"]


def test_a_table_that_raises_urgency(rt, make_events, drain, tmp_path):
    (tmp_path / "sla.csv").write_text(RAISING_TABLE, encoding="utf-8")
    report = green_garbage(make_events(1, seed=43, follow_ups=False)[0])
    t0 = report.at
    rt.publisher.publish(report)
    drain()
    now = {"t": t0 + timedelta(hours=19)}
    watcher = SlaWatcher(rt, SlaPolicy.load(tmp_path / "sla.csv"), clock=lambda: now["t"])
    assert watcher.run_once() == 1                     # last quarter of the 24 h: yellow
    drain()
    inc = rt.store.get_incident(report.incident_id)
    assert inc["urgency"] == "yellow" and inc["level"] == "grid"
    now["t"] = t0 + timedelta(hours=25)
    assert watcher.run_once() == 2                     # red, and escalated to the village
    assert watcher.run_once() == 0
    drain()
    assert watcher.run_once() == 0
    inc = rt.store.get_incident(report.incident_id)
    assert (inc["urgency"], inc["base_urgency"], inc["level"]) == ("red", "green", "village")
    assert [e["type"] for e in inc["events"]] == ["reported", "urgency_changed", "urgency_changed", "escalated"]


def test_a_lagging_persister_defers_the_clock_then_only_truly_late_cases_escalate_once(rt, make_events, drain,
                                                                                       tmp_path):
    """While accepted cases look late in the database (their acceptance still in the stream),
    the clock does nothing to them, even under a table that would raise their urgency."""
    (tmp_path / "sla.csv").write_text(RAISING_TABLE, encoding="utf-8")
    reports = [green_garbage(r) for r in make_events(5, seed=44, follow_ups=False)]
    for rep in reports:
        rt.publisher.publish(rep)
    drain()
    t0 = reports[-1].at
    accepted_in_time, moved_otherwise, in_sync = reports[:2], reports[2], reports[3:]
    c = cmds(rt)
    for rep in accepted_in_time:
        c.act(rep.incident_id, "accept", expected_version=1, actor="值班员", at=t0 + timedelta(hours=2))
    c.act(moved_otherwise.incident_id, "supervise", expected_version=1, actor="值班员", note="请尽快受理",
          at=t0 + timedelta(hours=3))
    # The persister is stopped: the database still shows all five waiting for acceptance.
    assert all(rt.store.get_incident(r.incident_id, with_events=False)["accepted_at"] is None for r in reports)
    now = t0 + timedelta(hours=30)
    watcher = SlaWatcher(rt, SlaPolicy.load(tmp_path / "sla.csv"), clock=lambda: now)
    second = SlaWatcher(rt, SlaPolicy.load(tmp_path / "sla.csv"), clock=lambda: now)
    assert watcher.run_once() == 4                     # the two in step: red and escalated
    assert watcher.deferred == 3
    for _ in range(3):
        assert watcher.run_once() == 0 and second.run_once() == 0
    heads = {r.incident_id: int(rt.redis.hget(head_key(r.incident_id), "v")) for r in reports}
    assert [heads[r.incident_id] for r in reports] == [2, 2, 2, 3, 3]
    # The persister catches up: the acceptances were in time, the supervised case is late.
    drain()
    rounds = [w.run_once() for w in (watcher, second, watcher)]
    assert rounds == [2, 0, 0]
    drain()
    for _ in range(3):
        assert watcher.run_once() == 0 and second.run_once() == 0
    assert watcher.deferred == 0
    for rep in accepted_in_time:
        inc = rt.store.get_incident(rep.incident_id)
        assert [e["type"] for e in inc["events"]] == ["reported", "accepted"]
        assert (inc["urgency"], inc["level"]) == ("green", "grid")
        assert watcher.policy.lateness(inc, now) is None
    assert event_types(rt, moved_otherwise.incident_id) == ["reported", "supervised", "urgency_changed",
                                                            "escalated"]
    for rep in in_sync:
        assert event_types(rt, rep.incident_id) == ["reported", "urgency_changed", "escalated"]
    for rep in [moved_otherwise, *in_sync]:
        inc = rt.store.get_incident(rep.incident_id, with_events=False)
        assert (inc["urgency"], inc["level"]) == ("red", "village")


def test_an_append_refused_because_the_case_moved_releases_its_claim(rt, make_events, drain):
    report = green_garbage(make_events(1, seed=45, follow_ups=False)[0])
    rt.publisher.publish(report)
    drain()
    now = report.at + timedelta(hours=25)
    watcher = SlaWatcher(rt, clock=lambda: now)
    stored = watcher._stored

    def operator_acts_meanwhile(ids):  # between the head check and the append
        cmds(rt).act(report.incident_id, "accept", expected_version=1, actor="值班员", at=report.at)
        watcher._stored = stored
        return stored(ids)

    watcher._stored = operator_acts_meanwhile
    assert watcher.run_once() == 0                      # refused (409): nothing appended
    (step,) = watcher.policy.due_events(rt.store.get_incident(report.incident_id, with_events=False), now)
    assert not rt.redis.exists(f"sla:{step.id}")        # the claim is released
    drain()
    assert watcher.run_once() == 0                      # accepted in time: nothing owed
    assert event_types(rt, report.incident_id) == ["reported", "accepted"]


def test_a_step_already_in_the_log_is_not_appended_again_after_its_claim_expired(rt, make_events, drain):
    report = green_garbage(make_events(1, seed=46, follow_ups=False)[0])
    rt.publisher.publish(report)
    drain()
    now = {"t": report.at + timedelta(hours=25)}
    watcher = SlaWatcher(rt, clock=lambda: now["t"])
    assert watcher.run_once() == 1
    drain()
    # Weeks later, still not accepted, the claims have expired: the clock owes the same step
    # (same id), which the log already holds. Appending it again would move the head past
    # what the persister can ever store (it ignores a known id), and stall the case.
    now["t"] += timedelta(days=41)
    rt.redis.delete(*rt.redis.keys("sla:*"))
    assert watcher.run_once() == 0 and watcher.run_once() == 0
    drain()
    inc = rt.store.get_incident(report.incident_id, with_events=False)
    assert int(rt.redis.hget(head_key(report.incident_id), "v")) == inc["version"] == 2
    assert inc["level"] == "village"


def test_closed_cases_are_left_alone(rt, make_events, drain):
    report = make_events(1, seed=42, follow_ups=False)[0]
    rt.publisher.publish(report)
    c = cmds(rt)
    for v, (action, note, fields) in enumerate([("accept", "", {}), ("assign", "", {"department": "住建局"}),
                                                ("resolve", "已清理完毕", {}), ("close", "", {})], start=1):
        c.act(report.incident_id, action, expected_version=v, actor="值班员", note=note, data=fields)
    drain()
    watcher = SlaWatcher(rt, clock=lambda: datetime.now(timezone.utc) + timedelta(days=30))
    assert watcher.run_once() == 0


def test_rebuild_settles_the_level_at_resolution_in_event_time(store, make_events):
    """A log where an SLA escalation stamped after the resolution reached the stream before it
    (e.g. during a backfill): ``db rebuild`` gives the case the level it was resolved at."""
    report = green_garbage(make_events(1, seed=47, follow_ups=False)[0])
    iid, t0 = report.incident_id, report.at
    report.stream_pos = 1

    def ev(kind, hours, pos, actor="值班员", **data):
        return Event(id=uuid.uuid4(), incident_id=iid, type=kind, at=t0 + timedelta(hours=hours),
                     actor=actor, data=data, stream_pos=pos)

    log = [report, ev("accepted", 1, 2), ev("assigned", 2, 3, department="住建局"),
           ev("escalated", 30, 4, actor="SLA", level="village"), ev("resolved", 20, 5), ev("closed", 21, 6)]
    store.store_events(log)
    # The projection an older fold (levels in stream order) left behind:
    old = fold(log)
    old.resolved_level = "village"
    with store._write_conn() as conn, conn.begin():
        store.upsert_states(conn, [old])
    assert store.get_incident(iid, with_events=False)["resolved_level"] == "village"
    assert store.rebuild_projections() == 1
    inc = store.get_incident(iid, with_events=False)
    assert (inc["status"], inc["level"], inc["resolved_level"], inc["version"]) == ("closed", "village", "grid", 6)
