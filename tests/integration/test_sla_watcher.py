"""The SLA watcher on real Redis and both databases, with a controlled clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dashboard.commands import Commands
from dashboard.sla import SlaWatcher


def test_clock_raises_urgency_escalates_once_per_deadline(rt, make_events, drain):
    report = make_events(1, seed=41, follow_ups=False)[0]
    t0 = report.at
    report.data["urgency"] = "green"
    report.data["category"] = "garbage"
    report.data["platform"] = "enforcement"
    rt.publisher.publish(report)
    drain()
    now = {"t": t0 + timedelta(hours=19)}
    watcher = SlaWatcher(rt, clock=lambda: now["t"])
    assert watcher.run_once() == 1                     # last quarter of the 24 h: yellow
    drain()
    inc = rt.store.get_incident(report.incident_id)
    assert inc["urgency"] == "yellow" and inc["level"] == "grid"
    now["t"] = t0 + timedelta(hours=25)                # past the acceptance deadline
    assert watcher.run_once() == 2                     # red, and escalated to the village
    assert watcher.run_once() == 0                     # nothing twice, even before it is stored
    drain()
    inc = rt.store.get_incident(report.incident_id)
    assert (inc["urgency"], inc["level"]) == ("red", "village")
    assert [e["actor"] for e in inc["events"][1:]] == ["SLA", "SLA", "SLA"]
    # An operator accepts; the close deadline then counts and escalates once more when missed.
    Commands(rt.redis, rt.store, rt.settings.stream).act(report.incident_id, "accept",
                                                         expected_version=inc["version"], actor="值班员")
    drain()  # the watcher reads the stored cases; until then it still sees the old stage
    now["t"] = t0 + timedelta(days=5, minutes=1)
    assert watcher.run_once() == 1
    drain()
    inc = rt.store.get_incident(report.incident_id)
    assert inc["level"] == "town" and inc["status"] == "accepted"
    assert [e["type"] for e in inc["events"]] == ["reported", "urgency_changed", "urgency_changed",
                                                  "escalated", "accepted", "escalated"]


def test_closed_cases_are_left_alone(rt, make_events, drain):
    report = make_events(1, seed=42, follow_ups=False)[0]
    rt.publisher.publish(report)
    cmds = Commands(rt.redis, rt.store, rt.settings.stream)
    for v, (action, fields) in enumerate([("accept", {}), ("assign", {"department": "住建局"}),
                                          ("resolve", {}), ("close", {})], start=1):
        cmds.act(report.incident_id, action, expected_version=v, actor="值班员", data=fields)
    drain()
    watcher = SlaWatcher(rt, clock=lambda: datetime.now(timezone.utc) + timedelta(days=30))
    assert watcher.run_once() == 0
