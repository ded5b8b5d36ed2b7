"""Benchmark of the write path: Redis stream -> Persister -> SQL (SQLite and PostgreSQL).

    .venv/bin/python bench/pipeline.py [--events N] [--rate R] [--duration S] [--repeat K]
                                       [--backends sqlite,postgresql] [--json PATH] [--profile]

For every backend, on fresh tables each time:

1. raw      - the plain SQLAlchemy batched insert of the same rows: N "reported" events and
              their incident rows (each event folded on its own with ``domain.fold``), with
              ``conn.execute(insert(table), rows)`` in batches of 500 (the persister's batch
              size), one transaction per batch. A "row" in rows/s is ONE EVENT TOGETHER WITH
              ITS INCIDENT ROW (two table rows), so it compares directly with events/s.
2. pipeline - all N events are XADDed (pipelined) first; then one Persister runs in a
              separate process and we time from the moment it is told to go until
              ``store.count_events()`` (polled every 20 ms) reaches N.
              Ratio = median pipeline events/s / median raw rows/s, target >= 0.5.
   raw and pipeline are run ``--repeat`` times, interleaved, and the medians are used: the
   machine may be shared. Besides wall time, CPU time per event is measured (client process
   + its PostgreSQL backends; SQLite runs in the client) - it is much less sensitive to other
   load on the machine, and its ratio is printed as "cpu ratio" (information only).
3. latency  - a publisher thread XADDs one event at a time at a fixed rate (default 1,000/s
              for 10 s) and notes the time of each XADD; the persister (separate process,
              already idle on XREADGROUP BLOCK) stores them. Two figures per event:
                * "ack" (used for PASS/FAIL, p95 <= 250 ms): the first time a poller thread
                  (1 ms sleep + a MULTI round trip: ~2 ms apart in practice; Redis only, no
                  load on the database) sees the entry below the
                  group's acknowledged frontier. The persister XACKs right after the commit,
                  so this is commit time + the XACK round trip + up to one poll interval:
                  an upper bound of the time the event became visible in SQL.
                * "rec": ``events.recorded_at`` read after the run. ``store_events`` takes it
                  BEFORE the insert transaction, so this is a lower bound: it misses the
                  insert, refold, upsert and commit of the batch.

The persister process is this script re-run with ``--_worker``: it builds exactly what
``python -m dashboard worker`` builds (``Persister(redis_client(url), Store.from_url(url),
settings)``) but on a bench-specific stream/group, which the CLI cannot take.

Isolation and clean-up: Redis keys only in the DB of ``--redis-url`` (default db 14) and only
the bench stream, its dead-letter stream and ``live:version`` (the persister bumps it);
PostgreSQL in a database ``bench_pipeline`` created and dropped by the run; SQLite in a
temporary directory removed at the end; the worker process is stopped (and stops by itself
if the bench process dies: it watches its stdin).
"""
from __future__ import annotations

import argparse
import bisect
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STREAM = "bench:pipeline:events"
DEAD_STREAM = "bench:pipeline:dead"
GROUP = "bench-persist"
WORKER_NAME = "bench-worker"
BATCH = 500  # Settings.batch_size default, what the persister reads and stores at once
PG_DB = "bench_pipeline"
TARGET_RATIO = 0.5
TARGET_P95_MS = 250.0

try:
    import psutil
except ImportError:  # CPU figures are optional
    psutil = None


# ============================================================================ worker process

def worker_main(cfg: dict) -> None:
    """The persister process: what ``python -m dashboard worker`` runs, on the bench stream."""
    import logging
    logging.basicConfig(level=logging.WARNING, format="worker %(levelname)s %(name)s: %(message)s")
    from dashboard.config import Settings
    from dashboard.store.incidents import Store
    from dashboard.stream.events import redis_client
    from dashboard.stream.persister import Persister

    s = Settings.from_env({}).with_(redis_url=cfg["redis_url"], database_url=cfg["database_url"],
                                    stream=STREAM, dead_letter_stream=DEAD_STREAM, group=GROUP,
                                    batch_size=cfg["batch"])
    store = Store.from_url(s.effective_database_url)
    store.ping()  # open the pooled connection before the clock starts
    r = redis_client(s.redis_url)
    r.ping()
    p = Persister(r, store, s, name=WORKER_NAME)
    signal.signal(signal.SIGTERM, lambda *_: p.stop())
    signal.signal(signal.SIGINT, lambda *_: p.stop())
    _emit("READY")
    if sys.stdin.readline().strip() != "GO":
        return

    def watchdog() -> None:  # the bench process went away (stdin closed): stop too
        sys.stdin.read()
        p.stop()
    threading.Thread(target=watchdog, daemon=True).start()
    prof = None
    if cfg.get("profile"):
        import cProfile
        prof = cProfile.Profile()
        prof.enable()
    p.run()
    if prof is not None:
        prof.disable()
        prof.dump_stats(cfg["profile"])
    st = p.stats
    _emit("STATS " + json.dumps({"batches": st.batches, "stored": st.stored, "dead": st.dead,
                                 "duplicates": st.duplicates, "retries": st.retries,
                                 "last_error": st.last_error}))


def _emit(line: str) -> None:
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError):  # the bench process is gone
        pass


class Worker:
    """A persister in a child process: wait_ready() after start, go() lets it run."""

    def __init__(self, redis_url: str, database_url: str, profile: str | None = None):
        cfg = {"redis_url": redis_url, "database_url": with_app_name(database_url, WORKER_NAME),
               "batch": BATCH, "profile": profile}
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--_worker", json.dumps(cfg)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
        self.stats: dict = {}

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"worker exited with {self.proc.wait()}")
            if line.strip() == "READY":
                return
        raise RuntimeError("worker did not get ready")

    def go(self) -> None:
        self.proc.stdin.write("GO\n")
        self.proc.stdin.flush()

    def cpu(self) -> float:
        if psutil is None:
            return float("nan")
        try:
            t = psutil.Process(self.proc.pid).cpu_times()
            return t.user + t.system
        except psutil.Error:
            return float("nan")

    def stop(self, timeout: float = 15) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                out, _ = self.proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                out, _ = self.proc.communicate()
        else:
            out = self.proc.stdout.read()
        for line in (out or "").splitlines():
            if line.startswith("STATS "):
                self.stats = json.loads(line[6:])
        return self.stats


# ============================================================================ helpers

def with_app_name(url: str, name: str) -> str:
    """Tag PostgreSQL connections so that their backends' CPU time can be found."""
    if not url.startswith("postgresql"):
        return url
    return url + ("&" if "?" in url else "?") + f"application_name={name}"


def pg_backend_cpu(store, app: str) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend serving ``application_name = app``."""
    if store.dialect != "postgresql" or psutil is None:
        return {}
    from sqlalchemy import text
    with store.engine.connect() as conn:
        pids = [row[0] for row in conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                 "AND application_name = :a"), {"a": app})]
    out = {}
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()  # same host: the bench needs a local server
            out[pid] = t.user + t.system
        except psutil.Error:
            pass
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def pct(sorted_vals: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def summary_ms(values_s: list[float]) -> dict:
    v = sorted(x * 1000 for x in values_s)
    return {"n": len(v), "p50": pct(v, 50), "p95": pct(v, 95), "p99": pct(v, 99),
            "max": v[-1] if v else float("nan"), "mean": sum(v) / len(v) if v else float("nan")}


def make_events(n: int, seed: int = 7):
    """``n`` realistic "reported" events, made by the simulator (same path as the API)."""
    from dashboard.config import Settings
    from dashboard.demo.simulator import Simulator
    from dashboard.geo.geography import Geography
    settings = Settings.from_env({})
    rt = SimpleNamespace(settings=settings, geo=Geography(settings))
    sim = Simulator(rt, seed=seed, backfill_days=0)
    start = datetime.now(timezone.utc) - timedelta(days=2)
    return [sim.make_report(start + timedelta(seconds=i * 0.5)) for i in range(n)]


def fresh_tables(store) -> None:
    store.drop_all()
    store.create_all()


def delete_bench_keys(r) -> None:
    from dashboard.stream.events import LIVE_VERSION_KEY
    r.delete(STREAM, DEAD_STREAM, LIVE_VERSION_KEY)


# ============================================================================ 1. raw insert

def bench_raw(store, events) -> dict:
    from sqlalchemy import insert

    from dashboard.core.domain import fold
    from dashboard.store.incidents import _STATE_FIELDS, now_utc
    from dashboard.store.models import EventRow, IncidentRow

    fresh_tables(store)
    ev_t, inc_t = EventRow.__table__, IncidentRow.__table__
    now = now_utc()
    ev_rows, inc_rows = [], []
    for i, e in enumerate(events):
        ev_rows.append({"id": e.id, "incident_id": e.incident_id, "type": e.type, "at": e.at,
                        "actor": e.actor, "note": e.note, "data": e.data, "stream_pos": i + 1,
                        "recorded_at": now})
        st = fold([e])
        row = {k: getattr(st, k) for k in _STATE_FIELDS}
        row["updated_at"] = now
        inc_rows.append(row)
    store.ping()
    srv0 = pg_backend_cpu(store, "bench-main")
    c0 = time.process_time()
    t0 = time.perf_counter()
    for i in range(0, len(ev_rows), BATCH):
        with store.engine.begin() as conn:  # one transaction per batch, like the persister
            conn.execute(insert(ev_t), ev_rows[i:i + BATCH])
            conn.execute(insert(inc_t), inc_rows[i:i + BATCH])
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    srv = cpu_delta(srv0, pg_backend_cpu(store, "bench-main"))
    n_ev, n_inc = store.count_events(), store.count_incidents()
    assert n_ev == len(events) and n_inc == len(events), (n_ev, n_inc)
    n = len(events)
    return {"events": n, "seconds": dt, "rows_per_s": n / dt,
            "cpu_us_per_event": (cpu + srv) / n * 1e6, "client_cpu_s": cpu, "server_cpu_s": srv}


# ============================================================================ 2. pipeline

def bench_pipeline(store, r, redis_url, db_url, events, profile: str | None = None) -> dict:
    from dashboard.stream.events import Publisher
    fresh_tables(store)
    delete_bench_keys(r)
    t0 = time.perf_counter()
    Publisher(r, STREAM).publish_many(events, chunk=1000)
    xadd_s = time.perf_counter() - t0
    n = len(events)
    w = Worker(redis_url, db_url, profile)
    try:
        w.wait_ready()
        srv0, wc0 = pg_backend_cpu(store, WORKER_NAME), w.cpu()
        t_start = time.perf_counter()
        w.go()
        count, deadline = 0, time.time() + max(120, n / 50)
        while count < n:
            if w.proc.poll() is not None:
                raise RuntimeError("worker died")
            if time.time() > deadline:
                raise RuntimeError(f"pipeline stored only {count}/{n}")
            time.sleep(0.02)
            count = store.count_events()
        dt = time.perf_counter() - t_start
        wcpu = w.cpu() - wc0
        srv = cpu_delta(srv0, pg_backend_cpu(store, WORKER_NAME))
    finally:
        stats = w.stop()
    n_inc = store.count_incidents()
    assert n_inc == n, (n_inc, n)
    delete_bench_keys(r)
    return {"events": n, "seconds": dt, "events_per_s": n / dt, "xadd_seconds": xadd_s,
            "cpu_us_per_event": (wcpu + srv) / n * 1e6, "worker_cpu_s": wcpu,
            "server_cpu_s": srv, "incidents": n_inc, "worker": stats}


# ============================================================================ 3. latency

class FrontierPoller(threading.Thread):
    """Notes when the group's acknowledged frontier moves: every entry at or below it is
    stored (one consumer, in stream order: frontier = just below the oldest pending entry,
    or the last delivered id when nothing is pending). Redis only; 1 ms sleep between polls."""

    def __init__(self, r, interval: float = 0.001):
        super().__init__(daemon=True)
        self.r = r
        self.interval = interval
        self.times: list[float] = []
        self.fronts: list[int] = []
        self.polls = 0
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        from dashboard.stream.events import stream_pos
        last = -1
        pipe = self.r.pipeline(transaction=True)  # MULTI: both answers from one instant
        while not self._halt.is_set():
            pipe.xinfo_groups(STREAM)
            pipe.xpending(STREAM, GROUP)
            try:
                groups, pend = pipe.execute()
            except Exception:  # group not there yet
                pipe.reset()
                time.sleep(self.interval)
                continue
            now = time.time()
            self.polls += 1
            g = next((g for g in groups if g["name"] in (GROUP, GROUP.encode())), None)
            if g is not None:
                if pend["pending"]:
                    front = stream_pos(pend["min"]) - 1
                else:
                    front = stream_pos(g["last-delivered-id"])
                if front > last:
                    last = front
                    self.times.append(now)
                    self.fronts.append(front)
            time.sleep(self.interval)

    def acked_at(self, pos: int) -> float | None:
        i = bisect.bisect_left(self.fronts, pos)
        return self.times[i] if i < len(self.times) else None


def bench_latency(store, r, redis_url, db_url, events, rate: float, duration: float) -> dict:
    from sqlalchemy import select

    from dashboard.store.models import EventRow
    from dashboard.stream.events import encode_event, stream_pos

    fresh_tables(store)
    delete_bench_keys(r)
    m = int(rate * duration)
    events = events[:m]
    payloads = [encode_event(e) for e in events]
    xadd_at: list[float] = [0.0] * m
    pos: list[int] = [0] * m
    w = Worker(redis_url, db_url)
    poller = FrontierPoller(r)
    try:
        w.wait_ready()
        w.go()
        deadline = time.time() + 10
        while time.time() < deadline:  # the persister made the group and is idle on BLOCK
            try:
                if any(c["name"] in (WORKER_NAME, WORKER_NAME.encode())
                       for c in r.xinfo_consumers(STREAM, GROUP)):
                    break
            except Exception:
                pass
            time.sleep(0.05)
        time.sleep(0.5)
        poller.start()

        def publish() -> None:
            t0 = time.time()
            for i, p in enumerate(payloads):
                d = t0 + i / rate - time.time()
                if d > 0:
                    time.sleep(d)
                xadd_at[i] = time.time()  # before the XADD: its round trip counts
                pos[i] = stream_pos(r.xadd(STREAM, p))

        pub = threading.Thread(target=publish, daemon=True)
        srv0, wc0 = pg_backend_cpu(store, WORKER_NAME), w.cpu()
        t_pub = time.time()
        pub.start()
        pub.join()
        pub_s = time.time() - t_pub
        deadline = time.time() + 120
        while store.count_events() < m:
            if time.time() > deadline or w.proc.poll() is not None:
                raise RuntimeError("latency run did not store every event")
            time.sleep(0.05)
        busy_s = time.time() - t_pub
        wcpu = w.cpu() - wc0
        srv = cpu_delta(srv0, pg_backend_cpu(store, WORKER_NAME))
        time.sleep(0.05)
    finally:
        poller.stop()
        stats = w.stop()
        if poller.is_alive():
            poller.join(timeout=5)
    ev_t = EventRow.__table__
    with store.engine.connect() as conn:
        rec = {row.id: row.recorded_at for row in conn.execute(select(ev_t.c.id, ev_t.c.recorded_at))}
    rec_lat = [rec[e.id].timestamp() - xadd_at[i] for i, e in enumerate(events)]
    ack_lat, missing = [], 0
    for i in range(m):
        t = poller.acked_at(pos[i])
        if t is None:
            missing += 1
        else:
            ack_lat.append(t - xadd_at[i])
    delete_bench_keys(r)
    return {"events": m, "target_rate": rate, "achieved_rate": m / pub_s, "seconds": pub_s,
            "persister_core_share": (wcpu + srv) / busy_s, "worker_cpu_s": wcpu,
            "server_cpu_s": srv,
            "ack_ms": summary_ms(ack_lat), "recorded_at_ms": summary_ms(rec_lat),
            "ack_missing": missing, "poller_polls": poller.polls,
            "transactions": len(set(rec.values())), "worker": stats}


# ============================================================================ backends

class PgDatabase:
    """``bench_pipeline`` created on the server of ``base_url`` and dropped afterwards."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        head, _, _ = base_url.partition("?")[0].rpartition("/")
        self.url = f"{head}/{PG_DB}"

    def _admin(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(self.base_url, autocommit=True) as c:
            c.execute(sql)

    def create(self) -> str:
        self._admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")  # a crashed run's
        self._admin(f"CREATE DATABASE {PG_DB}")
        return self.url

    def drop(self) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")

    def version(self) -> str:
        import psycopg
        with psycopg.connect(self.base_url) as c:
            return c.execute("SHOW server_version").fetchone()[0]


def run_backend(name: str, args, r, events, tmpdir: Path) -> dict:
    from dashboard.store.incidents import Store
    pg = None
    if name == "sqlite":
        url = f"sqlite:///{tmpdir / 'bench.sqlite3'}"
        version = sqlite3.sqlite_version
    elif name == "postgresql":
        pg = PgDatabase(args.pg_url)
        version = pg.version().split()[0]
        url = pg.create()
    else:
        raise SystemExit(f"unknown backend {name}")
    store = Store.from_url(with_app_name(url, "bench-main"))
    n_events = events[:args.events]
    out: dict = {"backend": name, "version": version, "raw_runs": [], "pipeline_runs": []}
    try:
        for k in range(args.repeat):
            raw = bench_raw(store, n_events)
            out["raw_runs"].append(raw)
            print(f"[{name}] run {k + 1}/{args.repeat}: raw {raw['rows_per_s']:,.0f} rows/s, "
                  f"{raw['cpu_us_per_event']:.0f} cpu-us/event", flush=True)
            pipe = bench_pipeline(store, r, args.redis_url, url, n_events)
            out["pipeline_runs"].append(pipe)
            print(f"[{name}] run {k + 1}/{args.repeat}: pipeline {pipe['events_per_s']:,.0f} "
                  f"events/s, {pipe['cpu_us_per_event']:.0f} cpu-us/event "
                  f"({pipe['worker'].get('batches', '?')} batches)", flush=True)
        med = statistics.median
        out["raw"] = {"rows_per_s": med(x["rows_per_s"] for x in out["raw_runs"]),
                      "cpu_us_per_event": med(x["cpu_us_per_event"] for x in out["raw_runs"])}
        out["pipeline"] = {"events_per_s": med(x["events_per_s"] for x in out["pipeline_runs"]),
                           "cpu_us_per_event": med(x["cpu_us_per_event"]
                                                   for x in out["pipeline_runs"])}
        out["ratio"] = out["pipeline"]["events_per_s"] / out["raw"]["rows_per_s"]
        out["cpu_ratio"] = out["raw"]["cpu_us_per_event"] / out["pipeline"]["cpu_us_per_event"]
        out["ratio_pass"] = out["ratio"] >= TARGET_RATIO
        if args.profile:  # a separate, unmeasured run: cProfile slows the worker ~1.5x
            prof = str(tmpdir / f"worker-{name}.prof")
            print(f"[{name}] pipeline again under cProfile (not counted) ...", flush=True)
            bench_pipeline(store, r, args.redis_url, url, n_events, prof)
            out["profile_top"] = profile_top(prof)
            print(out["profile_top"], flush=True)
        print(f"[{name}] latency at {args.rate:g} events/s for {args.duration:g} s ...", flush=True)
        out["latency"] = bench_latency(store, r, args.redis_url, url, events, args.rate, args.duration)
        out["latency_pass"] = out["latency"]["ack_ms"]["p95"] <= TARGET_P95_MS
        print(f"[{name}]   ack p95 {out['latency']['ack_ms']['p95']:.1f} ms", flush=True)
        if out["latency"]["ack_missing"]:  # acknowledged after the poller stopped
            out["latency_pass"] = False
            print(f"[{name}]   {out['latency']['ack_missing']} events never seen acknowledged",
                  flush=True)
    finally:
        try:
            store.drop_all()
        finally:
            store.engine.dispose()
            if pg is not None:
                pg.drop()
    return out


def profile_top(path: str, n: int = 30) -> str:
    import io
    import pstats
    buf = io.StringIO()
    st = pstats.Stats(path, stream=buf)
    st.sort_stats("cumulative").print_stats(n)
    st.sort_stats("tottime").print_stats(15)
    return buf.getvalue()


# ============================================================================ report

def print_report(results: list[dict], cond: dict) -> None:
    print()
    print("Conditions: " + ", ".join(f"{k}={v}" for k, v in cond.items()))
    print(f"raw: plain SQLAlchemy insert(table) executemany, {BATCH} per batch, 1 transaction "
          "per batch; 1 row = 1 event + its incident row")
    print("pipeline: N entries XADDed first, one Persister process, GO -> count_events()==N")
    print("raw and pipeline: median of the repeats; cpu = client/worker + its PG backends")
    print("latency ack: XADD -> entry seen acknowledged (XACK follows the COMMIT; upper bound, "
          "polled every ~2 ms); rec: XADD -> events.recorded_at (taken BEFORE the transaction; "
          "lower bound)")
    print()
    hdr = (f"{'backend':<11}{'raw rows/s':>11}{'pipe ev/s':>10}{'ratio':>7}{'>=0.5':>6}"
           f"{'cpu ratio':>10}{'ack p50':>8}{'p95':>7}{'p99':>7}{'max':>7}"
           f"{'rec p50':>8}{'rec p95':>8}{'p95<=250':>9}")
    print(hdr)
    print("-" * len(hdr))
    for res in results:
        lat, rec = res["latency"]["ack_ms"], res["latency"]["recorded_at_ms"]
        print(f"{res['backend']:<11}{res['raw']['rows_per_s']:>11,.0f}"
              f"{res['pipeline']['events_per_s']:>10,.0f}{res['ratio']:>7.2f}"
              f"{'PASS' if res['ratio_pass'] else 'FAIL':>6}{res['cpu_ratio']:>10.2f}"
              f"{lat['p50']:>8.1f}{lat['p95']:>7.1f}{lat['p99']:>7.1f}{lat['max']:>7.1f}"
              f"{rec['p50']:>8.1f}{rec['p95']:>8.1f}"
              f"{'PASS' if res['latency_pass'] else 'FAIL':>9}")
    print("(latencies in ms)")
    for res in results:
        l = res["latency"]
        raws = ", ".join(f"{x['rows_per_s']:,.0f}" for x in res["raw_runs"])
        pipes = ", ".join(f"{x['events_per_s']:,.0f}" for x in res["pipeline_runs"])
        print(f"{res['backend']}: raw runs [{raws}] rows/s, "
              f"{res['raw']['cpu_us_per_event']:.0f} cpu-us/event; pipeline runs [{pipes}] "
              f"events/s, {res['pipeline']['cpu_us_per_event']:.0f} cpu-us/event; latency run "
              f"{l['events']} events at {l['achieved_rate']:,.0f}/s in {l['transactions']} "
              f"transactions, persister busy {l['persister_core_share']:.0%} of a core "
              f"(worker, + its PG backend), {l['poller_polls'] / l['seconds']:,.0f} ack polls/s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000, help="events for raw and pipeline (20000)")
    ap.add_argument("--rate", type=float, default=1000.0, help="latency run: events/s (1000)")
    ap.add_argument("--duration", type=float, default=10.0, help="latency run: seconds (10)")
    ap.add_argument("--repeat", type=int, default=3, help="raw+pipeline repeats, median (3)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test",
                    help="an existing database on a LOCAL server; the bench creates and drops "
                         + PG_DB + " next to it")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile the persister in one extra, unmeasured pipeline run")
    ap.add_argument("--_worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._worker:
        worker_main(json.loads(args._worker))
        return 0

    import redis as redis_mod
    import sqlalchemy

    from dashboard.stream.events import redis_client
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    r = redis_client(args.redis_url)
    load0 = os.getloadavg()
    cond = {"cores": os.cpu_count(), "python": platform.python_version(), "N": args.events,
            "repeat": args.repeat, "rate": args.rate, "duration_s": args.duration,
            "batch": BATCH, "redis": r.info("server")["redis_version"],
            "redis_url": args.redis_url, "sqlalchemy": sqlalchemy.__version__,
            "redis_py": redis_mod.__version__}
    t0 = time.time()
    m = max(args.events, int(args.rate * args.duration))
    print(f"making {m} simulated 'reported' events ...", flush=True)
    events = make_events(m)
    print(f"  {time.time() - t0:.1f} s", flush=True)
    tmpdir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    results = []
    try:
        for b in backends:
            res = run_backend(b, args, r, events, tmpdir)
            cond[b] = res["version"]
            results.append(res)
    finally:
        delete_bench_keys(r)
        shutil.rmtree(tmpdir, ignore_errors=True)
    cond["loadavg_1m_start_end"] = f"{load0[0]:.2f}/{os.getloadavg()[0]:.2f}"
    cond["started"] = datetime.fromtimestamp(t0, timezone.utc).isoformat(timespec="seconds")
    cond["wall_s"] = round(time.time() - t0, 1)
    print_report(results, cond)
    if args.json:
        Path(args.json).write_text(json.dumps({"conditions": cond, "results": results},
                                              indent=2, default=str), encoding="utf-8")
        print(f"figures written to {args.json}")
    ok = all(res["ratio_pass"] and res["latency_pass"] for res in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
