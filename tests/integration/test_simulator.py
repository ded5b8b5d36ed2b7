"""The demo simulator plays the departments through the same checked actions as operators."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from dashboard.core.routing import propose
from dashboard.core.sla import default_policy
from dashboard.demo.simulator import BASE_RATE, HOURLY, SOURCE, Simulator
from dashboard.demo.workers import grid_workers, reporter_name
from dashboard.store.models import EventRow, IncidentRow
from dashboard.stream.commands import Commands
from dashboard.stream.events import decode_entry
from dashboard.stream.heads import head_key


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


def test_chunked_backfill_skips_a_refused_report_and_publishes_everything_else(rt, drain, monkeypatch):
    """One generated report that fails validation (here: a point outside the district) is
    logged and skipped; the history around it is published, chunk by chunk, each case's report
    before its steps, and the steps due after "now" are left for live mode."""
    sim = Simulator(rt, speed=20.0, seed=8, backfill_days=0)
    now = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)   # noon in Shanghai
    real_point, calls = sim._point_in, []

    def point_in(code, grid):
        calls.append(code)
        return (31.2, 121.5) if len(calls) == 40 else real_point(code, grid)   # Shanghai: refused

    monkeypatch.setattr(sim, "_point_in", point_in)
    n = sim.backfill(0.25, now=now, chunk_hours=2)
    assert sim.skipped == 1 and n == len(calls) - 1 > 300
    assert sim._queue and all(item[0] > now.timestamp() for item in sim._queue)

    entries = [decode_entry(eid, f) for eid, f in rt.redis.xrange(rt.settings.stream)]
    first_pos, steps_before_last_report = {}, 0
    last_report = max(i for i, e in enumerate(entries) if e.type == "reported")
    for i, e in enumerate(entries):
        if e.type == "reported":
            first_pos[e.incident_id] = i
        else:
            assert first_pos[e.incident_id] < i, "a step before its case's report"
            assert e.at <= now
            steps_before_last_report += i < last_report
    assert len(first_pos) == n
    assert steps_before_last_report > 100          # chunks: not all reports first, then all steps
    # Chunk by chunk: a step is appended before the reports of every later chunk, so no report
    # that comes after a step in the stream is older than that step.
    later_min = datetime.max.replace(tzinfo=timezone.utc)
    for e in reversed(entries):
        if e.type == "reported":
            later_min = min(later_min, e.at)
        else:
            assert e.at <= later_min

    drain()
    with rt.store.engine.connect() as conn:
        rows = conn.execute(select(IncidentRow.id, IncidentRow.version, IncidentRow.status,
                                   IncidentRow.reporter, IncidentRow.grid_code)).all()
    assert len(rows) == n
    workers = grid_workers(rt.geo)
    assert all(r.reporter in {reporter_name(w) for w in workers[r.grid_code]} for r in rows)
    for r in rows[:200]:
        head = rt.redis.hgetall(head_key(r.id))
        assert (int(head[b"v"]), head[b"s"].decode()) == (r.version, r.status)


def test_a_morning_of_backfill_closes_red_cases_in_time(rt, drain):
    """A morning of history, long enough ago that every case is closed: red cases closed within
    their deadline, and much faster than green ones."""
    sim = Simulator(rt, speed=20.0, seed=12, backfill_days=0)
    now = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)   # noon in Shanghai
    n = sim.backfill(0.25, now=now - timedelta(days=13))   # the latest close is 2.5 x 5 days on
    sim.tick(now.timestamp())
    expected = BASE_RATE * 3600 * sum(HOURLY[6:12])
    assert 0.9 * expected < n < 1.1 * expected
    drain()
    policy = default_policy()
    with rt.store.engine.connect() as conn:
        rows = conn.execute(select(IncidentRow.category, IncidentRow.base_urgency, IncidentRow.reported_at,
                                   IncidentRow.closed_at, IncidentRow.status)).all()
    assert len(rows) == n
    closed = [r for r in rows if r.status == "closed"]
    assert len(closed) > 0.99 * n

    def in_time(r):
        return r.closed_at - r.reported_at <= policy.rule(r.category, r.base_urgency).close
    red = [r for r in closed if r.base_urgency == "red"]
    green = [r for r in closed if r.base_urgency == "green"]
    assert sum(map(in_time, red)) / len(red) >= 0.85
    assert 0.85 <= sum(map(in_time, closed)) / len(closed) <= 0.96
    def hours(rs):
        return sum((r.closed_at - r.reported_at).total_seconds() for r in rs) / len(rs) / 3600

    assert hours(red) < hours(green) / 3


def test_stored_cases_follow_the_routing_table_and_a_few_are_routed_on_with_a_reason(rt, drain):
    """The departments the backfill assigns are the routing table's; the cases it routes on
    (流转) end at the department named, with the reason, and every resolution has its result."""
    sim = Simulator(rt, speed=20.0, seed=14, backfill_days=0)
    now = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)
    n = sim.backfill(0.5, now=now - timedelta(days=13))
    sim.tick(now.timestamp())
    drain()
    with rt.store.engine.connect() as conn:
        cases = {r.id: r for r in conn.execute(select(IncidentRow.id, IncidentRow.category, IncidentRow.town_code,
                                                      IncidentRow.department, IncidentRow.status))}
        steps = conn.execute(select(EventRow.incident_id, EventRow.type, EventRow.note, EventRow.data)
                             .where(EventRow.type.in_(["routed", "resolved"]))).all()
    assert len(cases) == n > 1000 and {c.status for c in cases.values()} == {"closed"}
    routed = {s.incident_id: s for s in steps if s.type == "routed"}
    assert 0.01 * n < len(routed) < 0.05 * n
    for iid, c in cases.items():
        if iid in routed:
            assert c.department == routed[iid].data["department"] != propose(c.category, c.town_code)
            assert routed[iid].note
        else:
            assert c.department == propose(c.category, c.town_code)
    assert sum(s.type == "resolved" and bool(s.note.strip()) for s in steps) == n


def test_backfill_carries_on_after_the_clock_and_leaves_cases_an_operator_took(rt, drain, monkeypatch):
    """Between chunks the SLA clock (or a leader) adds versions to open cases, and an operator
    accepts a waiting one: the backfill finishes the first at their new versions and leaves the
    second to the operator."""
    sim = Simulator(rt, speed=20.0, seed=10, backfill_days=0)
    now = datetime(2026, 11, 26, 4, 0, tzinfo=timezone.utc)
    cmds = Commands(rt.redis, rt.store, rt.settings.stream)
    touched = {}

    def between_chunks():
        if touched:
            return
        waiting = list(dict.fromkeys(it[2].incident_id for it in sim._queue if it[4] == "reported"))
        busy = list(dict.fromkeys(it[2].incident_id for it in sim._queue if it[4] == "assigned"))
        for iid in busy[:5]:
            v = int(rt.redis.hget(head_key(iid), "v"))
            cmds.act(iid, "escalate", expected_version=v, actor="SLA")
            touched[iid] = "clock"
        iid = next(i for i in waiting if i not in touched)
        cmds.act(iid, "accept", expected_version=int(rt.redis.hget(head_key(iid), "v")), actor="值班员")
        touched[iid] = "operator"

    monkeypatch.setattr(sim, "_storm_while_busy", between_chunks)
    sim.backfill(0.125, now=now - timedelta(days=13), chunk_hours=1)
    sim.tick(now.timestamp())
    assert len(touched) == 6 and sim.refused >= 1
    drain()
    for iid, who in touched.items():
        inc = rt.store.get_incident(iid)
        types = [e["type"] for e in inc["events"]]
        if who == "clock":
            assert inc["status"] == "closed" and types[-1] == "closed"
            assert any(e["type"] == "escalated" and e["actor"] == "SLA" for e in inc["events"])
            assert inc["version"] == len(inc["events"])   # every step applied, none refused
        else:
            assert types == ["reported", "accepted"] and inc["events"][1]["actor"] == "值班员"
