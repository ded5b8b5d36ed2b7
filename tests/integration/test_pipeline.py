"""The spine: events through the Redis stream into the database, exactly once.

Every test here runs against real Redis and on both SQLite and PostgreSQL.
"""
from __future__ import annotations

import collections
import re
import signal
import subprocess
import sys
import threading
import time
import uuid

import orjson
import pytest
from sqlalchemy import func, select, text
from tcp_proxy import TcpProxy

from dashboard.core.domain import fold
from dashboard.store.incidents import Store
from dashboard.store.models import EventRow, IncidentRow
from dashboard.stream.events import Publisher, encode_event, redis_client
from dashboard.stream.persister import Persister


def wait_for(cond, timeout=60.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class PersisterThread:
    def __init__(self, settings, store=None, name=None):
        self.r = redis_client(settings.redis_url)
        self.store = store or Store.from_url(settings.database_url)
        self.p = Persister(self.r, self.store, settings, name=name)
        self.t = threading.Thread(target=self.p.run, daemon=True)

    def __enter__(self):
        self.t.start()
        return self.p

    def __exit__(self, *exc):
        self.p.stop()
        self.t.join(timeout=15)
        assert not self.t.is_alive(), "persister did not stop"
        self.r.close()


def start_worker(env, name, batch=200):
    return subprocess.Popen([sys.executable, "-m", "dashboard", "worker", "--name", name,
                             "--batch", str(batch)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_worker(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stored_ids(store) -> list:
    with store.engine.connect() as conn:
        return [r[0] for r in conn.execute(select(EventRow.id))]


def assert_projections_match_log(store, events):
    """Each stored incident equals the fold of its own events."""
    by_incident = collections.defaultdict(list)
    for e in events:
        by_incident[e.incident_id].append(e)
    with store.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(IncidentRow))}
    expected = {iid for iid, evs in by_incident.items() if any(e.type == "reported" for e in evs)}
    assert set(rows) == expected
    for iid in expected:
        st = fold(by_incident[iid])
        row = rows[iid]
        assert (row.status, row.level, row.version) == (st.status, st.level, st.version), iid


def test_json_is_stored_as_utf8_text_not_escapes_and_reads_back(store, make_events):
    """Event data and photos lists are UTF-8 text in the database (Chinese as itself, not
    \\uXXXX), and read back as they were written; rows written the old way read the same."""
    events = make_events(40, seed=5)
    for i, e in enumerate(events):
        e.stream_pos = i + 1
    store.store_events(events)
    column = "data::text" if store.dialect == "postgresql" else "data"
    with store.engine.connect() as conn:
        raw = [row[0] for row in conn.execute(text(f"SELECT {column} FROM events"))]
        conn.execute(text("UPDATE events SET data = :old WHERE id = :id"),
                     {"old": '{"note": "\\u6d4b\\u8bd5"}', "id": events[-1].id.hex if store.dialect == "sqlite"
                      else events[-1].id})
        conn.commit()
    assert len(raw) == 40 and all("\\u" not in r for r in raw)
    assert sum(bool(re.search("[\u4e00-\u9fff]", r)) for r in raw) >= 10   # the reports' descriptions
    report = next(e for e in events if e.type == "reported")
    stored = store.get_incident(report.incident_id)
    assert stored["description"] == report.data["description"] and "【演示】" in stored["description"]
    old = next(ev for ev in store.get_incident(events[-1].incident_id)["events"] if ev["id"] == events[-1].id)
    assert old["data"] == {"note": "测试"}   # written with escapes before: the same text


def test_10000_events_stored_exactly_once_and_republish_adds_none(settings, store, r, make_events):
    events = make_events(10_000, seed=11)
    pub = Publisher(r, settings.stream)
    pub.publish_many(events)
    with PersisterThread(settings, store) as p:
        wait_for(lambda: store.count_events() >= 10_000, what="10,000 stored")
        assert store.count_events() == 10_000
        # The same events again (at-least-once delivery, a client retrying): nothing added.
        pub.publish_many(events)
        wait_for(lambda: p.stats.duplicates >= 10_000, what="republished batch processed")
        assert r.xpending(settings.stream, settings.group)["pending"] == 0
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == 10_000
    assert set(ids) == {e.id for e in events}
    assert p.stats.stored == 10_000 and p.stats.dead == 0
    assert_projections_match_log(store, events)


def test_committed_but_not_acked_is_redelivered_without_doubles(settings, store, r, make_events):
    """A crash between the commit and the XACK: the entries come back and change nothing."""
    events = make_events(300, seed=12)
    Publisher(r, settings.stream).publish_many(events)
    rc = redis_client(settings.redis_url)
    p = Persister(rc, store, settings, name="crashy")
    p.ensure_group()
    entries = p._read(">", block=None)
    assert len(entries) == 300
    from dashboard.stream.events import decode_entry
    store.store_events([decode_entry(eid, f) for eid, f in entries])  # committed, never acked
    assert r.xpending(settings.stream, settings.group)["pending"] == 300
    p2 = Persister(rc, store, settings, name="crashy")  # same consumer restarts
    p2.ensure_group()
    while not p2._backlog_done:
        p2.step()
    assert r.xpending(settings.stream, settings.group)["pending"] == 0
    assert store.count_events() == 300
    assert p2.stats.duplicates == 300 and p2.stats.stored == 0
    rc.close()


@pytest.mark.parametrize("restart", ["same-name", "other-name"])
def test_worker_killed_mid_batch_loses_and_doubles_nothing(settings, store, r, make_events,
                                                          subprocess_env, restart):
    events = make_events(10_000, seed=13)
    Publisher(r, settings.stream).publish_many(events)
    proc = start_worker(subprocess_env, "w1", batch=250)
    try:
        wait_for(lambda: store.count_events() >= 2_000, what="first batches stored")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = store.count_events()
    assert before < 10_000, "killed too late to test anything"
    pending = r.xpending(settings.stream, settings.group)
    # The restarted worker finds its own pending entries (same name), or takes them over
    # from the dead consumer with XAUTOCLAIM (another name, after CLAIM_IDLE_MS).
    proc2 = start_worker(subprocess_env, "w1" if restart == "same-name" else "w2", batch=250)
    try:
        wait_for(lambda: store.count_events() >= 10_000, timeout=120, what="all stored after restart")
        wait_for(lambda: r.xpending(settings.stream, settings.group)["pending"] == 0,
                 what="nothing pending")
    finally:
        stop_worker(proc2)
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == 10_000
    assert r.xlen(settings.dead_letter_stream) == 0
    assert_projections_match_log(store, events)
    assert pending["pending"] >= 0  # recorded for the failure message above


def test_two_workers_in_one_group_store_every_event_once(settings, store, r, make_events, subprocess_env):
    events = make_events(10_000, seed=14)
    procs = [start_worker(subprocess_env, f"w{i}", batch=200) for i in (1, 2)]
    try:
        time.sleep(1.0)  # both consumers up before the events arrive, so both get a share
        Publisher(r, settings.stream).publish_many(events)
        wait_for(lambda: store.count_events() >= 10_000, timeout=120, what="all stored")
        wait_for(lambda: r.xpending(settings.stream, settings.group)["pending"] == 0,
                 what="nothing pending")
        consumers = {c["name"].decode(): c for c in r.xinfo_consumers(settings.stream, settings.group)}
    finally:
        for p in procs:
            stop_worker(p)
    ids = stored_ids(store)
    assert len(ids) == len(set(ids)) == 10_000
    assert set(consumers) == {"w1", "w2"}
    assert_projections_match_log(store, events)


def test_poison_entries_go_to_dead_letter_and_the_rest_flow_on(settings, store, r, make_events):
    good = make_events(200, seed=15, follow_ups=False)
    bad_report = encode_event(good[0])
    body = orjson.loads(bad_report[b"e"] if b"e" in bad_report else bad_report["e"])
    body["id"] = str(uuid.uuid4())
    body["incident_id"] = str(uuid.uuid4())
    body["data"]["category"] = "no_such_category"
    nul = dict(body, id=str(uuid.uuid4()), incident_id=str(uuid.uuid4()),
               data=dict(good[1].data, description="火灾隐患\x00截断"))
    pub = Publisher(r, settings.stream)
    pub.publish_many(good[:100])
    r.xadd(settings.stream, {"e": b"{not json"})
    r.xadd(settings.stream, {"something": b"else"})
    r.xadd(settings.stream, {"e": orjson.dumps(body)})
    r.xadd(settings.stream, {"e": orjson.dumps(nul)})  # PostgreSQL refuses NUL in text
    pub.publish_many(good[100:])
    with PersisterThread(settings, store) as p:
        wait_for(lambda: store.count_events() >= 200 and
                 r.xpending(settings.stream, settings.group)["pending"] == 0 and
                 p.stats.batches > 0, what="good entries stored")
        time.sleep(0.3)
    stored = set(stored_ids(store))
    assert {e.id for e in good} <= stored
    dead = r.xrange(settings.dead_letter_stream)
    errors = [f[b"error"].decode() for _, f in dead]
    assert any("not JSON" in e for e in errors)
    assert any("no 'e' field" in e for e in errors)
    assert any("no_such_category" in e for e in errors)
    nul_id = uuid.UUID(nul["id"])
    if store.dialect == "postgresql":
        assert len(dead) == 4 and nul_id not in stored
        assert any("refused when stored" in e for e in errors)
    else:  # SQLite keeps the NUL byte: the event is stored like any other
        assert len(dead) == 3 and nul_id in stored
    # A dead letter keeps the original entry and names where it came from.
    assert all(b"source_id" in f for _, f in dead)
    assert r.xpending(settings.stream, settings.group)["pending"] == 0


def test_redis_restart_while_persister_runs(settings, store, make_events, tmp_path):
    from dashboard.embedded import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "redis", persist=True).start()
    s = settings.with_(redis_url=server.url)
    events = make_events(4_000, seed=16)
    try:
        with PersisterThread(s, store) as p:
            pub_r = redis_client(server.url)
            Publisher(pub_r, s.stream).publish_many(events[:2_000])
            wait_for(lambda: store.count_events() >= 2_000, what="first half stored")
            server.stop()                       # Redis goes away...
            time.sleep(1.5)
            assert p.stats.retries > 0, "the persister should have noticed"
            server.start()                      # ...and comes back on the same port
            Publisher(pub_r, s.stream).publish_many(events[2_000:])
            wait_for(lambda: store.count_events() >= 4_000, what="second half stored")
            pub_r.close()
    finally:
        server.stop()
    assert store.count_events() == 4_000
    assert_projections_match_log(store, events)


def test_database_unreachable_entries_stay_pending_then_stored(settings, store, r, make_events):
    events = make_events(3_000, seed=17)
    pub = Publisher(r, settings.stream)
    if store.dialect == "postgresql":
        # Route the persister through a TCP proxy that the test can cut.
        from sqlalchemy.engine import make_url
        url = make_url(settings.database_url)
        proxy = TcpProxy("127.0.0.1", url.port or 5432).start()
        cut_store = Store.from_url(url.set(host="127.0.0.1", port=proxy.port).render_as_string(False))
        outage, restore = proxy.stop, proxy.start
    else:
        # SQLite has no server: hold the write lock in another connection for the outage.
        import sqlite3
        cut_store = store
        holder = {}

        def outage():
            conn = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            holder["c"] = conn

        def restore():
            holder.pop("c").rollback()
    with PersisterThread(settings, cut_store) as p:
        pub.publish_many(events[:1_000])
        wait_for(lambda: store.count_events() >= 1_000, what="stored before the outage")
        outage()
        pub.publish_many(events[1_000:])
        time.sleep(2.0)
        during = store.count_events() if store.dialect == "postgresql" else 1_000
        pending = r.xpending(settings.stream, settings.group)["pending"]
        assert during == 1_000
        assert pending > 0, "entries should wait, unacknowledged, while the database is away"
        restore()
        wait_for(lambda: store.count_events() >= 3_000, timeout=60, what="stored after the outage")
        wait_for(lambda: r.xpending(settings.stream, settings.group)["pending"] == 0, what="acked")
    assert store.count_events() == 3_000
    assert r.xlen(settings.dead_letter_stream) == 0
    if store.dialect == "postgresql":
        assert p.stats.retries > 0
        proxy.stop()
        cut_store.engine.dispose()
    assert_projections_match_log(store, events)


def test_trim_only_below_what_is_stored(settings, store, r, make_events):
    events = make_events(1_000, seed=18, follow_ups=False)
    s = settings.with_(stream_retention_s=0)
    pub = Publisher(r, s.stream)
    pub.publish_many(events[:600])
    rc = redis_client(s.redis_url)
    p = Persister(rc, store, s, name="trimmer")
    p.ensure_group()
    # Read 600 but store only the first 300; the other 300 stay pending.
    entries = p._read(">", block=None)
    p.handle(entries[:300], redelivered=False)
    pub.publish_many(events[600:])           # 400 more, not read at all
    p.trim()
    remaining = r.xrange(s.stream)
    assert len(remaining) == 700             # 300 pending + 400 unread survive
    assert remaining[0][0] == entries[300][0]
    rc.close()
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(EventRow)).scalar_one() == 300


def test_idle_consumers_without_entries_are_forgotten(settings, store, r, make_events):
    Publisher(r, settings.stream).publish_many(make_events(10, seed=19, follow_ups=False))
    rc = redis_client(settings.redis_url)
    old = Persister(rc, store, settings, name="old-process")
    old.ensure_group()
    old.handle(old._read(">", block=None), redelivered=False)   # owns nothing afterwards
    holder = Persister(rc, store, settings, name="holder")
    Publisher(r, settings.stream).publish_many(make_events(5, seed=20, follow_ups=False))
    holder._read(">", block=None)                                # 5 pending, never acked
    time.sleep(0.3)
    now = Persister(rc, store, settings, name="current")
    assert now.forget_idle_consumers(idle_ms=100) == ["old-process"]
    names = {c["name"].decode() for c in r.xinfo_consumers(settings.stream, settings.group)}
    assert names == {"holder"}
    rc.close()


def test_rebuild_command_refolds_every_projection_from_the_log(settings, store, r, make_events, subprocess_env):
    events = make_events(600, seed=21)
    for i, e in enumerate(events):
        e.stream_pos = i + 1
    store.store_events(events)
    with store.engine.begin() as conn:  # damage the projections: the log must restore them
        conn.execute(IncidentRow.__table__.update().values(status="reported", version=0, level="grid"))
    out = subprocess.run([sys.executable, "-m", "dashboard", "db", "rebuild"], env=subprocess_env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "refolded" in out.stdout
    assert_projections_match_log(store, events)
