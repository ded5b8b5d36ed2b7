"""The leaders' view: district → town → grid drill-down over the cases, with filters.

No Dash here: the page (layouts/leaders.py, callbacks/leaders.py) and the exports
(dashboard/web/leaders.py) both go through these functions.

* ``parse_query`` reads the filters from a URL's query (tolerant: unknown values are dropped);
  ``Filters.query_string`` writes them back, so a view is a link that can be shared.
* ``scoped`` applies the signed-in principal's scope (``dashboard.core.access``): the server decides
  which town may be shown, whatever the URL asks; it raises ``AccessDenied`` (403 another
  town's data, 404 an unknown town or grid).
* ``compute_view`` answers every figure of the page for one selection from one database
  snapshot; ``view_for`` = scope + a short cache keyed by the principal's scope and filters.
* ``export_table`` gives the rows of the export; ``safe_cell`` keeps any cell from being read
  as a spreadsheet formula; ``to_csv`` / ``to_xlsx`` write them.

The figures follow docs/kpis.md and are counted by the same SQL aggregates as
``dashboard.queries.kpis`` (``dashboard.queries.figures``) with the selection's conditions
(grid, categories, urgencies, statuses): reports of the period, closed now, closure rate,
accepted within 1 day and closed within 5 days (on time ÷ (on time + late), pending cases in
neither), and overdue = open cases *now*, whatever the period, past their SLA deadline.
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Mapping
from urllib.parse import parse_qs, urlencode
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import select

from dashboard.cache import SharedCache
from dashboard.core import access, metrics
from dashboard.core.access import AccessDenied, Principal
from dashboard.core.domain import OPEN_STATUSES, STATUS_NAMES, URGENCY_STYLE, categories
from dashboard.i18n import pick
from dashboard.i18n.leaders import tl
from dashboard.queries import figures
from dashboard.queries.figures import snapshot
from dashboard.store.incidents import Store
from dashboard.store.models import IncidentRow

log = logging.getLogger(__name__)
PERIODS = metrics.PERIODS
DEFAULT_PERIOD = "7d"
DEFAULT_MIN_CASES = 5
MAX_MIN_CASES = 10_000
TABLE_LIMIT = 500          # rows of the page's case table
EXPORT_LIMIT = 50_000      # rows of one export
URGENCIES = tuple(URGENCY_STYLE)  # red, yellow, green
# Status filter tokens: two groups, then every status code ("closed" is both).
STATUS_GROUPS = {"open": OPEN_STATUSES, "closed": ("closed",)}
STATUS_TOKENS = ("open", "closed", *OPEN_STATUSES)
CACHE_TTL_S = 10.0


# --------------------------------------------------------------------------- filters

@dataclass(frozen=True)
class Filters:
    """One selection. Tuples are normalised (known values, fixed order), so equal selections
    are equal keys."""
    town: str | None = None
    grid: str | None = None
    period: str = DEFAULT_PERIOD
    categories: tuple[str, ...] = ()
    urgencies: tuple[str, ...] = ()
    status: tuple[str, ...] = ()      # tokens as in the URL: "open", "closed", status codes
    min_cases: int = DEFAULT_MIN_CASES

    @property
    def statuses(self) -> tuple[str, ...]:
        """The status codes the status filter stands for (empty: any status)."""
        codes: set[str] = set()
        for token in self.status:
            codes.update(STATUS_GROUPS.get(token, (token,)))
        return tuple(s for s in STATUS_NAMES if s in codes)

    @property
    def level(self) -> str:
        return "grid" if self.grid else "town" if self.town else "district"

    def query(self, lang: str = "zh", **changes) -> dict[str, str]:
        """The URL query of this selection (with ``changes`` applied), defaults left out."""
        f = replace(self, **changes) if changes else self
        q = {}
        if f.town:
            q["town"] = f.town
        if f.grid:
            q["grid"] = f.grid
        q["period"] = f.period
        for key, values in (("category", f.categories), ("urgency", f.urgencies), ("status", f.status)):
            if values:
                q[key] = ",".join(values)
        if f.min_cases != DEFAULT_MIN_CASES:
            q["min"] = str(f.min_cases)
        if lang == "en":
            q["lang"] = "en"
        return q

    def query_string(self, lang: str = "zh", **changes) -> str:
        return "?" + urlencode(self.query(lang, **changes), safe=",")


def _pick_values(raw: str | None, allowed) -> tuple[str, ...]:
    wanted = {v.strip() for v in (raw or "").split(",")}
    return tuple(v for v in allowed if v in wanted)


def _code(raw: str | None) -> str | None:
    raw = (raw or "").strip()
    return None if raw in ("", "district") else raw[:64]


def parse_query(query: Mapping[str, str | None]) -> Filters:
    """Filters from a URL's query parameters (single strings). Unknown periods, categories,
    urgencies and statuses are dropped; town and grid are checked by ``scoped``."""
    period = query.get("period") or DEFAULT_PERIOD
    try:
        min_cases = int(float(str(query.get("min") or DEFAULT_MIN_CASES).strip()))
    except (ValueError, OverflowError):
        min_cases = DEFAULT_MIN_CASES
    return Filters(
        town=_code(query.get("town")),
        grid=_code(query.get("grid")),
        period=period if period in PERIODS else DEFAULT_PERIOD,
        categories=_pick_values(query.get("category"), categories()),
        urgencies=_pick_values(query.get("urgency"), URGENCIES),
        status=_pick_values(query.get("status"), STATUS_TOKENS),
        min_cases=max(1, min(MAX_MIN_CASES, min_cases)),
    )


def query_of(search: str | None) -> dict[str, str]:
    """A URL's ``?a=1&b=2`` as single strings (the last of a repeated parameter)."""
    return {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}


def with_controls(f: Filters, *, period, categories, urgencies, status, min_cases) -> Filters:
    """``f`` (its town and grid) with the values of the page's filter controls, checked like
    a URL's."""
    def joined(values):
        return ",".join(v for v in (values or []) if isinstance(v, str))
    q = {"town": f.town, "grid": f.grid, "period": period if isinstance(period, str) else None,
         "category": joined(categories), "urgency": joined(urgencies), "status": joined(status),
         "min": None if min_cases is None else str(min_cases)}
    return parse_query(q)


def scoped(p: Principal, f: Filters, geo) -> Filters:
    """The selection this principal gets: town (and grid) checked against the principal's
    scope, taken from the session on the server. A town-bound principal asking for the
    district gets its town; asking for another town, or a grid of another town, is denied
    (403); an unknown town or grid, or a grid outside the town asked for, is 404."""
    if not access.may_open(p, "leaders"):
        raise AccessDenied(f"role {p.role} may not open the leaders' view")
    grid = None
    if f.grid is not None:
        grid = geo.grids.get(f.grid)
        if grid is None:
            access.resolve_town(p, f.town)  # another town's operator learns nothing more
            raise AccessDenied(f"unknown grid {f.grid}", status=404)
        access.resolve_town(p, grid.town_code)
        if f.town is not None and f.town != grid.town_code:
            access.resolve_town(p, f.town)
            raise AccessDenied(f"grid {f.grid} is not in town {f.town}", status=404)
    town = access.resolve_town(p, f.town or (grid.town_code if grid else None))
    if town is not None and town not in geo.towns:
        raise AccessDenied(f"unknown town {town}", status=404)
    return replace(f, town=town, grid=grid.code if grid else None)


# --------------------------------------------------------------------------- names

def town_name(geo, code: str | None, lang: str) -> str:
    if code is None:
        return tl("district", lang)
    row = geo.towns.get(code) or {}
    return (row.get("name_en") if lang == "en" else row.get("name")) or code


def grid_name(geo, code: str) -> str:
    g = geo.grids.get(code)
    return g.name if g else code


def category_name(code: str, lang: str) -> str:
    c = categories().get(code)
    return code if c is None else (c.name_en if lang == "en" else c.name_zh)


def urgency_name(code: str, lang: str) -> str:
    return tl(f"legend_{code}", lang) if code in URGENCY_STYLE else code


def status_name(code: str, lang: str) -> str:
    return pick(STATUS_NAMES.get(code, (code, code)), lang)


def status_token_name(token: str, lang: str) -> str:
    return tl("status_open", lang) if token == "open" else status_name(token, lang)


def scope_label(geo, f: Filters, lang: str) -> str:
    """全区 / 金清镇 / 金清镇 · 某某村第1网格."""
    if f.grid:
        return f"{town_name(geo, f.town, lang)} · {grid_name(geo, f.grid)}"
    return town_name(geo, f.town, lang)


# --------------------------------------------------------------------------- queries

def conditions(f: Filters) -> list:
    """SQL conditions of the selection (scope and filters; not the period)."""
    t = IncidentRow.__table__
    conds = []
    if f.town:
        conds.append(t.c.town_code == f.town)
    if f.grid:
        conds.append(t.c.grid_code == f.grid)
    if f.categories:
        conds.append(t.c.category.in_(f.categories))
    if f.urgencies:
        conds.append(t.c.urgency.in_(f.urgencies))
    if f.statuses:
        conds.append(t.c.status.in_(f.statuses))
    return conds


CASE_COLUMNS = ("id", "reported_at", "town_code", "grid_code", "category", "urgency", "status",
                "reporter", "accepted_at", "closed_at", "description")


def case_rows(conn, f: Filters, start: datetime, end: datetime, limit: int, *, stream: bool = False):
    """The selection's cases, newest first, at most ``limit``: a list, or with ``stream`` an
    iterator that fetches them in batches (a server-side cursor on PostgreSQL)."""
    t = IncidentRow.__table__
    q = (select(*[t.c[c] for c in CASE_COLUMNS])
         .where(t.c.reported_at >= start, t.c.reported_at <= end, *conditions(f))
         .order_by(t.c.reported_at.desc(), t.c.id).limit(limit))
    if stream:
        return (dict(r) for r in conn.execution_options(yield_per=STREAM_BATCH).execute(q).mappings())
    return [dict(r) for r in conn.execute(q).mappings()]


STREAM_BATCH = 2000  # rows per fetch of a streamed selection


# --------------------------------------------------------------------------- the view

@dataclass
class View:
    """Everything the page shows for one selection (codes, not names: names are the page's)."""
    filters: Filters
    as_of: datetime
    period_start: datetime
    period_end: datetime
    timezone: str
    kpis: dict
    trend_unit: str                       # "hour" (period today) or "day"
    trend: list[dict]                     # {"start": local datetime, "reports", "closed"}
    ranking: list[dict] | None            # the level below: code, reports, closed, closure_rate, overdue
    workers: list[dict]                   # reporter, grid, reports, closed, closure_rate
    total: int                            # cases of the selection
    cases: list[dict] = field(default_factory=list)  # the newest TABLE_LIMIT of them

    @property
    def truncated(self) -> bool:
        return self.total > len(self.cases)


def trend_buckets(period: str, start: datetime, end: datetime, zone: ZoneInfo) -> tuple[str, list[datetime]]:
    """("hour" | "day", bucket starts as UTC instants): local hours of today for ``today``,
    else the local days from the period's first to its last. The first bucket begins at the
    local hour/day that contains ``start``."""
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if period == "today":
        first = local_start.replace(minute=0, second=0, microsecond=0)
        hours = int((local_end - first).total_seconds() // 3600) + 1
        return "hour", [(first + timedelta(hours=i)).astimezone(timezone.utc) for i in range(hours)]
    days: list[date] = []
    d = local_start.date()
    while d <= local_end.date():
        days.append(d)
        d += timedelta(days=1)
    return "day", [metrics.local_midnight(d, zone) for d in days]


def _ranking_units(f: Filters, geo) -> list[str] | None:
    """The codes of the level below the selection: every town of the district, every grid
    of the town; None for a grid."""
    if f.grid:
        return None
    if f.town:
        return [g.code for g in geo.grids.values() if g.town_code == f.town]
    return list(geo.towns)


def compute_view(store: Store, f: Filters, *, now: datetime, tz: str, geo,
                 table_limit: int = TABLE_LIMIT) -> View:
    """Every figure of the page for an already scoped selection, as of ``now`` (aware): SQL
    aggregates (``dashboard.queries.figures``, the same queries as ``compute_kpis``) with the
    selection's conditions, and the newest ``table_limit`` cases for the table."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    zone = ZoneInfo(tz)
    now = now.astimezone(timezone.utc)
    start, end = metrics.period_bounds(f.period, now, zone)
    t = IncidentRow.__table__
    conds = conditions(f)
    unit_col = t.c.grid_code if f.town else t.c.town_code
    unit, bucket_starts = trend_buckets(f.period, start, end, zone)
    with snapshot(store) as conn:
        p = figures.period_tally(conn, conds, start, end, now, unit_col)
        o = figures.open_tally(conn, conds, now, unit_col)
        reports = figures.reports_by_bucket(conn, conds, bucket_starts, end, now, since=start)
        closures = figures.closures_by_bucket(conn, conds, bucket_starts, end, since=start)
        by_reporter = figures.reports_by_reporter(conn, conds, start, end)
        cases = case_rows(conn, f, start, end, table_limit) if table_limit else []

    kpis = {
        "reports_in_period": p.reports,
        "closed": p.closed,
        "closure_rate": {"numerator": p.closed, "denominator": p.reports,
                         "rate": metrics.ratio(p.closed, p.reports), "open": p.reports - p.closed},
        "accepted_within_1d": metrics.window(p.accept),
        "closed_within_5d": metrics.window(p.close),
        "open_total": o.total,
        "overdue": o.overdue,
    }
    return View(
        filters=f, as_of=now, period_start=start, period_end=end, timezone=tz, kpis=kpis,
        trend_unit=unit,
        trend=[{"start": b.astimezone(zone), "reports": reports[i][0], "closed": closures[i]}
               for i, b in enumerate(bucket_starts)],
        ranking=_ranking(_ranking_units(f, geo), p.by_unit, o.overdue_by_unit),
        workers=_workers(by_reporter, f.min_cases),
        total=p.reports, cases=cases,
    )


def _ranking(units: list[str] | None, by_unit: dict[str, list[int]],
             overdue_by_unit: dict[str, int]) -> list[dict] | None:
    """The level below by reports (most first), then closure rate, then code; units without
    reports last, by code. Units with cases but not in ``units`` are listed too."""
    if units is None:
        return None
    rows = []
    for code in dict.fromkeys([*units, *by_unit, *overdue_by_unit]):
        reports, closed = by_unit.get(code, (0, 0))
        rows.append({"code": code, "reports": reports, "closed": closed,
                     "closure_rate": metrics.ratio(closed, reports),
                     "overdue": overdue_by_unit.get(code, 0)})
    rows.sort(key=lambda r: (-r["reports"], -(r["closure_rate"] or 0.0), r["code"]))
    return rows


def _workers(by_reporter: list[tuple], min_cases: int) -> list[dict]:
    """Grid workers (the report's ``reporter``) with at least ``min_cases`` reports in the
    selection, most reports first; ``grid`` is where they reported most (the higher code on
    a tie). ``by_reporter``: (reporter, grid, reports, closed) from the database."""
    if not by_reporter:
        return []
    df = pd.DataFrame(by_reporter, columns=["reporter", "grid", "reports", "closed"])
    totals = df.groupby("reporter")[["reports", "closed"]].sum()
    top_grid = df.sort_values(["reports", "grid"]).groupby("reporter")["grid"].last()
    totals = totals[totals["reports"] >= min_cases].join(top_grid)
    rows = [{"reporter": name, "reports": int(r.reports), "closed": int(r.closed),
             "closure_rate": metrics.ratio(int(r.closed), int(r.reports)), "grid": r.grid}
            for name, r in totals.iterrows()]
    rows.sort(key=lambda r: (-r["reports"], -(r["closure_rate"] or 0.0), r["reporter"]))
    return rows


# --------------------------------------------------------------------------- cache

_caches: "weakref.WeakKeyDictionary[Store, SharedCache[View]]" = weakref.WeakKeyDictionary()


def cache_of(store: Store) -> SharedCache:
    """Views for ``CACHE_TTL_S`` seconds, shared by the viewers of the same selection. The key
    always holds the principal's ``scope_key`` next to the (scoped) filters: two principals
    share a cached view only when they may see the same data."""
    cache = _caches.get(store)
    if cache is None:
        cache = _caches.setdefault(store, SharedCache(CACHE_TTL_S, maxsize=256))
    return cache


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def view_for(rt, p: Principal, f: Filters, *, now: datetime | None = None) -> View:
    """The page's view for principal ``p`` (from the session): scope applied, then cached by
    the principal's scope and the filters. Raises ``AccessDenied``."""
    f = scoped(p, f, rt.geo)
    return cache_of(rt.store).get((p.scope_key, f), lambda: compute_view(
        rt.store, f, now=now or _now(), tz=rt.settings.timezone, geo=rt.geo))


# --------------------------------------------------------------------------- export

@dataclass(frozen=True)
class Refusal:
    """Why a page gets no view: 401 (nobody signed in), 403 / 404 (``AccessDenied``), 503 (the
    database is away; the next refresh tries again). ``message`` is the server's, for the log."""
    status: int
    message: str = ""


def page_view(rt, p: Principal | None, f: Filters) -> "View | Refusal":
    """``view_for`` for a page: the view, or a ``Refusal`` instead of an exception."""
    if p is None:
        return Refusal(401, "sign in")
    try:
        return view_for(rt, p, f)
    except AccessDenied as exc:
        return Refusal(exc.status, exc.message)
    except Exception:  # the database is away: say so, the next refresh tries again
        log.exception("leaders' view failed")
        return Refusal(503)
