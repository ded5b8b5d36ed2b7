"""Command line: ``python -m dashboard <command>``.

  worker               run a persister (any number of them share the consumer group)
  simulate             publish demo reports and follow-ups (DEMO DATA)
  demo storm TOWN      a demo storm: red reports in every grid of TOWN for --minutes
                       (default 30); --stop ends it; without TOWN: is one under way?
  sla                  run the SLA clock (urgency rises near deadlines, overdue cases escalate)
  db upgrade           apply the database migrations
  db rebuild           refold every incident from the event log
  dead list            show the dead-letter stream
  import-geo           install a real grid GeoJSON and camera CSV in place of the demo ones
                       (--reset goes back to the demo data)
  users add|list|disable|enable|passwd
                       accounts (roles: admin, leader, operator, handler, reporter)
  keys create|list|revoke
                       API keys for phones and systems (--user), kiosk links for screens (--kiosk)
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys

from dashboard.config import Settings, activate
from dashboard.core.access import ACCOUNT_ROLES
from dashboard.core.domain import departments
from dashboard.core.sla import SlaPolicy
from dashboard.demo.simulator import Simulator, current_storm, set_storm, stop_storm
from dashboard.geo.geography import Geography
from dashboard.geo.importer import import_geo, reset_geo
from dashboard.runtime import Runtime
from dashboard.store.accounts import AccountError, Accounts
from dashboard.store.incidents import Store
from dashboard.store.migrations import upgrade
from dashboard.stream.events import redis_client
from dashboard.stream.persister import Persister
from dashboard.workers.sla_watcher import SlaWatcher


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
    _settings_need_redis(s)
    if args.batch:
        s = s.with_(batch_size=args.batch)
    p = Persister(redis_client(s.redis_url), Store.from_url(s.effective_database_url), s, name=args.name)
    _run_until_signal(p)


def cmd_simulate(args, s: Settings) -> None:
    _settings_need_redis(s)
    rt = Runtime.start(s.with_(simulate=False, run_persister=False), migrate=False)
    try:
        sim = Simulator(rt, speed=args.speed, seed=args.seed, backfill_days=args.backfill_days,
                        storm=args.storm, storm_minutes=args.storm_minutes)
    except ValueError as exc:
        rt.close()
        sys.exit(f"simulate: {exc}")
    try:
        _run_until_signal(sim)
    finally:
        rt.close()


def cmd_demo(args, s: Settings) -> None:
    """``demo storm``: sets or clears the Redis key the running simulator watches."""
    url = s.redis_url
    running = s.instance_dir / "redis" / "url"  # written by the embedded Redis of `python app.py`
    if not url and running.exists():
        url = running.read_text(encoding="utf-8").strip()
    if not url:
        sys.exit("demo storm: REDIS_URL is not set and no embedded Redis of `python app.py` runs for "
                 f"{s.instance_dir}; start the app first (or with --storm TOWN), or point REDIS_URL at "
                 "the Redis server the simulator uses")
    r = redis_client(url)
    geo = Geography(s)
    if args.stop:
        print("demo storm stopped" if stop_storm(r) else "no demo storm was under way")
        return
    if not args.town:
        now = current_storm(r)
        if now is None:
            print("no demo storm under way")
        else:
            town, left = now
            print(f"demo storm over {town} {geo.towns.get(town, {}).get('name', '')}, {left / 60:.1f} minutes left")
        return
    try:
        set_storm(r, geo, args.town, args.minutes)
    except ValueError as exc:
        sys.exit(f"demo storm: {exc}")
    print(f"demo storm over {args.town} {geo.towns[args.town].get('name', '')} for {args.minutes:g} minutes "
          f"(a running simulator picks it up within a second)")


def cmd_sla(args, s: Settings) -> None:
    _settings_need_redis(s)
    rt = Runtime.start(s.with_(simulate=False, run_persister=False, sla_watch=False), migrate=False)
    watcher = SlaWatcher(rt, SlaPolicy.load(auto_escalate=s.sla_auto_escalate), interval=s.sla_interval_s)
    try:
        _run_until_signal(watcher)
    finally:
        rt.close()


def cmd_db(args, s: Settings) -> None:
    if args.action == "upgrade":
        s.instance_dir.mkdir(parents=True, exist_ok=True)
        upgrade(s.effective_database_url)
        print("database is at the latest migration")
    elif args.action == "rebuild":
        n = Store.from_url(s.effective_database_url).rebuild_projections()
        print(f"refolded {n} incidents from the event log")


def cmd_dead(args, s: Settings) -> None:
    _settings_need_redis(s)
    r = redis_client(s.redis_url)
    for eid, fields in r.xrange(s.dead_letter_stream, count=args.count):
        err = fields.get(b"error", b"").decode(errors="replace")
        src = fields.get(b"source_id", b"").decode()
        print(f"{eid.decode()}  from {src}: {err}")


def cmd_import_geo(args, s: Settings) -> None:
    try:
        report = reset_geo(s) if args.reset else import_geo(s, grids=args.grids, cameras=args.cameras)
    except ValueError as exc:  # GeoImportError lists every problem found; nothing was written
        sys.exit(f"import-geo: {exc}")
    print(report)


def _accounts(s: Settings):
    return Accounts(Store.from_url(s.effective_database_url).engine, s.secret_key,
                    towns=Geography(s).towns, departments={d.name_zh for d in departments().values()})


def _ask_password(args) -> str:
    import getpass
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        sys.exit("the two passwords differ")
    return first


def cmd_users(args, s: Settings) -> None:
    acc = _accounts(s)
    try:
        if args.action == "add":
            password = None if args.no_password else _ask_password(args)
            uid = acc.add_user(args.username, args.role, password=password, town=args.town,
                               department=args.department, display_name=args.name or "")
            print(f"user {args.username} ({args.role}) added, id {uid}")
        elif args.action == "list":
            for u in acc.list_users():
                state = "disabled" if u["disabled"] else "active"
                print(f"{u['id']:>4}  {u['username']:<20} {u['role']:<9} {u['town'] or '':<10} "
                      f"{u['department'] or '':<14} {state}  {u['display_name']}")
        elif args.action in ("disable", "enable"):
            acc.set_disabled(args.username, args.action == "disable")
            print(f"user {args.username} {args.action}d (signed-in sessions end within seconds)")
        elif args.action == "passwd":
            acc.set_password(args.username, _ask_password(args))
            print(f"password of {args.username} changed")
    except AccountError as exc:
        sys.exit(f"users {args.action}: {exc}")


def cmd_keys(args, s: Settings) -> None:
    acc = _accounts(s)
    try:
        if args.action == "create":
            if args.kiosk:
                town = None if args.town in (None, "", "district") else args.town
                kid, token = acc.create_kiosk(town, name=args.name or "")
                print(f"kiosk link {kid} for {town or 'the district'} (open it once on the wall's browser):")
                print(f"  {args.base_url.rstrip('/')}/kiosk/{token}")
            else:
                if not args.user:
                    sys.exit("keys create: --user NAME (the account the key acts as), or --kiosk")
                kid, key = acc.create_key(args.user, name=args.name or "")
                print(f"API key {kid} for {args.user} (shown once; send it as 'Authorization: Bearer <key>'):")
                print(f"  {key}")
        elif args.action == "list":
            for k in acc.list_keys():
                state = f"revoked {k['revoked_at']:%Y-%m-%d}" if k["revoked_at"] else "active"
                who = k["username"] if k["kind"] == "api" else f"screen {k['town'] or 'district'}"
                print(f"{k['id']:>4}  {k['kind']:<5} {k['prefix']}  {who:<20} {k['name']:<24} {state}")
        elif args.action == "revoke":
            if args.id is None:
                sys.exit("keys revoke: give the key's id (keys list shows them)")
            acc.revoke_key(args.id)
            print(f"key {args.id} revoked")
    except AccountError as exc:
        sys.exit(f"keys {args.action}: {exc}")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    settings = activate(Settings.from_env())
    w = sub.add_parser("worker", help="run a persister")
    w.add_argument("--name", help="consumer name (default: host-pid-random)")
    w.add_argument("--batch", type=int, help="entries per batch (default PERSIST_BATCH or 500)")
    w.set_defaults(fn=cmd_worker)
    sm = sub.add_parser("simulate", help="publish demo reports (DEMO DATA)")
    sm.add_argument("--speed", type=float, default=settings.simulator_speed,
                    help="times the district's real report rate (default SIMULATOR_SPEED)")
    sm.add_argument("--seed", type=int)
    sm.add_argument("--backfill-days", type=float, default=0.0,
                    help="first publish this many days of history when the database is empty")
    sm.add_argument("--storm", default=settings.simulator_storm, metavar="TOWN",
                    help="start with a demo storm over this town code (default SIMULATOR_STORM)")
    sm.add_argument("--storm-minutes", type=float, default=settings.simulator_storm_minutes,
                    help="how long that storm lasts (default SIMULATOR_STORM_MINUTES or 30)")
    sm.set_defaults(fn=cmd_simulate)
    de = sub.add_parser("demo", help="demo effects for a running simulator (DEMO DATA)")
    de_sub = de.add_subparsers(dest="effect", required=True)
    st = de_sub.add_parser("storm", help="red reports in every grid of a town, for some minutes")
    st.add_argument("town", nargs="?", help="town code (data/towns.csv); omit to see the storm under way")
    st.add_argument("--minutes", type=float, default=30.0, help="how long the storm lasts (default 30)")
    st.add_argument("--stop", action="store_true", help="end the storm now")
    st.set_defaults(fn=cmd_demo)
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
    us = sub.add_parser("users", help="accounts: add, list, disable, enable, passwd")
    us.add_argument("action", choices=["add", "list", "disable", "enable", "passwd"])
    us.add_argument("username", nargs="?")
    us.add_argument("--role", choices=ACCOUNT_ROLES)
    us.add_argument("--town", help="town code (operator; a reporter's home town)")
    us.add_argument("--department", help="department name as in data/departments.csv (handler)")
    us.add_argument("--name", help="display name")
    us.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    us.add_argument("--no-password", action="store_true", help="an account that uses API keys only")
    us.set_defaults(fn=cmd_users)
    ks = sub.add_parser("keys", help="API keys and kiosk links: create, list, revoke")
    ks.add_argument("action", choices=["create", "list", "revoke"])
    ks.add_argument("id", nargs="?", type=int, help="key id (revoke)")
    ks.add_argument("--user", help="the account an API key acts as")
    ks.add_argument("--kiosk", action="store_true", help="a read-only big-screen link instead of an API key")
    ks.add_argument("--town", help="kiosk: town code (default: the district)")
    ks.add_argument("--name", help="a label, e.g. the phone or the wall")
    ks.add_argument("--base-url", default="http://127.0.0.1:8050", help="where the app is reached")
    ks.set_defaults(fn=cmd_keys)
    args = ap.parse_args(argv)
    if args.command == "users" and args.action != "list" and not args.username:
        ap.error("users: give a username")
    if args.command == "users" and args.action == "add" and not args.role:
        ap.error("users add: --role is required")
    args.fn(args, settings)

