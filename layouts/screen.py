"""The command-room big screen: urgency map, camera wall, closure KPIs, trend, ranking, ticker.

Sized in viewport units so that one layout fills a 16:9 wall at 1920×1080 and at 3840×2160
with no scrolling. Element ids listed in STABLE_IDS are a public interface (kiosk
customisation, integration tests): keep them.
"""
from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html
from dash_extensions.javascript import Namespace

from dashboard.domain import URGENCY_STYLE
from dashboard.i18n import t
from layouts.common import user_bar

ns = Namespace("griddash", "map")

STABLE_IDS = ("grid-map", "camera-wall", "incident-ticker", "kpi-reports-today", "kpi-accepted-1d",
              "kpi-closed-5d", "kpi-closure-rate", "kpi-overdue", "kpi-open-red", "data-as-of")

URGENCY_HIDEOUT = {
    "colors": {k[0]: v["color"] for k, v in URGENCY_STYLE.items()},
    "shapes": {k[0]: v["shape"] for k, v in URGENCY_STYLE.items()},
}

# (element id, text key, css class): the KPI cards, in reading order.
KPI_CARDS = [
    ("kpi-reports-today", "kpi_reports_today", ""),
    ("kpi-reports-month", "kpi_reports_month", ""),
    ("kpi-reports-year", "kpi_reports_year", ""),
    ("kpi-accepted-1d", "kpi_accepted_1d", ""),
    ("kpi-closed-5d", "kpi_closed_5d", ""),
    ("kpi-closure-rate", "kpi_closure_rate", ""),
    ("kpi-open-red", "kpi_open_red", "sc-red"),
    ("kpi-open-yellow", "kpi_open_yellow", "sc-yellow"),
    ("kpi-open-green", "kpi_open_green", "sc-green"),
    ("kpi-overdue", "kpi_overdue", "sc-alert"),
    ("kpi-mean-accept", "kpi_mean_accept", ""),
    ("kpi-mean-close", "kpi_mean_close", ""),
]


def markers_url(scope: str | None, version: str) -> str:
    """The map's markers are fetched by URL: served from one pre-compressed copy per change
    instead of being serialised into every viewer's callback response."""
    return f"/api/v1/live/markers.geojson?v={version}" + (f"&town={scope}" if scope else "")


def kpi_card(el_id: str, label: str, cls: str):
    return html.Div(className=f"sc-kpi {cls}", children=[
        html.Div(label, className="sc-kpi-label"),
        html.Div("–", id=el_id, className="sc-kpi-value"),
        html.Div("", id=f"{el_id}-sub", className="sc-kpi-sub"),
    ])


def legend(lang: str):
    items = [("r", "▲", "legend_red"), ("y", "■", "legend_yellow"), ("g", "●", "legend_green")]
    return html.Div(className="sc-legend", children=[
        *[html.Span([html.Span(sym, className=f"sc-sym sc-sym-{k}"), t(key, lang)]) for k, sym, key in items],
        html.Span(t("legend_grid", lang), className="sc-legend-note"),
    ])


def screen_layout(*, scope: str | None, scope_name: str, bounds, lang: str, wall: int,
                  tile_url: str | None, tile_attribution: str, town_labels: dict,
                  refresh_ms: int, period: str, tz: str, principal=None):
    (minlon, minlat, maxlon, maxlat) = bounds
    other = "zh" if lang == "en" else "en"
    header = html.Div(className="sc-header", children=[
        html.Div(className="sc-title", children=[
            html.Span(t("title", lang)),
            html.Span(f" · {scope_name}", className="sc-scope"),
        ]),
        html.Span(t("demo_badge", lang), className="sc-badge", title=t("demo_note", lang)),
        html.Span(className="sc-spacer"),
        html.Span(id="sc-clock", className="sc-clock"),
        html.Span(className="sc-asof", children=[t("data_as_of", lang), " ", html.Span("–", id="data-as-of")]),
        html.Span(t("stale", lang), id="live-status", className="sc-status stale",
                  **{"data-live": t("live", lang), "data-stale": t("stale", lang)}),
        html.A(t("switch_lang", lang), href=f"?lang={other}&wall={wall}&period={period}", className="sc-lang",
               id="lang-switch"),
        user_bar(principal, lang),
    ])
    layers = []
    if tile_url:
        layers.append(dl.TileLayer(url=tile_url, attribution=tile_attribution, maxZoom=18))
    layers += [
        dl.GeoJSON(id="grid-layer", url="/api/v1/geo/grids.geojson", style=ns("gridStyle"),
                   hideout={**URGENCY_HIDEOUT, "urgency": {}}),
        dl.GeoJSON(id="town-layer", url="/api/v1/geo/towns.geojson", style=ns("townStyle"),
                   interactive=False),
        dl.GeoJSON(id="town-labels", data=town_labels, pointToLayer=ns("labelToLayer"), interactive=False),
        dl.GeoJSON(id="incident-layer", url=markers_url(scope, "0"),
                   cluster=True, zoomToBoundsOnClick=True,
                   superClusterOptions={"radius": 80, "maxZoom": 14},
                   pointToLayer=ns("pointToLayer"), clusterToLayer=ns("clusterToLayer"),
                   hideout=URGENCY_HIDEOUT),
    ]
    the_map = dl.Map(id="grid-map", className="sc-map", children=layers,
                     bounds=[[minlat, minlon], [maxlat, maxlon]], zoomSnap=0.25,
                     attributionControl=bool(tile_url), zoomControl=False, trackViewport=False)
    detail = html.Div(id="detail-panel", className="sc-detail hidden", children=[
        html.Button("×", id="detail-close", className="sc-detail-close", title=t("close", lang)),
        html.Div(id="detail-body"),
    ])
    left = html.Div(className="sc-col sc-left", children=[
        html.Div(className="sc-kpis", children=[kpi_card(i, t(k, lang), c) for i, k, c in KPI_CARDS]),
        html.Div(className="sc-panel sc-levels-panel", children=[
            html.Div([t("levels_title", lang), html.Span(id="kpi-period", className="sc-period")],
                     className="sc-panel-title"),
            html.Div(id="kpi-levels", className="sc-levels"),
        ]),
        html.Div(className="sc-panel sc-ranking-panel", children=[
            html.Div(t("ranking_title", lang), className="sc-panel-title"),
            html.Div(id="town-ranking", className="sc-ranking"),
        ]),
    ])
    center = html.Div(className="sc-col sc-center", children=[
        html.Div(className="sc-map-wrap", children=[the_map, legend(lang), detail]),
        html.Div(className="sc-panel sc-ticker-panel", children=[
            html.Div(t("ticker_title", lang), className="sc-panel-title"),
            html.Div(id="incident-ticker", className="sc-ticker"),
        ]),
    ])
    right = html.Div(className="sc-col sc-right", children=[
        html.Div(className="sc-panel sc-wall-panel", children=[
            html.Div([t("cameras_title", lang), html.Span(id="camera-mode", className="sc-cam-mode")],
                     className="sc-panel-title"),
            html.Div(id="camera-wall", className=f"sc-wall sc-wall-{wall}"),
        ]),
        html.Div(className="sc-panel sc-trend-panel", children=[
            html.Div(t("trend_title", lang), className="sc-panel-title"),
            dcc.Graph(id="trend-chart", className="sc-trend", config={"displayModeBar": False,
                                                                     "staticPlot": True},
                      style={"height": "100%", "width": "100%"}),
        ]),
    ])
    return html.Div(className="sc-root", children=[
        header,
        html.Div(className="sc-body", children=[left, center, right]),
        dcc.Store(id="screen-config", data={"scope": scope, "lang": lang, "wall": wall, "period": period,
                                            "tz": tz}),
        dcc.Store(id="live-version"),
        dcc.Store(id="viewport"),
        dcc.Store(id="live-ok"),
        dcc.Store(id="kpi-hash"),
        dcc.Store(id="follow"),
        dcc.Interval(id="live-tick", interval=refresh_ms),
        dcc.Interval(id="kpi-tick", interval=5_000),
        dcc.Interval(id="slow-tick", interval=60_000),
        dcc.Interval(id="camera-tick", interval=15_000),
        dcc.Interval(id="clock-tick", interval=1_000),
    ])


def not_found(message: str):
    return html.Div(className="sc-root sc-notfound", children=[html.H1(message)])


def denied(lang: str):
    """What a page shows a signed-in user outside its role or town: no data of that page."""
    return html.Div(className="sc-root sc-notfound", id="denied", children=[
        html.H1(t("denied", lang)), html.A(t("home", lang), href="/")])
