"""The command-room big screen: urgency map, camera wall, closure KPIs, trend, ranking, ticker.

Sized in viewport units so that one layout fills a 16:9 wall at 1920×1080 and at 3840×2160
with no scrolling. Element ids listed in STABLE_IDS are a public interface (kiosk
customisation, integration tests): keep them.
"""
from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html
from dash_extensions.javascript import Namespace

from dashboard.core.domain import URGENCY_STYLE
from dashboard.i18n import t
from layouts.components import user_bar

ns = Namespace("griddash", "map")

STABLE_IDS = ("grid-map", "camera-wall", "incident-ticker", "kpi-reports-today", "kpi-accepted-1d",
              "kpi-closed-5d", "kpi-closure-rate", "kpi-overdue", "kpi-open-red", "data-as-of")

# The wall's default period: long enough that "accepted within 1 day" and "closed within 5
# days" judge mostly cases whose deadlines have passed (on "today" they are 100 % by
# construction). ``?period=`` chooses another (dashboard.queries.kpis.PERIODS).
DEFAULT_PERIOD = "30d"
KPI_REFRESH_MS = 5_000     # the KPI cards and levels
SLOW_REFRESH_MS = 60_000   # the trend chart and the ranking

URGENCY_HIDEOUT = {
    "colors": {k[0]: v["color"] for k, v in URGENCY_STYLE.items()},
    "shapes": {k[0]: v["shape"] for k, v in URGENCY_STYLE.items()},
}

# (element id, text key, css class): the KPI cards, in reading order (3 × 3). The coloured
# cards carry their urgency's symbol too, so they read without colour.
KPI_CARDS = [
    ("kpi-reports-today", "kpi_reports_today", ""),
    ("kpi-accepted-1d", "kpi_accepted_1d", ""),
    ("kpi-closed-5d", "kpi_closed_5d", ""),
    ("kpi-closure-rate", "kpi_closure_rate", ""),
    ("kpi-overdue", "kpi_overdue", "sc-alert"),
    ("kpi-mean-close", "kpi_mean_close", ""),
    ("kpi-open-red", "kpi_open_red", "sc-red"),
    ("kpi-open-yellow", "kpi_open_yellow", "sc-yellow"),
    ("kpi-open-green", "kpi_open_green", "sc-green"),
]
KPI_SYMBOL = {**{f"sc-{u}": s["symbol"] + " " for u, s in URGENCY_STYLE.items()}, "sc-alert": "◎ "}


def markers_url(scope: str | None, version: str) -> str:
    """The map's markers are fetched by URL: served from one pre-compressed copy per change
    instead of being serialised into every viewer's callback response."""
    return f"/api/v1/live/markers.geojson?v={version}&layer=clustered" + (f"&town={scope}" if scope else "")


def kpi_card(el_id: str, label: str, cls: str):
    return html.Div(className=f"sc-kpi {cls}", children=[
        html.Div([html.Span(KPI_SYMBOL[cls], className="sc-kpi-sym"), label] if cls in KPI_SYMBOL else label,
                 className="sc-kpi-label"),
        html.Div("–", id=el_id, className="sc-kpi-value"),
        html.Div("", id=f"{el_id}-sub", className="sc-kpi-sub"),
    ])


def legend(lang: str):
    """What the symbols and the grid fills mean, in words (the fill rule: dashboard/core/wall.py)."""
    items = [(u[0], s["symbol"], f"legend_{u}") for u, s in URGENCY_STYLE.items()]
    return html.Div(className="sc-legend", id="map-legend", children=[
        html.Div(className="sc-legend-row", children=[
            *[html.Span([html.Span(sym, className=f"sc-sym sc-sym-{k}"), t(key, lang)]) for k, sym, key in items],
            html.Span([html.Span("◎", className="sc-sym sc-sym-late"), t("legend_overdue", lang)]),
        ]),
        *[html.Div(className="sc-legend-row", children=[html.Span(className=f"sc-swatch sc-swatch-{k}"),
                                                        t(f"legend_fill_{k}", lang)]) for k in ("r", "y", "g")],
    ])


def panel_title(text: str, *, asof_id: str | None = None, extra=None, stale_id: str | None = None):
    """A panel's title with its own "as of" time and a note the browser fills when it is stale."""
    children = [html.Span(text)]
    if extra is not None:
        children.append(extra)
    if asof_id:
        children.append(html.Span("", id=asof_id, className="sc-asof-tag"))
    if stale_id:
        children.append(html.Span("", id=stale_id, className="sc-stale-note"))
    return html.Div(children, className="sc-panel-title")


def screen_layout(*, scope: str | None, scope_name: str, bounds, lang: str, wall: int,
                  tile_url: str | None, tile_attribution: str, town_labels: dict,
                  refresh_ms: int, period: str, tz: str, principal=None, sound: bool = False):
    (minlon, minlat, maxlon, maxlat) = bounds
    other = "zh" if lang == "en" else "en"
    texts = {k: t(k, lang) for k in ("live", "stale", "connecting", "revoked", "revoked_note", "stale_note",
                                      "stale_since")}
    if principal is None or principal.kind != "kiosk":  # a person's session ended, not a wall's link
        texts.update(revoked=t("signed_out", lang), revoked_note=t("signed_out_note", lang))
    header = html.Div(className="sc-header", children=[
        html.Div(className="sc-title", children=[
            html.Span(t("title", lang)),
            html.Span(f" · {scope_name}", className="sc-scope"),
        ]),
        html.Span(t("demo_badge", lang), className="sc-badge", title=t("demo_note", lang)),
        html.Span(className="sc-spacer"),
        html.Span(id="sc-clock", className="sc-clock"),
        html.Span(className="sc-asof", children=[t("data_as_of", lang), " ", html.Span("–", id="data-as-of")]),
        html.Span("", id="store-delay", className="sc-delay hidden"),
        html.Span(t("connecting", lang), id="live-status", className="sc-status connecting"),
        html.A(t("switch_lang", lang), href=f"?lang={other}&wall={wall}&period={period}" + ("&sound=1" if sound else ""),
               className="sc-lang",
               id="lang-switch"),
        user_bar(principal, lang),
    ])
    layers = []
    if tile_url:
        layers.append(dl.TileLayer(url=tile_url, attribution=tile_attribution, maxZoom=18))
    layers += [
        dl.GeoJSON(id="grid-layer", url="/api/v1/geo/grids.geojson", style=ns("gridStyle"),
                   hideout={**URGENCY_HIDEOUT, "fill": {}}),
        dl.GeoJSON(id="town-layer", url="/api/v1/geo/towns.geojson", style=ns("townStyle"),
                   interactive=False),
        dl.GeoJSON(id="town-labels", data=town_labels, pointToLayer=ns("labelToLayer"), interactive=False),
        dl.GeoJSON(id="incident-layer", url=markers_url(scope, "0"),
                   cluster=True, zoomToBoundsOnClick=True,
                   superClusterOptions={"radius": 80, "maxZoom": 14},
                   pointToLayer=ns("pointToLayer"), clusterToLayer=ns("clusterToLayer"),
                   hideout=URGENCY_HIDEOUT),
        # Red cases that wait for acceptance or are overdue: never clustered, above the clusters.
        dl.GeoJSON(id="alert-layer", data={"type": "FeatureCollection", "features": []},
                   pointToLayer=ns("alertToLayer"), hideout=URGENCY_HIDEOUT),
    ]
    the_map = dl.Map(id="grid-map", className="sc-map", children=layers,
                     bounds=[[minlat, minlon], [maxlat, maxlon]], zoomSnap=0.25,
                     attributionControl=bool(tile_url), zoomControl=False, trackViewport=False)
    detail = html.Div(id="detail-panel", className="sc-detail hidden", children=[
        html.Button("×", id="detail-close", className="sc-detail-close", title=t("close", lang)),
        html.Div(id="detail-body"),
    ])
    alarm = html.Div(id="alarm-banner", className="sc-alarm hidden", role="alert")
    left = html.Div(className="sc-col sc-left", children=[
        html.Div(className="sc-kpis", id="panel-kpis", children=[kpi_card(i, t(k, lang), c) for i, k, c in KPI_CARDS]),
        html.Div(className="sc-panel sc-levels-panel", id="panel-levels", children=[
            panel_title(t("levels_title", lang), extra=html.Span(id="kpi-period", className="sc-period"),
                        asof_id="kpi-asof-text", stale_id="kpi-stale-note"),
            html.Div(id="kpi-levels", className="sc-levels"),
        ]),
        html.Div(className="sc-panel sc-ranking-panel", id="panel-ranking", children=[
            panel_title(t("ranking_title_village" if scope else "ranking_title", lang),
                        extra=html.Span(f" · {t('period_' + period, lang)}", className="sc-period"),
                        asof_id="ranking-asof-text", stale_id="ranking-stale-note"),
            html.Div(id="town-ranking", className="sc-ranking"),
        ]),
    ])
    center = html.Div(className="sc-col sc-center", children=[
        html.Div(className="sc-map-wrap", id="panel-map", children=[the_map, alarm, legend(lang), detail]),
        html.Div(className="sc-panel sc-ticker-panel", id="panel-ticker", children=[
            panel_title(t("ticker_title", lang), stale_id="ticker-stale-note"),
            html.Div(id="incident-ticker", className="sc-ticker"),
        ]),
    ])
    right = html.Div(className="sc-col sc-right", children=[
        html.Div(className="sc-panel sc-wall-panel", id="panel-cameras", children=[
            panel_title(t("cameras_title", lang), extra=html.Span(id="camera-mode", className="sc-cam-mode")),
            html.Div(id="camera-wall", className=f"sc-wall sc-wall-{wall}"),
        ]),
        html.Div(className="sc-panel sc-trend-panel", id="panel-trend", children=[
            panel_title(t("trend_title", lang), asof_id="trend-asof-text", stale_id="trend-stale-note"),
            dcc.Graph(id="trend-chart", className="sc-trend", config={"displayModeBar": False,
                                                                     "staticPlot": True},
                      style={"height": "100%", "width": "100%"}),
        ]),
    ])
    return html.Div(className="sc-root", id="screen-root", children=[
        header,
        html.Div(className="sc-body", children=[left, center, right]),
        html.Div(id="wall-notice", className="sc-notice hidden"),
        dcc.Store(id="screen-config", data={"scope": scope, "lang": lang, "wall": wall, "period": period,
                                            "tz": tz, "sound": sound, "texts": texts}),
        dcc.Store(id="live-version"),
        dcc.Store(id="viewport"),
        dcc.Store(id="live-ok"),
        dcc.Store(id="kpi-hash"),
        dcc.Store(id="kpi-asof"),
        dcc.Store(id="slow-asof"),
        dcc.Store(id="pinned-hash"),
        dcc.Store(id="follow"),
        dcc.Store(id="red-alerts"),
        dcc.Store(id="camera-wall-data"),
        dcc.Store(id="camera-wall-rendered"),
        dcc.Store(id="alarm-count"),
        dcc.Interval(id="live-tick", interval=refresh_ms),
        dcc.Interval(id="kpi-tick", interval=KPI_REFRESH_MS),
        dcc.Interval(id="slow-tick", interval=SLOW_REFRESH_MS),
        dcc.Interval(id="camera-tick", interval=15_000),
        dcc.Interval(id="clock-tick", interval=1_000),
    ])


def not_found(message: str):
    return html.Div(className="sc-root sc-notfound", children=[html.H1(message)])


def denied(lang: str):
    """What a page shows a signed-in user outside its role or town: no data of that page."""
    return html.Div(className="sc-root sc-notfound", id="denied", children=[
        html.H1(t("denied", lang)), html.A(t("home", lang), href="/")])
