"""The demo simulator plays the departments through the same checked actions as operators."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from dashboard.commands import Commands, head_key
from dashboard.simulator import BASE_RATE, HOURLY, SOURCE, Simulator
from dashboard.store import IncidentRow


def test_backfill_is_stored_and_heads_match_the_stored_versions(rt, drain):
    sim = Simulator(rt, speed=1.0, seed=5, backfill_days=0)
    now = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)   # noon in Shanghai
    n = sim.backfill(0.5, now=now)
    # The district's rate with the day/night rhythm over 00:00-12:00 local time, +-15 %
    # (Poisson spread for ~1,700 reports is ~2.5 %).
    expected = BASE_RATE * 3600 * sum(HOURLY[0:12])
    assert 0.85 * expected < n < 1.15 * expected, (n, expected)
    drain()
    with rt.store.engine.connect() as conn:
        rows = conn.execute(select(IncidentRow.id, IncidentRow.version, IncidentRow.status,
                                   IncidentRow.source)).all()
    assert len(rows) == n
    assert {r.source for r in rows} == {SOURCE}
    assert {r.status for r in rows} > {"closed"}                      # some closed, some not
    for r in rows[:300]:
        head = rt.redis.hgetall(head_key(r.id))
        assert (int(head[b"v"]), head[b"s"].decode()) == (r.version, r.status)


def test_an_operator_who_acts_first_takes_the_case_over(rt, drain):
    sim = Simulator(rt, speed=1.0, seed=6, backfill_days=0)
    now = datetime.now(timezone.utc)
    rep = sim.new_report(now.timestamp())
    # The operator accepts before the simulated department does.
    Commands(rt.redis, rt.store, rt.settings.stream).act(rep.incident_id, "accept", expected_version=1,
                                                         actor="值班员")
    done = sim.tick((now + timedelta(days=30)).timestamp())
    assert done == 0 and rep.incident_id in sim._taken_over
    drain()
    inc = rt.store.get_incident(rep.incident_id)
    assert [e["type"] for e in inc["events"]] == ["reported", "accepted"]
    assert inc["events"][1]["actor"] == "值班员"


def test_clock_and_supervision_do_not_stop_the_simulated_department(rt, drain):
    sim = Simulator(rt, speed=1.0, seed=7, backfill_days=0)
    now = datetime.now(timezone.utc)
    rep = sim.new_report(now.timestamp())
    cmds = Commands(rt.redis, rt.store, rt.settings.stream)
    # A leader supervises and the clock raises urgency while the case waits for acceptance:
    # versions move on, the status does not.
    cmds.act(rep.incident_id, "supervise", expected_version=1, actor="区领导", note="请尽快受理")
    cmds.act(rep.incident_id, "escalate", expected_version=2, actor="SLA")
    sim.tick((now + timedelta(days=30)).timestamp())
    assert rep.incident_id not in sim._taken_over
    drain()
    inc = rt.store.get_incident(rep.incident_id)
    assert inc["status"] == "closed"
    types = [e["type"] for e in inc["events"]]
    assert types[:3] == ["reported", "supervised", "escalated"] and types[-1] == "closed"
