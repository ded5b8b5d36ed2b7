"""The demo looks like the district: its rate, its grid workers, its deadlines, its storm."""
from __future__ import annotations

import statistics
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from dashboard.cli import main
from dashboard.config import Settings
from dashboard.core.actions import EVENT_TO_ACTION, check_fields
from dashboard.core.domain import departments
from dashboard.core.routing import propose
from dashboard.core.sla import default_policy
from dashboard.demo import workers as demo_workers
from dashboard.demo.simulator import (
    BASE_RATE,
    DEFAULT_RESULT_NOTES,
    HOURLY,
    ONWARD,
    RESULT_NOTES,
    SOURCE,
    STORM_KEY,
    Simulator,
    current_storm,
    set_storm,
)
from dashboard.stream.events import Publisher, decode_entry
from dashboard.stream.heads import head_key

DAY = 86400
# 10:00 local time (Asia/Shanghai) on a weekday: the morning peak.
MORNING = datetime(2026, 11, 24, 2, 0, tzinfo=timezone.utc).timestamp()
JINQING, BINHAI = "331004106", "331004400"   # the town with the most grids, the one with the fewest


class _Counting:
    """A publisher and the checked appends, as counters (no Redis): for rate tests."""
    def __init__(self):
        self.reports: list = []
        self.steps = 0

    def publish(self, ev):
        self.reports.append(ev)

    def publish_many(self, events):
        events = list(events)
        self.reports.extend(events)
        return len(events)

    def append(self, ev, version):
        self.steps += 1


def offline_sim(geo, speed=1.0, seed=1, **kw) -> tuple[Simulator, _Counting]:
    out = _Counting()
    rt = SimpleNamespace(settings=Settings.from_env({}), geo=geo, publisher=out,
                         redis=SimpleNamespace(get=lambda key: None))
    sim = Simulator(rt, speed=speed, seed=seed, backfill_days=0, **kw)
    sim._commands = out
    return sim, out


def one_day_of_reports(sim, start=MORNING):
    return [sim.make_report(datetime.fromtimestamp(ts, timezone.utc))
            for ts in sim.arrivals(start, start + DAY)]


# --------------------------------------------------------------------------- rate

def test_default_speed_is_about_one_report_a_second_over_a_day(geo):
    s = Settings.from_env({})
    assert s.simulator_speed == 20 and s.simulator_backfill_days == 30 and s.simulator_storm is None
    sim, _ = offline_sim(geo, speed=s.simulator_speed)
    day = [sim.rate(MORNING + h * 3600) for h in range(24)]
    assert statistics.mean(day) == pytest.approx(20 * BASE_RATE) == pytest.approx(1.034, abs=0.001)
    # The README's figures: ~62 a minute on average, ~130 at the morning peak, ~5.5 at night.
    assert 60 * statistics.mean(day) == pytest.approx(62, abs=0.5)
    assert 60 * max(day) == pytest.approx(130, abs=1)
    assert 60 * min(day) == pytest.approx(5.5, abs=0.1)
    env = Settings.from_env({"SIMULATOR_SPEED": "5", "SIMULATOR_STORM": " 331004106 ",
                             "SIMULATOR_STORM_MINUTES": "10", "SIMULATOR_BACKFILL_DAYS": "2"})
    assert (env.simulator_speed, env.simulator_storm, env.simulator_storm_minutes,
            env.simulator_backfill_days) == (5, JINQING, 10, 2)


@pytest.mark.parametrize("speed", [20, 5])
def test_live_loop_publishes_at_the_speed_over_a_simulated_hour(geo, speed):
    sim, out = offline_sim(geo, speed=speed, seed=speed)
    t = MORNING
    while t < MORNING + 3600:
        sim.step(t)
        t += 0.25
    expected = BASE_RATE * speed * HOURLY[10] * 3600          # ~7,800 at speed 20
    assert 0.94 * expected < len(out.reports) < 1.06 * expected, (len(out.reports), expected)
    assert all(MORNING <= r.at.timestamp() < MORNING + 3600 for r in out.reports)
    # Follow-ups are sped up too: most of the hour's cases were accepted within it.
    assert out.steps > len(out.reports)


def test_a_stalled_loop_does_not_file_a_burst(geo):
    sim, out = offline_sim(geo, speed=20)
    sim.step(MORNING)
    sim.step(MORNING + 600)  # ten minutes without a pass (Redis away)
    assert len(out.reports) < 20


# --------------------------------------------------------------------------- grid workers

def test_every_grid_has_one_or_two_workers_with_unique_names(geo):
    workers = demo_workers.grid_workers(geo)
    assert set(workers) == set(geo.grids)
    assert {len(v) for v in workers.values()} == {1, 2}
    names = [n for v in workers.values() for n in v]
    assert len(names) == len(set(names))
    assert 850 <= len(names) <= 1050
    assert all(2 <= len(n) <= 3 and n[0] in demo_workers.SURNAMES for n in names)
    assert demo_workers.grid_workers(geo) == workers          # the same on every call
    # Busier grids have two workers: every one-worker grid reports at most as much as a two-worker one.
    w = demo_workers.grid_weights(geo)
    assert max(w[c] for c, v in workers.items() if len(v) == 1) <= min(w[c] for c, v in workers.items() if len(v) == 2)


def test_reports_come_from_their_own_grids_workers_at_a_plausible_daily_rate(geo):
    sim, _ = offline_sim(geo, speed=1.0, seed=3)
    reports = one_day_of_reports(sim)
    assert 0.95 * BASE_RATE * DAY < len(reports) < 1.05 * BASE_RATE * DAY   # ~4,470 a day
    workers = demo_workers.grid_workers(geo)
    per_worker = Counter()
    for rep in reports:
        d = rep.data
        assert d["reporter"] in {demo_workers.reporter_name(n) for n in workers[d["grid"]]}
        assert d["source"] == SOURCE and d["description"].startswith("【演示】")
        per_worker[d["reporter"]] += 1
    counts = list(per_worker.values())
    assert 3.5 < len(reports) / sum(len(v) for v in workers.values()) < 6   # ~4.7 a worker a day
    assert max(counts) <= 25, per_worker.most_common(3)
    expected = demo_workers.expected_per_worker_day(geo, BASE_RATE * DAY)
    assert max(expected.values()) < 15 and min(expected.values()) > 1


def test_points_lie_in_their_grid_as_the_lookup_sees_it(geo):
    sim, _ = offline_sim(geo, seed=4)
    for _ in range(3000):
        rep = sim.make_report(datetime.fromtimestamp(MORNING, timezone.utc))
        found = geo.locate(rep.data["lat"], rep.data["lon"])
        assert found is not None and found.code == rep.data["grid"]


# --------------------------------------------------------------------------- deadlines

def test_cases_meet_their_own_deadlines_and_red_ones_are_fastest(geo):
    sim, _ = offline_sim(geo, seed=5)
    policy = default_policy()
    accepted_in_time, closed_in_time = defaultdict(list), defaultdict(list)
    close_h, accept_h, levels = defaultdict(list), defaultdict(list), Counter()
    reports = one_day_of_reports(sim) + one_day_of_reports(sim, MORNING + DAY)
    for rep in reports:
        d = rep.data
        steps = sim.follow_ups(rep, 1.0)
        assert [e.at for e in steps] == sorted(e.at for e in steps)
        at = {e.type: e.at - rep.at for e in steps}
        rule = policy.rule(d["category"], d["urgency"])
        u = d["urgency"]
        accepted_in_time[u].append(at["accepted"] <= rule.accept)
        closed_in_time[u].append(at["closed"] <= rule.close)
        accept_h[u].append(at["accepted"].total_seconds() / 3600)
        close_h[u].append(at["closed"].total_seconds() / 3600)
        levels[sum(e.type == "escalated" for e in steps)] += 1
    def share(xs):
        return sum(xs) / len(xs)

    def every(by_urgency):
        return [x for v in by_urgency.values() for x in v]

    assert len(closed_in_time["red"]) > 500
    assert share(closed_in_time["red"]) >= 0.85 and share(accepted_in_time["red"]) >= 0.93
    assert 0.92 <= share(every(accepted_in_time)) <= 0.98       # "accepted within 1 day"
    assert 0.88 <= share(every(closed_in_time)) <= 0.95         # "closed within 5 days"
    assert statistics.mean(close_h["red"]) < statistics.mean(close_h["green"]) / 3
    assert statistics.mean(accept_h["red"]) < statistics.mean(accept_h["green"]) / 3
    assert 0 < share(every(closed_in_time)) < 1                  # a tail of late ones
    n = sum(levels.values())
    assert (levels[0] + levels[1]) / n > 0.8                     # 微事不出格、小事不出村
    assert 0.03 < levels[2] / n < 0.15 and 0 < levels[3] / n < 0.05


# --------------------------------------------------------------------------- departments

def test_cases_go_where_the_routing_table_says_a_few_are_routed_on_and_every_result_is_noted(geo):
    sim, _ = offline_sim(geo, seed=11)
    names = {d.name_zh for d in departments().values()}
    assert {x for onward in ONWARD.values() for x in onward} <= names
    reports = one_day_of_reports(sim)
    routed = 0
    for rep in reports:
        d = rep.data
        steps = sim.follow_ups(rep, 1.0)
        kinds = [e.type for e in steps]
        assigned = steps[kinds.index("assigned")]
        assert assigned.data == {"department": propose(d["category"], d["town"])}
        dept = assigned.data["department"]
        for e in steps:
            check_fields(EVENT_TO_ACTION[e.type], e.note, e.data)   # what an operator's must hold
            if e.type == "routed":
                routed += 1
                assert e.data["department"] in ONWARD[d["category"]] and e.data["department"] != dept
                assert e.note and e.data["department"] in e.note
                dept = e.data["department"]
        resolved = steps[kinds.index("resolved")]
        assert resolved.note in RESULT_NOTES.get(d["category"], DEFAULT_RESULT_NOTES)
        assert resolved.actor == dept                          # the department that has the case
    assert len(reports) > 2000
    assert 0.015 < routed / len(reports) < 0.045               # ROUTE_ONWARD_SHARE, 3 %
    # a town's own row wins: pollution in 峰江街道 and the two 滨海 units goes to the ecology
    # bureau, elsewhere to law enforcement
    own_row = {"331004006", "331004400", "331004401"}
    pollution = Counter((r.data["town"] in own_row, sim.follow_ups(r, 1.0)[1].data["department"])
                        for r in reports if r.data["category"] == "environment")
    assert set(pollution) == {(True, "生态环境分局"), (False, "综合行政执法局")}, pollution


# --------------------------------------------------------------------------- storm

@pytest.fixture
def live(r, geo):
    """A simulator on real Redis (no database): reports and heads as the app has them."""
    settings = Settings.from_env({})
    rt = SimpleNamespace(settings=settings, geo=geo, redis=r, store=None,
                         publisher=Publisher(r, settings.stream))
    return Simulator(rt, speed=20, seed=9, backfill_days=0)


def stream_reports(r, stream):
    out = []
    for entry_id, fields in r.xrange(stream):
        ev = decode_entry(entry_id, fields)
        if ev.type == "reported":
            out.append(ev)
    return out


def test_storm_files_a_red_report_in_every_grid_of_the_town_within_seconds(r, geo, live):
    set_storm(r, geo, JINQING, minutes=5)
    t0 = MORNING
    t = t0
    while t <= t0 + 5:
        live.step(t)
        t += 0.25
    storm = [e for e in stream_reports(r, live.rt.settings.stream) if e.data["town"] == JINQING
             and e.data["urgency"] == "red"]
    town_grids = {g.code for g in geo.grids.values() if g.town_code == JINQING}
    assert {e.data["grid"] for e in storm if e.at.timestamp() <= t0 + 5} == town_grids
    assert all(e.data["description"].startswith("【演示】") and e.data["source"] == SOURCE for e in storm)
    assert live.storm_reports >= len(town_grids)
    # Then a high rate of red reports there; and the command room does not keep up: a minute on
    # (sped-up time would have accepted ordinary red cases by then) the storm's cases still wait.
    while t <= t0 + 60:
        live.step(t)
        t += 0.5
    assert live.storm_reports >= len(town_grids) + 15
    storm_ids = {e.incident_id for e in stream_reports(r, live.rt.settings.stream)
                 if e.data["town"] == JINQING and e.data["category"] in ("flood_risk", "production_safety",
                                                                          "fire_hazard", "damaged_facility")
                 and e.data["urgency"] == "red"}
    waiting = sum(r.hget(head_key(i), "s") == b"reported" for i in storm_ids)
    assert waiting >= 0.95 * len(storm_ids)


def test_storm_ends_when_its_key_expires(r, geo, live):
    r.set(STORM_KEY, BINHAI, px=1200)
    t0 = MORNING
    for k in range(21):
        live.step(t0 + k * 0.25)
    first = live.storm_reports
    assert first >= sum(g.town_code == BINHAI for g in geo.grids.values())
    time.sleep(1.3)   # the key's TTL is real time
    for k in range(40):
        live.step(t0 + 6 + k * 0.5)
    assert live._storm_town is None
    assert live.storm_reports - first <= 4   # at most what was due before the poll saw it gone


def test_storm_command_sets_and_stops_the_key(r, redis_url, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "instance"))
    main(["demo", "storm", JINQING, "--minutes", "2"])
    assert r.get(STORM_KEY) == JINQING.encode() and 100 < r.ttl(STORM_KEY) <= 120
    assert "金清镇" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["demo", "storm", "331009999"])
    assert "331009999" in str(exc.value) and "unknown town" in str(exc.value)
    assert r.get(STORM_KEY) == JINQING.encode()
    main(["demo", "storm"])
    assert "金清镇" in capsys.readouterr().out
    main(["demo", "storm", "--stop"])
    assert r.get(STORM_KEY) is None and current_storm(r) is None


def test_storm_setting_is_checked_and_sets_the_key_when_the_simulator_starts(r, geo, live):
    with pytest.raises(ValueError, match="331009999"):
        Simulator(live.rt, storm="331009999")
    sim = Simulator(live.rt, speed=20, seed=2, backfill_days=0, storm=BINHAI, storm_minutes=3)
    sim.stop()
    sim.run()   # stopped at once: sets the key, then the loop ends
    assert r.get(STORM_KEY) == BINHAI.encode() and 170 < r.ttl(STORM_KEY) <= 180
