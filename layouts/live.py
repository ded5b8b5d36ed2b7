"""The first page: the district's grids and the live open incidents."""
from __future__ import annotations

import dash_leaflet as dl
from dash import dcc, html
from dash_extensions.javascript import Namespace

from dashboard.domain import URGENCY_STYLE
from dashboard.i18n import t

ns = Namespace("griddash", "map")

URGENCY_HIDEOUT = {
    "colors": {k[0]: v["color"] for k, v in URGENCY_STYLE.items()},
    "shapes": {k[0]: v["shape"] for k, v in URGENCY_STYLE.items()},
}


def layout(bounds, refresh_ms: int, lang: str = "zh"):
    (minlon, minlat, maxlon, maxlat) = bounds
    header = html.Div(className="gd-header", children=[
        html.Span(t("title", lang), className="gd-title"),
        html.Span(t("demo_badge", lang), className="gd-badge", title=t("demo_note", lang)),
        html.Span(t("live_map", lang)),
        html.Span(className="gd-spacer"),
        html.Span(className="gd-count", children=[
            t("open_cases", lang), " ",
            html.B("–", id="open-total"), "  ",
            html.Span(className="gd-red", children=["▲ ", html.B("–", id="open-red")]), "  ",
            html.Span(className="gd-yellow", children=["■ ", html.B("–", id="open-yellow")]), "  ",
            html.Span(className="gd-green", children=["● ", html.B("–", id="open-green")]),
        ]),
        html.Span([t("data_as_of", lang), " ", html.Span("–", id="data-as-of")]),
        html.Span(t("stale", lang), id="live-status", className="gd-status stale"),
    ])
    grid_layer = dl.GeoJSON(
        id="grid-layer", url="/api/v1/geo/grids.geojson", style=ns("gridStyle"),
        hideout={**URGENCY_HIDEOUT, "urgency": {}},
    )
    marker_layer = dl.GeoJSON(
        id="incident-layer", data={"type": "FeatureCollection", "features": []},
        cluster=True, zoomToBoundsOnClick=True, superClusterOptions={"radius": 60, "maxZoom": 15},
        pointToLayer=ns("pointToLayer"), clusterToLayer=ns("clusterToLayer"),
        hideout=URGENCY_HIDEOUT,
    )
    the_map = dl.Map(
        id="grid-map", className="gd-map", children=[grid_layer, marker_layer],
        bounds=[[minlat, minlon], [maxlat, maxlon]], zoomSnap=0.25, preferCanvas=False,
        attributionControl=False,
    )
    return html.Div(className="gd-page", children=[
        header, the_map,
        dcc.Interval(id="live-tick", interval=refresh_ms),
        dcc.Store(id="live-version"),
        dcc.Store(id="lang", data=lang),
    ])
