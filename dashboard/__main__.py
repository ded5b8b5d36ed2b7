"""Command line: ``python -m dashboard <command>``.

  worker               run a persister (any number of them share the consumer group)
  simulate             publish demo reports and follow-ups (DEMO DATA)
  sla                  run the SLA clock (urgency rises near deadlines, overdue cases escalate)
  db upgrade           apply the database migrations
  db rebuild           refold every incident from the event log
  dead list            show the dead-letter stream
  import-geo           install a real grid GeoJSON and camera CSV in place of the demo ones
                       (--reset goes back to the demo data)
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from .config import Settings


def _settings_need_redis(s: Settings) -> None:
    if not s.redis_url:
        sys.exit("REDIS_URL is not set: separate processes need a shared Redis server "
                 "(python app.py runs everything in one process on the embedded default)")


def _run_until_signal(worker) -> None:
    def _stop(_sig, _frm):
        worker.stop()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run()


def cmd_worker(args, s: Settings) -> None:
    from .stream import Persister, redis_client
    from .store import Store
    _settings_need_redis(s)
    if args.batch:
        s = s.with_(batch_size=args.batch)
    p = Persister(redis_client(s.redis_url), Store.from_url(s.effective_database_url), s, name=args.name)
    _run_until_signal(p)


def cmd_simulate(args, s: Settings) -> None:
    from .runtime import Runtime
    from .simulator import Simulator
    _settings_need_redis(s)
    rt = Runtime.start(s.with_(simulate=False, run_persister=False), migrate=False)
    sim = Simulator(rt, speed=args.speed, seed=args.seed, backfill_days=args.backfill_days)
    try:
        _run_until_signal(sim)
    finally:
        rt.close()


def cmd_sla(args, s: Settings) -> None:
    from .runtime import Runtime
    from .sla import SlaPolicy, SlaWatcher
    _settings_need_redis(s)
    rt = Runtime.start(s.with_(simulate=False, run_persister=False, sla_watch=False), migrate=False)
    watcher = SlaWatcher(rt, SlaPolicy.load(auto_escalate=s.sla_auto_escalate), interval=s.sla_interval_s)
    try:
        _run_until_signal(watcher)
    finally:
        rt.close()


def cmd_db(args, s: Settings) -> None:
    from .migrations import upgrade
    from .store import Store
    if args.action == "upgrade":
        s.instance_dir.mkdir(parents=True, exist_ok=True)
        upgrade(s.effective_database_url)
        print("database is at the latest migration")
    elif args.action == "rebuild":
        n = Store.from_url(s.effective_database_url).rebuild_projections()
        print(f"refolded {n} incidents from the event log")


def cmd_dead(args, s: Settings) -> None:
    from .stream import redis_client
    _settings_need_redis(s)
    r = redis_client(s.redis_url)
    for eid, fields in r.xrange(s.dead_letter_stream, count=args.count):
        err = fields.get(b"error", b"").decode(errors="replace")
        src = fields.get(b"source_id", b"").decode()
        print(f"{eid.decode()}  from {src}: {err}")


def cmd_import_geo(args, s: Settings) -> None:
    from .geoimport import import_geo, reset_geo
    try:
        report = reset_geo(s) if args.reset else import_geo(s, grids=args.grids, cameras=args.cameras)
    except ValueError as exc:  # GeoImportError lists every problem found; nothing was written
        sys.exit(f"import-geo: {exc}")
    print(report)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker", help="run a persister")
    w.add_argument("--name", help="consumer name (default: host-pid-random)")
    w.add_argument("--batch", type=int, help="entries per batch (default PERSIST_BATCH or 500)")
    w.set_defaults(fn=cmd_worker)
    sm = sub.add_parser("simulate", help="publish demo reports (DEMO DATA)")
    sm.add_argument("--speed", type=float, default=Settings.from_env().simulator_speed,
                    help="times the district's real report rate (default SIMULATOR_SPEED)")
    sm.add_argument("--seed", type=int)
    sm.add_argument("--backfill-days", type=float, default=0.0,
                    help="first publish this many days of history when the database is empty")
    sm.set_defaults(fn=cmd_simulate)
    sl = sub.add_parser("sla", help="run the SLA clock: urgency rises, overdue cases escalate")
    sl.set_defaults(fn=cmd_sla)
    d = sub.add_parser("db", help="database maintenance")
    d.add_argument("action", choices=["upgrade", "rebuild"])
    d.set_defaults(fn=cmd_db)
    dl = sub.add_parser("dead", help="dead-letter stream")
    dl.add_argument("action", choices=["list"])
    dl.add_argument("--count", type=int, default=50)
    dl.set_defaults(fn=cmd_dead)
    ig = sub.add_parser("import-geo", help="install real grids and cameras")
    ig.add_argument("--grids", help="grid GeoJSON (format: data/README.md)")
    ig.add_argument("--cameras", help="camera CSV (format: data/README.md)")
    ig.add_argument("--reset", action="store_true", help="remove imported files: back to the demo data")
    ig.set_defaults(fn=cmd_import_geo)
    args = ap.parse_args(argv)
    args.fn(args, Settings.from_env())


if __name__ == "__main__":
    main()
