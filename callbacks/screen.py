"""Callbacks of the big screen. Thin: read inputs, ask dashboard/, shape components.

* live-tick (1 s): the shared live snapshot -> clustered markers (a URL), pinned red markers,
  grid fills, alarm banner, ticker, open counts, red alerts for the camera wall, and how far
  storing lags. Only what changed is sent; nothing but the heartbeat when nothing did.
* kpi-tick (5 s): KPI cards and resolution levels, from the per-(scope, period) board, with
  their own as-of time; sent only when the figures changed.
* slow-tick (60 s): trend chart and ranking (towns, or a town's villages), with their as-of.
* the camera wall: callbacks/cameras.py.
* clock, connection state and each panel's staleness, alarm sound: in the browser
  (assets/griddash_screen.js), no server work.

Scope: every callback takes the town it shows from the signed-in principal
(``dashboard.core.access.resolve_town``), never from the page's own config store, which only says
what the page asked for; a request for a town outside the principal's scope is refused (403).
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import orjson
import plotly.graph_objects as go
from dash import ALL, Input, Output, State, ctx, html, no_update

from dashboard.core import access
from dashboard.core.access import AccessDenied
from dashboard.core.domain import LEVELS, STATUS_NAMES, URGENCY_STYLE, categories
from dashboard.i18n import pick, t
from dashboard.web.security import require_principal
from layouts import screen as screen_layout
from layouts.components import camera_tile, photo_items, timeline_items

ALERTS_SENT = 50             # red alerts sent to the camera wall's follow queue (most urgent first)
ALARM_SHOWN = 3              # alarms named in the banner (the count says how many more)
STORE_DELAY_SHOWN_S = 30     # the header says so when the database lags the stream this much
RANKING_ROWS = 10            # rows of the ranking panel
TICKER_ROWS = 6              # rows of the ticker: waiting red cases first, then the latest
HIDEOUT_SETTLE_TICKS = 5     # live ticks after page load that always carry the grid colours
HIDEOUT_REPEAT_TICKS = 30    # and then every this many ticks


def _digest(value) -> str:
    return hashlib.blake2b(orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS),
                           digest_size=8).hexdigest()


def _alarm_row(a: dict) -> dict:
    """An alarm in the ticker's row shape."""
    return {"id": a["id"], "reported_at": a["reported_at"], "urgency": "red", "town_code": a["town"],
            "category": a["category"], "description": a["description"]}


def _fmt_duration(seconds: float, lang: str) -> str:
    m, s = divmod(int(seconds), 60)
    if lang == "en":
        return f"{m} min {s} s" if m else f"{s} s"
    return f"{m}分{s:02d}秒" if m else f"{s}秒"


def _fmt_pct(rate):
    return "–" if rate is None else f"{rate * 100:.1f}%"


def _fmt_hours_text(h, lang):
    return "–" if h is None else f"{h:.1f}{t('hours', lang)}"


def _fmt_hours(h, lang):
    if h is None:
        return "–"
    return [f"{h:.1f}", html.Span(t("hours", lang), className="sc-kpi-unit")]


def register(app, services) -> None:
    rt, live, kpis, cams = services.runtime, services.live, services.kpis, services.cameras
    tz = ZoneInfo(rt.settings.timezone)
    geo = rt.geo
    cats = categories()

    def town_name(code, lang):
        row = geo.towns.get(code, {})
        return (row.get("name_en") if lang == "en" else row.get("name")) or code

    def cat_name(code, lang):
        c = cats.get(code)
        return code if c is None else (c.name_en if lang == "en" else c.name_zh)

    # ------------------------------------------------------------------ live
    def grid_label(code):
        g = geo.grids.get(code)
        return g.name if g else code

    def ticker_row(r, lang, pinned=False):
        sym = URGENCY_STYLE[r["urgency"]]["symbol"]
        return html.Div(className=f"sc-tick sc-tick-{r['urgency']}" + (" sc-tick-pinned" if pinned else ""), children=[
            html.Span(r["reported_at"].astimezone(tz).strftime("%H:%M"), className="sc-tick-time"),
            html.Span(sym, className="sc-tick-sym"),
            *([html.Span(t("waiting_mark", lang), className="sc-tick-flag")] if pinned else []),
            html.Span(town_name(r["town_code"], lang), className="sc-tick-town"),
            html.Span(cat_name(r["category"], lang), className="sc-tick-cat"),
            html.Span(r["description"], className="sc-tick-desc"),  # text, escaped by React
        ], **{"data-incident": str(r["id"])})

    def alarm_banner(alarms, lang, now):
        if not alarms:
            return "sc-alarm hidden", []
        items = []
        for a in alarms[:ALARM_SHOWN]:
            waited = int((now - a["reported_at"]).total_seconds() // 60)
            items.append(html.Div(className="sc-alarm-item" + (" sc-alarm-late" if a["overdue"] else ""), children=[
                html.Span(URGENCY_STYLE["red"]["symbol"], className="sc-alarm-sym"),
                html.Span(f"{town_name(a['town'], lang)} · {grid_label(a['grid'])}", className="sc-alarm-where"),
                html.Span(cat_name(a["category"], lang), className="sc-alarm-cat"),
                html.Span(a["reported_at"].astimezone(tz).strftime("%H:%M"), className="sc-alarm-time"),
                html.Span(f"{waited}′" + (f" {t('overdue_mark', lang)}" if a["overdue"] else ""),
                          className="sc-alarm-wait"),
            ], **{"data-incident": a["id"]}))
        more = len(alarms) - ALARM_SHOWN
        head = html.Div([html.Span(f"{t('alarm_title', lang)} {len(alarms)}"),
                         *([html.Span(t("alarm_more", lang).format(n=more), className="sc-alarm-more")]
                           if more > 0 else [])], className="sc-alarm-head")
        return "sc-alarm", [head, *items]

    @app.callback(
        Output("incident-layer", "url"),
        Output("grid-layer", "hideout"),
        Output("alert-layer", "data"),
        Output("incident-ticker", "children"),
        Output("alarm-banner", "className"),
        Output("alarm-banner", "children"),
        Output("kpi-open-red", "children"),
        Output("kpi-open-yellow", "children"),
        Output("kpi-open-green", "children"),
        Output("data-as-of", "children"),
        Output("store-delay", "children"),
        Output("store-delay", "className"),
        Output("live-ok", "data"),
        Output("live-version", "data"),
        Output("red-alerts", "data"),
        Output("pinned-hash", "data"),
        Input("live-tick", "n_intervals"),
        State("screen-config", "data"),
        State("live-version", "data"),
        State("pinned-hash", "data"),
    )
    def refresh(_n, cfg, known_version, known_hash):
        scope, lang = access.resolve_town(require_principal(), cfg["scope"]), cfg["lang"]
        try:
            snap = live.snapshot(scope)
        except Exception:
            return (no_update,) * 16  # no heartbeat: the browser turns the indicator stale
        heartbeat = int(datetime.now(timezone.utc).timestamp() * 1000)
        as_of = snap.as_of.astimezone(tz).strftime("%H:%M:%S")  # when the picture was computed
        hideout = {**screen_layout.URGENCY_HIDEOUT, "fill": snap.grid_fill}
        n = _n or 0
        # A hideout that reaches the grid layer while it is still loading its GeoJSON is lost
        # (dash-leaflet): repeat the full fills during the first seconds and then every half
        # minute, so a freshly opened screen never stays uncoloured.
        resend = n < HIDEOUT_SETTLE_TICKS or n % HIDEOUT_REPEAT_TICKS == 0
        # The database lags the stream (a backlog being stored): say so, the figures are not complete.
        delay = snap.store_delay_s
        delay_text = t("store_delay", lang).format(t=_fmt_duration(delay, lang)) if delay >= STORE_DELAY_SHOWN_S else ""
        delay_cls = "sc-delay" if delay_text else "sc-delay hidden"
        key = f"{snap.version}:{snap.computed_at}"
        if key == known_version:
            return (no_update, hideout if resend else no_update, *(no_update,) * 7, as_of, no_update, no_update,
                    heartbeat, no_update, no_update, no_update)
        digests = {"fill": _digest(snap.grid_fill), "pinned": _digest(snap.pinned["features"]),
                   "alarms": _digest(snap.alarms), "ticker": _digest([r["id"] for r in snap.ticker])}
        known = known_hash or {}
        changed = {k for k, v in digests.items() if known.get(k) != v}
        pinned_ids = {a["id"] for a in snap.alarms}
        ticker = [ticker_row(_alarm_row(a), lang, pinned=True) for a in snap.alarms[:TICKER_ROWS]]
        ticker += [ticker_row(r, lang) for r in snap.ticker if str(r["id"]) not in pinned_ids][:TICKER_ROWS - len(ticker)]
        now = datetime.now(timezone.utc)
        banner_cls, banner = alarm_banner(snap.alarms, lang, now)
        alerts = [{"id": a["id"], "lat": a["lat"], "lon": a["lon"], "town": a["town"], "grid": a["grid"],
                   "category": a["category"], "overdue": a["overdue"],
                   "reported_at": int(a["reported_at"].timestamp() * 1000),
                   "label": f"{cat_name(a['category'], lang)} · {a['description'][:40]}"}
                  for a in snap.alarms[:ALERTS_SENT]]
        c = snap.counts
        return (screen_layout.markers_url(scope, str(snap.markers_rev)),
                hideout if ("fill" in changed or resend) else no_update,
                snap.pinned if "pinned" in changed else no_update,
                ticker if changed & {"alarms", "ticker"} else no_update,
                banner_cls if "alarms" in changed else no_update,
                banner if "alarms" in changed else no_update,
                f"{c['red']:,}", f"{c['yellow']:,}", f"{c['green']:,}", as_of, delay_text, delay_cls, heartbeat,
                key, alerts if "alarms" in changed else no_update, digests)

    # ------------------------------------------------------------------ KPIs
    kpi_outputs = ["kpi-reports-today", "kpi-accepted-1d", "kpi-closed-5d", "kpi-closure-rate", "kpi-overdue",
                   "kpi-mean-close"]

    def as_of_of(k, every_ms):
        at = datetime.fromisoformat(k["data_as_of"])
        return at, {"at": int(at.timestamp() * 1000), "every": every_ms}

    @app.callback(
        *[Output(i, "children") for i in kpi_outputs],
        *[Output(f"{i}-sub", "children") for i in kpi_outputs],
        Output("kpi-levels", "children"),
        Output("kpi-period", "children"),
        Output("kpi-asof-text", "children"),
        Output("kpi-asof", "data"),
        Output("kpi-hash", "data"),
        Input("kpi-tick", "n_intervals"),
        State("screen-config", "data"),
        State("kpi-hash", "data"),
    )
    def refresh_kpis(_n, cfg, known_hash):
        scope, lang, period = access.resolve_town(require_principal(), cfg["scope"]), cfg["lang"], cfg["period"]
        n_out = 2 * len(kpi_outputs) + 5
        try:
            k = kpis.get(scope, period)
        except Exception:
            return (no_update,) * n_out
        # the figures' own refresh interval: the board serves them up to ttl + grace old
        at, asof = as_of_of(k, max(screen_layout.KPI_REFRESH_MS, int((kpis.ttl + kpis.grace) * 1000)))
        asof_text = " · " + t("as_of_short", lang).format(t=at.astimezone(tz).strftime("%H:%M:%S"))
        digest = _digest({key: v for key, v in k.items() if key not in ("data_as_of", "period_end", "computed_at")})
        if digest == known_hash:  # same figures: only the as-of time moves
            return (*(no_update,) * (n_out - 3), asof_text, asof, no_update)
        a1, c5, cr = k["accepted_within_1d"], k["closed_within_5d"], k["closure_rate"]
        values = [f"{k['reports_today']:,}", _fmt_pct(a1["rate"]), _fmt_pct(c5["rate"]), _fmt_pct(cr["rate"]),
                  f"{k['overdue']:,}", _fmt_hours(k["mean_hours_to_close"], lang)]
        still_open = cr.get("open", cr["denominator"] - cr["numerator"])
        subs = [t("year_n", lang).format(n=f"{k['reports_year']:,}"),
                t("pending_n", lang).format(n=f"{a1['pending']:,}"),
                t("pending_n", lang).format(n=f"{c5['pending']:,}"),
                t("open_n", lang).format(n=f"{still_open:,}"),
                t("of_open", lang).format(n=f"{k['open_total']:,}"),
                t("accept_mean", lang).format(h=_fmt_hours_text(k["mean_hours_to_accept"], lang))]
        levels = []
        for lvl in LEVELS:
            share = k["resolution_level"][lvl]["share"]
            pct = 0 if share is None else share * 100
            levels.append(html.Div(className="sc-level", children=[
                html.Span(t(f"level_{lvl}", lang), className="sc-level-name"),
                html.Div(className="sc-level-bar", children=html.Div(
                    className=f"sc-level-fill sc-level-{lvl}", style={"width": f"{pct:.1f}%"})),
                html.Span(_fmt_pct(share), className="sc-level-pct"),
            ]))
        return (*values, *subs, levels, f" · {t('period_' + period, lang)}", asof_text, asof, digest)

    # ------------------------------------------------------------------ trend and ranking
    @app.callback(
        Output("trend-chart", "figure"),
        Output("town-ranking", "children"),
        Output("trend-asof-text", "children"),
        Output("ranking-asof-text", "children"),
        Output("slow-asof", "data"),
        Input("slow-tick", "n_intervals"),
        Input("viewport", "data"),
        State("screen-config", "data"),
    )
    def refresh_slow(_n, viewport, cfg):
        scope, lang, period = access.resolve_town(require_principal(), cfg["scope"]), cfg["lang"], cfg["period"]
        try:
            k = kpis.get(scope, period)
        except Exception:
            return (no_update,) * 5
        at, asof = as_of_of(k, screen_layout.SLOW_REFRESH_MS)
        asof_text = " · " + t("as_of_short", lang).format(t=at.astimezone(tz).strftime("%H:%M:%S"))
        days = k["trend_30d"]
        x = [d["date"] for d in days]
        fig = go.Figure([
            go.Bar(x=x, y=[d["reports"] for d in days], name=t("trend_reports", lang), marker_color="#4c8fd6"),
            go.Scatter(x=x, y=[d["closed"] for d in days], name=t("trend_closed", lang),
                       mode="lines+markers", line={"color": "#f5f5f5", "width": 3},
                       marker={"symbol": "diamond", "size": 8}),
        ])
        # Plotly sizes text in pixels: at least 2 % of the wall's height, like every text on it.
        vh = (viewport or {}).get("height") or 1080
        font = max(12, int(vh * 0.021) + 1)
        fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                          margin={"l": font * 3.2, "r": font * 0.6, "t": font * 0.4, "b": font * 2.2},
                          font={"size": font}, showlegend=True,
                          legend={"orientation": "h", "y": 1.0, "x": 1, "xanchor": "right", "yanchor": "bottom",
                                  "font": {"size": font}},
                          bargap=0.25,
                          xaxis={"type": "date", "tickformat": "%m-%d", "dtick": 7 * 86400000,
                                 "tickfont": {"size": font}},
                          yaxis={"tickfont": {"size": font}, "nticks": 4})
        ranking = k.get("ranking") or {"by": "town", "rows": k.get("town_ranking") or []}
        by_village = ranking.get("by") == "village"
        header = html.Div(className="sc-rank-row sc-rank-head", children=[
            html.Span("#"), html.Span(t("col_village" if by_village else "col_town", lang)),
            html.Span(t("col_reports", lang)), html.Span(t("col_rate", lang)), html.Span(t("col_overdue", lang))])
        rows = [header]
        for i, r in enumerate(ranking["rows"][:RANKING_ROWS], 1):
            name = r.get("name") or r["code"] if by_village else town_name(r["code"], lang)
            rows.append(html.Div(className="sc-rank-row" + (" sc-rank-me" if r["code"] == scope else ""),
                                 children=[html.Span(str(i)), html.Span(name, className="sc-rank-name"),
                                           html.Span(f"{r['reports']:,}"), html.Span(_fmt_pct(r["closure_rate"])),
                                           html.Span(f"{r['overdue']:,}")]))
        return fig, rows, asof_text, asof_text, asof

    # ------------------------------------------------------------------ detail panel
    @app.callback(
        Output("detail-panel", "className"),
        Output("detail-body", "children"),
        Input("incident-layer", "clickData"),
        Input("grid-layer", "clickData"),
        Input("detail-close", "n_clicks"),
        Input({"type": "grid-case", "id": ALL}, "n_clicks"),
        State("screen-config", "data"),
        prevent_initial_call=True,
    )
    def detail(marker, grid, _close, _case_clicks, cfg):
        lang, scope = cfg["lang"], access.resolve_town(require_principal(), cfg["scope"])
        trig = ctx.triggered_id
        if trig == "detail-close":
            return "sc-detail hidden", []
        if isinstance(trig, dict) and trig.get("type") == "grid-case":
            if not ctx.triggered[0]["value"]:
                return no_update, no_update
            body = incident_detail(trig["id"], scope, lang)
        elif trig == "incident-layer" and marker and not marker.get("properties", {}).get("cluster"):
            body = incident_detail(marker["properties"]["id"], scope, lang)
        elif trig == "grid-layer" and grid:
            body = grid_detail(grid["properties"]["code"], scope, lang)
        else:
            return no_update, no_update
        if body is None:
            return "sc-detail hidden", []
        return "sc-detail", body

    def incident_detail(incident_id, scope, lang):
        import uuid
        try:
            inc = rt.store.get_incident(uuid.UUID(str(incident_id)))
        except ValueError:
            return None
        if inc is None:
            return None
        if scope and inc["town_code"] != scope:
            raise AccessDenied("no such case", status=404)
        access.require_case(require_principal(), inc)
        grid = geo.grids.get(inc["grid_code"])
        status = pick(STATUS_NAMES.get(inc["status"], (inc["status"], inc["status"])), lang)
        timeline = timeline_items(inc["events"], tz, lang)
        photos = photo_items(inc["photos"], lang)
        near = cams.nearest(inc["lat"], inc["lon"], k=4, town=scope)
        now = datetime.now(timezone.utc)
        return [
            html.Div(className=f"sc-detail-head sc-u-{inc['urgency']}", children=[
                html.Span(URGENCY_STYLE[inc["urgency"]]["symbol"]), " ",
                cat_name(inc["category"], lang)]),
            html.Div(inc["description"], className="sc-detail-desc"),
            html.Div(className="sc-detail-meta", children=[
                html.Div(f"{t('status', lang)}: {status}"),
                html.Div(f"{town_name(inc['town_code'], lang)} · {grid.name if grid else inc['grid_code']}"),
                html.Div(f"{t('reporter', lang)}: {inc['reporter']} · "
                         f"{inc['reported_at'].astimezone(tz).strftime('%Y-%m-%d %H:%M')}"),
            ]),
            html.Div(t("detail_timeline", lang), className="sc-detail-sub"),
            html.Ul(timeline, className="sc-timeline"),
            *([html.Div(t("detail_photos", lang), className="sc-detail-sub"), html.Div(photos)] if photos else []),
            html.Div(t("detail_cameras", lang), className="sc-detail-sub"),
            html.Div(className="sc-detail-cams", children=[camera_tile(n.camera, cams, now, tz, lang, small=True)
                                                         for n in near]),
        ]

    def grid_detail(grid_code, scope, lang):
        grid = geo.grids.get(grid_code)
        if grid is None:
            return None
        if scope and grid.town_code != scope:
            raise AccessDenied(f"not allowed outside town {scope}")
        cases = rt.store.open_in_grid(grid_code, limit=20)
        items = [html.Li(html.Button(className=f"sc-case sc-u-{c['urgency']}", id={"type": "grid-case",
                                                                                  "id": str(c["id"])},
                                     children=[c["reported_at"].astimezone(tz).strftime("%m-%d %H:%M"), " ",
                                               cat_name(c["category"], lang), " · ", c["description"]]))
                 for c in cases]
        near = cams.nearest(grid.lat, grid.lon, k=4, town=scope)
        now = datetime.now(timezone.utc)
        return [
            html.Div(f"{grid.name}", className="sc-detail-head"),
            html.Div(f"{town_name(grid.town_code, lang)} · {grid.village_name}", className="sc-detail-meta"),
            html.Div(f"{t('detail_open_cases', lang)} ({len(cases)})", className="sc-detail-sub"),
            html.Ul(items, className="sc-timeline") if items else html.Div(t("detail_none", lang)),
            html.Div(t("detail_cameras", lang), className="sc-detail-sub"),
            html.Div(className="sc-detail-cams", children=[camera_tile(n.camera, cams, now, tz, lang, small=True)
                                                         for n in near]),
        ]

    # ------------------------------------------------------------------ browser-side: clock, staleness
    app.clientside_callback(
        "function(_) { return {width: window.innerWidth, height: window.innerHeight}; }",
        Output("viewport", "data"),
        Input("screen-config", "data"),
    )
    app.clientside_callback(
        "function(n, ok, kpi, slow, cfg) { return window.griddash.screen.tick(ok, kpi, slow, cfg); }",
        Output("sc-clock", "children"),
        Output("live-status", "children"),
        Output("live-status", "className"),
        Input("clock-tick", "n_intervals"),
        State("live-ok", "data"),
        State("kpi-asof", "data"),
        State("slow-asof", "data"),
        State("screen-config", "data"),
    )
    app.clientside_callback(
        "function(alerts, cfg) { return window.griddash.screen.alarm(alerts, cfg); }",
        Output("alarm-count", "data"),
        Input("red-alerts", "data"),
        State("screen-config", "data"),
    )
