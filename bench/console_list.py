"""The console's list at district scale: one page, its total and the "n new" count, in SQL.

    .venv/bin/python bench/console_list.py                       # 300,000 cases, both backends
    .venv/bin/python bench/console_list.py --cases 1630000 --backends postgresql

Fills a fresh database with ``--cases`` incident rows spread over a year the way the district's
are (about 4,470 a day at full size; cases older than a week nearly all closed; categories,
grids and urgencies from the demo simulator), then times each query the console makes
(``Store.case_page`` / ``count_cases``, median of ``--repeat`` runs) against a **baseline measured
in the same run**: reading the open cases' list columns into Python, what a list filtered and
sorted in the browser or in Python would need. Prints milliseconds and the ratio to the
baseline; the target: every query of the list of open cases (the default) costs less than the
baseline (ratio < 1). A search over every status is shown without a target: it reads every
case's description (no text index yet). Exit status 0 only if every target holds.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert, select, text  # noqa: E402

from dashboard.config import Settings  # noqa: E402
from dashboard.core.domain import OPEN_STATUSES, categories  # noqa: E402
from dashboard.core.sla import default_policy  # noqa: E402
from dashboard.geo.geography import Geography  # noqa: E402
from dashboard.store.incidents import CaseQuery, Store
from dashboard.store.models import IncidentRow  # noqa: E402

DEPTS = ["综合行政执法局", "司法调解中心", "市场监管分局", "住建局", "消防救援大队", "公安分局"]
WORDS = ["占道经营", "垃圾堆放", "违章搭建", "邻里纠纷", "电线老化", "路面破损", "噪音扰民", "污水外溢"]


def fill(store: Store, n: int, now: datetime, seed: int = 1) -> None:
    rnd = random.Random(seed)
    geo = Geography(Settings.from_env({}))
    grids = list(geo.grids.values())
    cats = list(categories().values())
    t = IncidentRow.__table__
    batch = []
    for i in range(n):
        age = timedelta(days=365 * (i / n) ** 1.0, seconds=rnd.randrange(86400))
        reported = now - age
        g = rnd.choice(grids)
        c = rnd.choice(cats)
        urgency = c.urgency if rnd.random() < 0.8 else rnd.choice(["red", "yellow", "green"])
        if age > timedelta(days=7):
            status = "closed" if rnd.random() < 0.985 else rnd.choice(OPEN_STATUSES)
        else:
            status = rnd.choice(["reported", "accepted", "assigned", "in_progress", "resolved", "closed", "closed"])
        accepted = None if status == "reported" else reported + timedelta(minutes=rnd.randrange(5, 600))
        closed = reported + timedelta(hours=rnd.randrange(2, 100)) if status == "closed" else None
        batch.append({
            "id": uuid.UUID(int=rnd.getrandbits(128), version=4), "reported_at": reported,
            "town_code": g.town_code, "village_code": g.village_code, "grid_code": g.code, "category": c.code,
            "platform": c.platform, "description": f"{rnd.choice(WORDS)}（演示）{i}", "lat": g.lat, "lon": g.lon,
            "reporter": f"网格员{rnd.randrange(953)}", "base_urgency": urgency, "urgency": urgency, "photos": [],
            "source": "demo", "submitted_by": None, "status": status, "accepted_at": accepted,
            "assigned_at": accepted, "resolved_at": closed, "closed_at": closed,
            "department": rnd.choice(DEPTS) if accepted else None, "handler": None, "level": "grid",
            "resolved_level": None, "supervised_count": 0, "version": 1, "last_event_at": reported,
            "updated_at": closed or accepted or reported})
        if len(batch) == 10000:
            with store.engine.begin() as conn:
                conn.execute(insert(t), batch)
            batch = []
    if batch:
        with store.engine.begin() as conn:
            conn.execute(insert(t), batch)
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE incidents"))
    else:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def timed(fn, repeat: int) -> float:
    fn()  # warm
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs) * 1000


def run(store: Store, repeat: int, now: datetime) -> list[tuple[str, float, float, float]]:
    windows = default_policy().windows(categories())
    t = IncidentRow.__table__
    open_q = CaseQuery(statuses=tuple(OPEN_STATUSES), until=now)
    some = store.case_page(open_q, limit=1)[0][0]

    def baseline():
        cols = [t.c[c] for c in ("id", "reported_at", "town_code", "grid_code", "category", "description",
                                 "reporter", "urgency", "status", "department", "accepted_at")]
        with store.engine.connect() as conn:
            return conn.execute(select(*cols).where(t.c.status.in_(OPEN_STATUSES))).all()

    base = timed(baseline, repeat)
    every = CaseQuery(until=now)
    cases = [
        ("default list, first page", 1.0, lambda: store.case_page(open_q, limit=100, windows=windows, now=now)),
        ("page 20 (rows 2,000-2,099)", 1.0, lambda: store.case_page(open_q, offset=2000, limit=100)),
        ("sorted by urgency", 1.0, lambda: store.case_page(open_q, sort=[("urgency", True)], limit=100)),
        ("sorted by deadline", 1.0, lambda: store.case_page(open_q, sort=[("due", False)], limit=100,
                                                             windows=windows, now=now)),
        ("overdue only", 1.0, lambda: store.case_page(CaseQuery(statuses=tuple(OPEN_STATUSES), overdue=True,
                                                                until=now), limit=100, windows=windows, now=now)),
        ("search a word (open)", 1.0, lambda: store.case_page(CaseQuery(statuses=tuple(OPEN_STATUSES),
                                                                        text="垃圾", until=now), limit=100)),
        ("case number prefix (open)", 1.0, lambda: store.case_page(CaseQuery(statuses=tuple(OPEN_STATUSES),
                                                                             text=some["id"].hex[:8], until=now))),
        ('"n new" count', 1.0, lambda: store.count_cases(CaseQuery(statuses=tuple(OPEN_STATUSES),
                                                                   after=now - timedelta(seconds=30)))),
        ("search a word, every status", None, lambda: store.case_page(CaseQuery(text="垃圾", until=every.until),
                                                                     limit=100)),
    ]
    return [(name, timed(fn, repeat), base, target) for name, target, fn in cases]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=300_000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    now = datetime.now(timezone.utc)
    ok = True
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            if backend == "sqlite":
                url = f"sqlite:///{tmp}/bench.db"
            else:
                admin = create_engine(args.pg_url.replace("postgresql://", "postgresql+psycopg://", 1),
                                      isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text("DROP DATABASE IF EXISTS bench_console"))
                    conn.execute(text("CREATE DATABASE bench_console"))
                url = args.pg_url.rsplit("/", 1)[0] + "/bench_console"
            store = Store.from_url(url)
            store.create_all()
            t0 = time.perf_counter()
            fill(store, args.cases, now)
            print(f"\n{backend}: {args.cases:,} cases filled in {time.perf_counter() - t0:.0f} s; "
                  f"{store.count_cases(CaseQuery(statuses=tuple(OPEN_STATUSES))):,} open")
            rows = run(store, args.repeat, now)
            print(f"{'query':34} {'ms':>8} {'ratio':>7}  target   (baseline: the open cases read into Python, "
                  f"{rows[0][2]:.0f} ms)")
            for name, ms, base, target in rows:
                if target is None:
                    print(f"{name:34} {ms:8.1f} {ms / base:7.3f}  (no target)")
                    continue
                good = ms / base < target
                ok &= good
                print(f"{name:34} {ms:8.1f} {ms / base:7.3f}  < {target:<5} {'ok' if good else 'MISSED'}")
            store.engine.dispose()
            if backend != "sqlite":
                with admin.connect() as conn:
                    conn.execute(text("DROP DATABASE IF EXISTS bench_console"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
