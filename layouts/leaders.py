"""The leaders' view at ``/leaders``: district → town → grid drill-down, filters in the URL,
KPI cards, trend, rankings, the cases, CSV and Excel export. Usable on a phone.

``layout`` is called by the router with the signed-in principal and the URL's query; it
renders the page at once for that query. ``content_for`` renders the part that depends on the
selection; callbacks/leaders.py calls it again when the URL or a filter changes.

Every text that comes from a report (descriptions, reporter names) is a plain string child:
React escapes it, nothing here sets HTML. Element ids in STABLE_IDS are used by the tests.
"""
from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import plotly.graph_objects as go
from dash import dcc, html

from dashboard.core import access
from dashboard.core.domain import URGENCY_STYLE, categories
from dashboard.i18n import DROPDOWN_LABELS
from dashboard.i18n.leaders import tl
from dashboard.queries import leaders
from layouts.components import user_bar

log = logging.getLogger(__name__)

STABLE_IDS = ("leaders-page", "ld-breadcrumb", "ld-filters", "ld-period", "ld-category", "ld-urgency",
              "ld-status", "ld-min", "ld-export-csv", "ld-export-xlsx", "ld-kpis", "ld-trend",
              "ld-ranking", "ld-workers", "ld-cases", "ld-lang")
PAGE = "/leaders"
URGENCY_SYMBOL = {u: s["symbol"] for u, s in URGENCY_STYLE.items()}


def _pct(rate) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def _num(n: int) -> str:
    return f"{n:,}"


def href(f: leaders.Filters, lang: str, **changes) -> str:
    return PAGE + f.query_string(lang, **changes)


# --------------------------------------------------------------------------- the page

def layout(*, principal, lang: str, f: leaders.Filters, shown, geo):
    """The whole page for the filters ``f``; ``shown`` is ``leaders.page_view``'s answer for
    them (the view, or why there is none), asked by the router with the session's principal."""
    return html.Div(id="leaders-page", className="ld-root", lang="en" if lang == "en" else "zh-CN", children=[
        header(principal, lang, f),
        filters_bar(lang, f),
        html.Div(id="ld-content", className="ld-content", children=content_for(principal, shown, lang, geo)),
        dcc.Location(id="ld-url", refresh=False),
        dcc.Store(id="ld-config", data={"lang": lang}),
        dcc.Store(id="ld-shown", data=f.query_string(lang)),
        dcc.Interval(id="ld-tick", interval=60_000),
    ])


def header(principal, lang: str, f: leaders.Filters):
    other = "zh" if lang == "en" else "en"
    return html.Header(className="ld-header", children=[
        html.Span(tl("title", lang), className="ld-title"),
        html.Span(tl("page", lang), className="ld-sub"),
        html.Span(tl("demo_badge", lang), className="sc-badge ld-badge", title=tl("demo_note", lang)),
        html.Span(className="ld-spacer"),
        user_bar(principal, lang),
        html.A(tl("switch_lang", lang), id="ld-lang", className="ld-lang", href=href(f, other)),
    ])


def _options(pairs):
    return [{"label": label, "value": value} for value, label in pairs]


def filters_bar(lang: str, f: leaders.Filters):
    cats = categories()
    labels = DROPDOWN_LABELS["en" if lang == "en" else "zh"]  # Dash's own dropdown texts
    return html.Div(id="ld-filters", className="ld-filters", children=[
        html.Label([html.Span(tl("f_period", lang), className="ld-flabel"), dcc.Dropdown(
            id="ld-period", labels=labels, value=f.period, clearable=False, searchable=False,
            options=_options((p, tl(f"period_{p}", lang)) for p in leaders.PERIODS))]),
        html.Label([html.Span(tl("col_category", lang), className="ld-flabel"), dcc.Dropdown(
            id="ld-category", labels=labels, value=list(f.categories), multi=True, placeholder=tl("f_category", lang),
            options=_options((c, leaders.category_name(c, lang)) for c in cats))]),
        html.Label([html.Span(tl("col_urgency", lang), className="ld-flabel"), dcc.Dropdown(
            id="ld-urgency", labels=labels, value=list(f.urgencies), multi=True, searchable=False,
            placeholder=tl("f_urgency", lang),
            options=_options((u, leaders.urgency_name(u, lang)) for u in leaders.URGENCIES))]),
        html.Label([html.Span(tl("status", lang), className="ld-flabel"), dcc.Dropdown(
            id="ld-status", labels=labels, value=list(f.status), multi=True, searchable=False, placeholder=tl("f_status", lang),
            options=_options((s, leaders.status_token_name(s, lang)) for s in leaders.STATUS_TOKENS))]),
        html.Label(className="ld-min", children=[html.Span(tl("f_min", lang), className="ld-flabel"), dcc.Input(
            id="ld-min", type="number", min=1, max=leaders.MAX_MIN_CASES, step=1, value=f.min_cases,
            debounce=True, className="ld-input")]),
    ])


def control_values(f: leaders.Filters) -> tuple:
    """The filter controls' values for a selection (period, categories, urgencies, status, min)."""
    return f.period, list(f.categories), list(f.urgencies), list(f.status), f.min_cases


# --------------------------------------------------------------------------- the selection

def content_for(principal, shown, lang: str, geo):
    """The selection's part of the page (``shown``: a ``leaders.View``), or why it cannot be
    shown (a ``leaders.Refusal``: 401, 403, 404 or 503)."""
    if isinstance(shown, leaders.View):
        return content(shown, lang, geo, bound=access.town_scope(principal))
    if shown.status == 401:
        return message("denied_title", "sign in", lang, status=401)
    if shown.status == 503:
        return message("unavailable", "", lang, status=503)
    return message("denied_title" if shown.status == 403 else "notfound_title",
                   denial_text(principal, shown, lang, geo), lang, status=shown.status)


def denial_text(principal, refusal, lang: str, geo) -> str:
    """Why, in the page's language (the server's own message stays in the log)."""
    log.info("leaders' view refused for %s: %s", principal.username, refusal.message)
    if refusal.status == 404:
        return tl("notfound_detail", lang)
    bound = access.town_scope(principal)
    if bound is not None and access.may_open(principal, "leaders"):
        return tl("denied_town", lang, town=leaders.town_name(geo, bound, lang))
    return tl("denied_role", lang)


def message(title_key: str, detail: str, lang: str, *, status: int):
    """Instead of the selection: not allowed (403), not found (404) or unavailable (503)."""
    return html.Div(id="ld-denied" if status in (401, 403, 404) else "ld-message", className="ld-message",
                    role="alert", **{"data-status": str(status)}, children=[
        html.H2(tl(title_key, lang)),
        html.P(detail) if detail else None,
        dcc.Link(tl("denied_back", lang), href=PAGE + ("?lang=en" if lang == "en" else "")),
    ])


def content(view: leaders.View, lang: str, geo, *, bound: str | None):
    f = view.filters
    return [
        html.Div(className="ld-bar", children=[
            breadcrumb(f, lang, geo, bound),
            html.Span(className="ld-spacer"),
            html.Span([tl("data_as_of", lang), " ",
                       view.as_of.astimezone(ZoneInfo(view.timezone)).strftime("%m-%d %H:%M")],
                      className="ld-asof", id="ld-asof"),
            html.A(tl("export_csv", lang), id="ld-export-csv", className="ld-btn",
                   href="/leaders/export.csv" + f.query_string(lang),
                   title=tl("export_note", lang, n=f"{leaders.EXPORT_LIMIT:,}")),
            html.A(tl("export_xlsx", lang), id="ld-export-xlsx", className="ld-btn",
                   href="/leaders/export.xlsx" + f.query_string(lang),
                   title=tl("export_note", lang, n=f"{leaders.EXPORT_LIMIT:,}")),
        ]),
        kpi_cards(view, lang),
        html.Div(className="ld-panels" + (" ld-grid-level" if view.ranking is None else ""), children=[
            panel(tl("trend_title", lang) + tl("trend_by_hour" if view.trend_unit == "hour" else "trend_by_day",
                                                 lang), trend_chart(view, lang), "ld-trend-panel"),
            ranking_panel(view, lang, geo),
            panel(tl("workers_title", lang, n=f.min_cases), workers_table(view, lang, geo), "ld-workers-panel"),
            panel(tl("cases_title", lang), cases_table(view, lang, geo), "ld-cases-panel"),
        ]),
    ]


def panel(title: str, body, cls: str = "", hint: str | None = None):
    return html.Section(className=f"ld-panel {cls}", children=[
        html.H3([title, html.Span(hint, className="ld-hint") if hint else None], className="ld-panel-title"),
        body,
    ])


def breadcrumb(f: leaders.Filters, lang: str, geo, bound: str | None):
    """全区 › 镇街 › 网格: each level above the current one is a link (the district only for
    principals that may see it)."""
    levels = [("district", tl("district", lang), {"town": None, "grid": None})]
    if f.town:
        levels.append(("town", leaders.town_name(geo, f.town, lang), {"grid": None}))
    if f.grid:
        levels.append(("grid", leaders.grid_name(geo, f.grid), {}))
    items = []
    for i, (level, name, changes) in enumerate(levels):
        current = i == len(levels) - 1
        if i:
            items.append(html.Span("›", className="ld-crumb-sep", **{"aria-hidden": "true"}))
        if current or (level == "district" and bound is not None):
            items.append(html.Span(name, className="ld-crumb ld-crumb-current" if current else "ld-crumb",
                                   **({"aria-current": "page"} if current else {})))
        else:
            items.append(dcc.Link(name, href=href(f, lang, **changes), className="ld-crumb"))
    return html.Nav(items, id="ld-breadcrumb", className="ld-breadcrumb",
                    **{"aria-label": tl("crumb_label", lang), "data-level": f.level})


# --------------------------------------------------------------------------- KPI cards

def kpi_cards(view: leaders.View, lang: str):
    k = view.kpis
    cr, a1, c5 = k["closure_rate"], k["accepted_within_1d"], k["closed_within_5d"]

    def window_sub(w):
        sub = f"{_num(w['numerator'])}/{_num(w['denominator'])}"
        return sub + (f" · {tl('pending_n', lang, n=_num(w['pending']))}" if w["pending"] else "")

    cards = [
        ("ld-kpi-reported", tl("kpi_reported", lang), _num(k["reports_in_period"]),
         tl(f"period_{view.filters.period}", lang), ""),
        ("ld-kpi-closed", tl("kpi_closed", lang), _num(k["closed"]), "", ""),
        ("ld-kpi-closure-rate", tl("kpi_closure_rate", lang), _pct(cr["rate"]),
         f"{_num(cr['numerator'])}/{_num(cr['denominator'])}", ""),
        ("ld-kpi-accepted-1d", tl("kpi_accepted_1d", lang), _pct(a1["rate"]), window_sub(a1), ""),
        ("ld-kpi-closed-5d", tl("kpi_closed_5d", lang), _pct(c5["rate"]), window_sub(c5), ""),
        ("ld-kpi-overdue", tl("kpi_overdue", lang), _num(k["overdue"]), tl("kpi_overdue_sub", lang),
         "ld-alert" if k["overdue"] else ""),
    ]
    return html.Div(id="ld-kpis", className="ld-kpis", children=[
        html.Div(className=f"ld-kpi {cls}", children=[
            html.Div(label, className="ld-kpi-label"),
            html.Div(value, id=el_id, className="ld-kpi-value"),
            html.Div(sub, className="ld-kpi-sub"),
        ]) for el_id, label, value, sub, cls in cards])


# --------------------------------------------------------------------------- trend

def trend_chart(view: leaders.View, lang: str):
    fmt = "%Y-%m-%d %H:00" if view.trend_unit == "hour" else "%Y-%m-%d"
    x = [b["start"].strftime(fmt) for b in view.trend]
    fig = go.Figure([
        go.Bar(x=x, y=[b["reports"] for b in view.trend], name=tl("trend_reports", lang),
               marker_color="#3d7ab8"),
        go.Scatter(x=x, y=[b["closed"] for b in view.trend], name=tl("trend_closed", lang),
                   mode="lines+markers", line={"color": "#34c759", "width": 2}),
    ])
    fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      margin={"l": 40, "r": 10, "t": 30, "b": 36}, font={"size": 12},
                      legend={"orientation": "h", "y": 1.15, "x": 0}, bargap=0.2, hovermode="x unified",
                      xaxis={"type": "date", "tickformat": "%H:%M" if view.trend_unit == "hour" else "%m-%d"},
                      yaxis={"rangemode": "tozero"})
    return dcc.Graph(id="ld-trend", figure=fig, className="ld-trend",
                     style={"height": "300px", "width": "100%"},
                     config={"displayModeBar": False, "responsive": True})


# --------------------------------------------------------------------------- rankings

def _bar(value: int, top: int):
    width = 0 if not top else 100 * value / top
    return html.Div(className="ld-rbar", children=html.Div(className="ld-rbar-fill",
                                                           style={"width": f"{width:.1f}%"}))


def _th(head):
    """A header cell: text, (text, tooltip), or empty for the bar column."""
    if not head:
        return html.Th(className="ld-bar-cell")
    if isinstance(head, tuple):
        return html.Th(head[0], title=head[1])
    return html.Th(head)


def _table(head: list, rows: list, cls: str = "", el_id: str | None = None):
    return html.Div(className="ld-scroll", children=html.Table(
        className=f"ld-table {cls}", id=el_id, children=[
            html.Thead(html.Tr([_th(h) for h in head])),
            html.Tbody(rows),
        ]))


def ranking_panel(view: leaders.View, lang: str, geo):
    f = view.filters
    if view.ranking is None:  # a grid: nothing below it
        return None
    by_grid = f.town is not None
    top = max((r["reports"] for r in view.ranking), default=0)
    rows = []
    for i, r in enumerate(view.ranking, 1):
        if by_grid:
            name, target = leaders.grid_name(geo, r["code"]), {"grid": r["code"]}
        else:
            name, target = leaders.town_name(geo, r["code"], lang), {"town": r["code"], "grid": None}
        rows.append(html.Tr(**{"data-code": r["code"]}, children=[
            html.Td(str(i), className="ld-num"),
            html.Td(dcc.Link(name, href=href(f, lang, **target), className="ld-drill")),
            html.Td(_bar(r["reports"], top), className="ld-bar-cell"),
            html.Td(_num(r["reports"]), className="ld-num"),
            html.Td(_pct(r["closure_rate"]), className="ld-num"),
            html.Td(_num(r["overdue"]), className="ld-num" + (" ld-alert" if r["overdue"] else "")),
        ]))
    head = ["#", tl("col_name_grid" if by_grid else "col_name_town", lang), "", tl("col_reports", lang),
            tl("col_closure_rate", lang), (tl("col_overdue", lang), tl("col_overdue_title", lang))]
    return panel(tl("rank_grids" if by_grid else "rank_towns", lang), _table(head, rows, "ld-rank", "ld-ranking"),
                 "ld-ranking-panel", hint=tl("rank_hint", lang))


def workers_table(view: leaders.View, lang: str, geo):
    f = view.filters
    if not view.workers:
        return html.Div(tl("workers_none", lang, n=f.min_cases), id="ld-workers", className="ld-empty")
    top = view.workers[0]["reports"]
    rows = []
    for i, w in enumerate(view.workers, 1):
        grid = geo.grids.get(w["grid"])
        target = {"town": grid.town_code, "grid": grid.code} if grid else None
        where = leaders.grid_name(geo, w["grid"])
        rows.append(html.Tr([
            html.Td(str(i), className="ld-num"),
            html.Td(w["reporter"]),  # from the report: plain text
            html.Td(dcc.Link(where, href=href(f, lang, **target), className="ld-drill") if target else where),
            html.Td(_bar(w["reports"], top), className="ld-bar-cell"),
            html.Td(_num(w["reports"]), className="ld-num"),
            html.Td(_pct(w["closure_rate"]), className="ld-num"),
        ]))
    head = ["#", tl("col_worker", lang), tl("col_main_grid", lang), "", tl("col_reports", lang),
            tl("col_closure_rate", lang)]
    return _table(head, rows, "ld-rank", "ld-workers")


# --------------------------------------------------------------------------- the cases

def cases_table(view: leaders.View, lang: str, geo):
    if not view.total:
        return html.Div(tl("cases_none", lang), id="ld-cases", className="ld-empty")
    zone = ZoneInfo(view.timezone)
    rows = [html.Tr(**{"data-id": str(c["id"])}, children=[
        html.Td(str(c["id"])[:8], className="ld-mono", title=str(c["id"])),
        html.Td(c["reported_at"].astimezone(zone).strftime("%m-%d %H:%M"), className="ld-nowrap"),
        html.Td(leaders.town_name(geo, c["town_code"], lang), className="ld-nowrap"),
        html.Td(leaders.grid_name(geo, c["grid_code"])),
        html.Td(leaders.category_name(c["category"], lang)),
        html.Td([URGENCY_SYMBOL.get(c["urgency"], ""), " ", leaders.urgency_name(c["urgency"], lang)],
                className=f"ld-nowrap ld-u-{c['urgency']}"),
        html.Td(leaders.status_name(c["status"], lang), className="ld-nowrap"),
        html.Td(c["reporter"]),                             # plain text
        html.Td(c["description"], className="ld-desc"),     # plain text, escaped by React
    ]) for c in view.cases]
    head = [tl(k, lang) for k in ("col_id", "col_time", "col_town", "col_grid", "col_category", "col_urgency",
                                  "status", "reporter", "col_description")]
    note = (tl("cases_first", lang, shown=_num(len(view.cases)), total=_num(view.total)) if view.truncated
            else tl("cases_all", lang, total=_num(view.total)))
    return html.Div([html.Div(note, id="ld-cases-note", className="ld-note"),
                     _table(head, rows, "ld-case-table", "ld-cases")])
